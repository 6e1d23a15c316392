"""Re-staging a keyframe from an edit instruction: what the animatic can do with "make her coat red".

The animatic draws from the plan's structured staging, so it edits a keyframe by changing that staging
and drawing the keyframe again (the clips that touch it then move to and from the new staging). It
understands, clause by clause ("make her coat red and move Lena to the left"):

    colours     "make her coat red", "Lena's trousers dark blue", "paint Tom's hair silver"
    positions   "move Lena to the left", "put Tom in the middle", "Lena stands on the far right"
    poses       "make Lena kneel", "Tom sits", "have her wave"
    facing      "Lena faces left", "turn Tom to the camera"
    props       "give Lena a lantern", "Tom holds the map"
    the shot    "a close-up", "wider", "zoom in"
    the light   "brighter", "darker"
    the camera  "pan left", "pan the camera right"

Anything else (adding or removing things in the scenery, changing a face, "remove the second moon") it
cannot draw: those clauses come back in `not_done`, and the caller says so plainly. A pronoun ("her coat")
means the one character in the frame; with several, the instruction must name who.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from PIL import ImageColor

from filmstitch.models import Keyframe, Placement, Pose, Staging
from filmstitch.writers.offline.data_files import poses

#: Clauses are split at commas, semicolons, full stops, "and" and "then".
CLAUSE = re.compile(r"\s*(?:[,;.]|\band then\b|\bthen\b|\band\b)\s*", re.IGNORECASE)
GARMENTS = {
    "outfit": {"coat", "jacket", "dress", "shirt", "suit", "clothes", "clothing", "outfit", "cloak", "robe",
               "jumper", "sweater", "top", "hoodie", "uniform", "fur", "feathers", "body", "shell", "tunic",
               "cape", "overalls", "spacesuit", "gown", "vest", "apron"},
    "legs": {"trousers", "pants", "jeans", "skirt", "legs", "boots", "shoes", "shorts", "leggings"},
    "hair": {"hair"},
}
#: Where "left", "the middle"... put a character across the frame (Placement.x).
PLACES = {"far left": 0.1, "left": 0.25, "centre": 0.5, "center": 0.5, "middle": 0.5, "right": 0.75,
          "far right": 0.9}
#: The words of each pose, from the writer's own vocabulary (what its prompts say is what an edit may say).
POSE_WORDS: dict[str, Pose] = {word: pose for pose, words in poses().items() for word in words["words"]}
POSE_PHRASES: dict[Pose, str] = {pose: words["says"] for pose, words in poses().items()}
FACING_WORDS = {"left": "left", "right": "right", "camera": "camera", "us": "camera", "viewer": "camera",
                "front": "camera"}
PRONOUNS = {"she", "her", "he", "him", "his", "they", "them", "their", "it", "its"}
ARTICLES = {"a", "an", "the", "some", "his", "her", "their", "its"}


@dataclass
class Restaged:
    """What an instruction did to a keyframe: the keyframe re-staged, what changed, and what could not be."""

    keyframe: Keyframe
    done: list[str] = field(default_factory=list)
    not_done: list[str] = field(default_factory=list)


class _Staging:
    """A keyframe's staging being changed clause by clause."""

    def __init__(self, keyframe: Keyframe, cast: list[str]) -> None:
        self.keyframe = keyframe
        self.cast = cast
        self.last_named: str | None = None  # "move Bolt left and make him kneel": "him" is Bolt
        self.shot = keyframe.staging.shot
        self.camera_x = keyframe.staging.camera_x
        self.light = keyframe.staging.light
        self.placements = {p.character: p.model_dump() for p in keyframe.staging.placements}

    def result(self) -> Keyframe:
        staging = Staging(shot=self.shot, camera_x=round(self.camera_x, 3), light=round(self.light, 3),
                          placements=[Placement(**p) for p in self.placements.values()])
        return self.keyframe.model_copy(update={"staging": staging})


def restage(keyframe: Keyframe, instruction: str, cast: list[str] | None = None) -> Restaged:
    """`keyframe` re-staged as far as `instruction` asks for things the animatic draws (module docstring).
    `cast` names every character of the film, so that one who is not in this keyframe is said to be absent."""
    staging = _Staging(keyframe, cast or [])
    done: list[str] = []
    not_done: list[str] = []
    for clause in (c.strip() for c in CLAUSE.split(instruction)):
        if not clause:
            continue
        outcome = _apply(staging, clause)
        if outcome is None:
            not_done.append(clause)
        elif outcome.startswith("!"):  # understood, but cannot be done as said (e.g. who "her" is)
            not_done.append(f"{clause} ({outcome[1:]})")
        else:
            done.append(outcome)
    return Restaged(keyframe=staging.result(), done=done, not_done=not_done)


def _apply(staging: _Staging, clause: str) -> str | None:
    """Apply one clause; returns what changed in words, '!why' when it cannot, None when not understood."""
    words = clause.lower()
    for rule in (_colour, _facing, _pose, _move, _prop, _shot, _light, _pan):
        outcome = rule(staging, clause, words)
        if outcome is not None:
            return outcome
    return None


# --------------------------------------------------------------------------- who


def _who(staging: _Staging, words: str) -> tuple[str | None, str | None]:
    """(character name, None) for the character a clause is about, or (None, why not)."""
    names = list(staging.placements)
    found = [name for name in names if _named(name, words)]
    absent = [name for name in staging.cast if name not in names and _named(name, words)]
    if absent and not found:
        return None, f"{' and '.join(absent)} {'is' if len(absent) == 1 else 'are'} not in this keyframe"
    if len(found) == 1:
        staging.last_named = found[0]
        return found[0], None
    if len(found) > 1:
        return None, f"it names {' and '.join(found)}: one character per clause"
    if not names:
        return None, "nobody is in this keyframe"
    if len(names) == 1:  # "her coat", or no one named: the one character in the frame
        return names[0], None
    if staging.last_named is not None and set(re.findall(r"[a-z]+", words)) & PRONOUNS:
        return staging.last_named, None  # the character the instruction named last
    return None, f"say who: {' or '.join(names)}"


def _named(name: str, words: str) -> bool:
    """Whether a clause names the character, by full name or first name."""
    return any(re.search(rf"\b{re.escape(form.lower())}\b", words) for form in (name, name.split()[0]))


# --------------------------------------------------------------------------- the rules


def _colour_in(words: str) -> tuple[str, str] | None:
    """(colour as written, #rrggbb) of the first colour named ("dark blue" and "navy" both count)."""
    tokens = re.findall(r"[a-z]+", words)
    for i in range(len(tokens)):
        for size in (2, 1):
            name = "".join(tokens[i:i + size])
            if size == 2 and i + 1 >= len(tokens):
                continue
            try:
                r, g, b = ImageColor.getrgb(name)[:3]
            except ValueError:
                continue
            return " ".join(tokens[i:i + size]), f"#{r:02x}{g:02x}{b:02x}"
    return None


def _colour(staging: _Staging, clause: str, words: str) -> str | None:
    tokens = set(re.findall(r"[a-z]+", words))
    part = next((part for part, garments in GARMENTS.items() if tokens & garments), None)
    colour = _colour_in(words)
    if part is None or colour is None:
        return None
    name, why = _who(staging, words)
    if name is None:
        return f"!{why}"
    staging.placements[name]["colours"] = {**staging.placements[name].get("colours", {}), part: colour[1]}
    what = {"outfit": "clothes", "legs": "legs", "hair": "hair"}[part]
    return f"{name}'s {what} are {colour[0]}" if part != "hair" else f"{name}'s hair is {colour[0]}"


def _facing(staging: _Staging, clause: str, words: str) -> str | None:
    match = re.search(r"\b(?:faces?|facing|turns?|looks?|looking)\b(?:\s+(?:to(?:wards)?|at|into))?"
                      r"(?:\s+the)?\s+(left|right|camera|us|viewer|front)\b", words)
    if not match:
        return None
    name, why = _who(staging, words)
    if name is None:
        return f"!{why}"
    staging.placements[name]["facing"] = FACING_WORDS[match[1]]
    return f"{name} faces {'the camera' if FACING_WORDS[match[1]] == 'camera' else match[1]}"


def _pose(staging: _Staging, clause: str, words: str) -> str | None:
    found = None
    for phrase, pose in sorted(POSE_WORDS.items(), key=lambda item: -len(item[0])):
        if re.search(rf"\b{phrase}\b", words):
            found = pose
            break
    if found is None or re.search(r"\b(?:to|on|at) the (?:far )?(?:left|right|middle|centre|center)\b", words):
        return None  # "stands on the left" is a position
    name, why = _who(staging, words)
    if name is None:
        return f"!{why}"
    staging.placements[name]["pose"] = found
    return f"{name} {POSE_PHRASES[found]}"


def _move(staging: _Staging, clause: str, words: str) -> str | None:
    match = re.search(r"\b(?:to|on|at|in)\s+the\s+(far left|far right|left|right|centre|center|middle)\b", words)
    if not match or not re.search(r"\b(?:move|moves|put|place|step|steps|stand|stands|go|goes|walk|walks|be|is)\b",
                                  words):
        return None
    name, why = _who(staging, words)
    if name is None:
        return f"!{why}"
    staging.placements[name]["x"] = PLACES[match[1]]
    return f"{name} moves {match[0]}"


def _prop(staging: _Staging, clause: str, words: str) -> str | None:
    match = re.search(r"\b(?:give|hand)\s+(?P<who>.+?)\s+(?P<what>(?:a|an|the|some)\s+.+)$", words) or \
        re.search(r"\b(?:holds?|holding|carries|carry|carrying)\s+(?P<what>.+)$", words)
    if not match:
        return None
    name, why = _who(staging, words)
    if name is None:
        return f"!{why}"
    what = [w for w in re.findall(r"[a-z]+", match["what"]) if w not in ARTICLES][:3]
    if not what:
        return None
    prop = " ".join(what)
    staging.placements[name]["prop"] = prop
    return f"{name} holds a {prop}"


def _shot(staging: _Staging, clause: str, words: str) -> str | None:
    if re.search(r"\b(?:close[- ]?up|closer|zoom(?:ed)? in|push(?:ed)? in|close shot)\b", words):
        staging.shot = "close"
    elif re.search(r"\b(?:wide shot|wider|zoom(?:ed)? out|pull(?:ed)? back|further away|long shot)\b", words):
        staging.shot = "wide"
    elif re.search(r"\b(?:medium|mid)[- ]shot\b", words):
        staging.shot = "medium"
    else:
        return None
    return f"a {staging.shot} shot"


def _light(staging: _Staging, clause: str, words: str) -> str | None:
    if re.search(r"\b(?:brighter|lighter|more light|brighten)\b", words):
        staging.light = min(1.3, staging.light * 1.25)
        return "brighter light"
    if re.search(r"\b(?:darker|dimmer|less light|darken|dim)\b", words):
        staging.light = max(0.2, staging.light * 0.7)
        return "darker light"
    return None


def _pan(staging: _Staging, clause: str, words: str) -> str | None:
    match = re.search(r"\bpan(?:s|ned)?\b(?:\s+the\s+camera)?(?:\s+to\s+the)?\s+(left|right)\b", words)
    if not match:
        return None
    step = -0.25 if match[1] == "left" else 0.25
    staging.camera_x = min(1.0, max(0.0, staging.camera_x + step))
    return f"the camera pans {match[1]}"


#: What the animatic can re-stage, for messages.
CAN_DO = ("colours of clothes and hair, positions (left, middle, right), poses, facing, props held, the shot "
          "(close-up, wider) and the light")
