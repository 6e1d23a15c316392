"""The continuity ledger, checked on the whole plan: every keyframe prompt wears what its scene's ledger says.

Each scene of a script has a ledger (`Scene.continuity`): what every character present wears, their visible
marks, the props in play. The writers carry it into the keyframe prompts of the scene, and the image model
draws what the prompt says, so a prompt that leaves the outfit out or dresses someone differently is a
change of clothes in the middle of a scene. Before any picture is drawn, the check-plan task refuses a plan
whose prompts do either, whichever writer wrote it:

* **missing**: the prompt must carry the outfit (and marks) of each character in the frame: every colour
  word of it and at least half of its other distinctive words. This is the Claude writer's own cross-check
  (`filmstitch.writers.claude.checks.ledger_problems`, which its repair turns enforce), applied here to any
  writer's plan;
* **contradicting**: where the prompt says what someone wears ("Ada wears ...", "..., wearing ..."), the
  colours it names must come from the scene's ledger or the character's description. "Ada wears a blue
  raincoat" in a scene where the ledger has "a patched navy coat and a crimson scarf" is refused even when
  the ledger's words are in the prompt as well.

Which scene dresses a character at a boundary keyframe: the scene of the segment the keyframe opens, unless
the character is only in the segment it closes (`filmstitch.writers.claude.writer.dress_at`).

What the pictures then look like is measured where a renderer can: the GPU renderers score each keyframe
variant against the chosen references with an image model (`filmstitch.renderers.qc`), and `--auto` draws a
boundary again when every variant misses. References show a character's description, so that score sees a
drawn outfit that strays from the reference, not a ledger's change of clothes between scenes; the
animatic's colour measure is shown at the checkpoint, not acted on.
"""

from __future__ import annotations

import re

from filmstitch.models import Character, FilmPlan, Keyframe, Scene
from filmstitch.writers.claude.checks import COLOURS, ledger_problems, words_of
from filmstitch.writers.claude.writer import dress_at

#: Words that say what someone wears; what follows them, up to the end of the sentence or the next name, is
#: the outfit the prompt gives that character.
WEAR = re.compile(r"\b(?:wears|wearing|wore|dressed in|clad in|has on|puts on|changed into|changes into)\b",
                  re.IGNORECASE)
#: Sentence ends and brackets: an outfit never runs past them.
SENTENCE_END = re.compile(r"[.;!?()\[\]\n]")
#: Problems shown in the one-line refusal (the rest are counted).
SHOWN = 3


class ContinuityError(ValueError):
    """The plan's keyframe prompts break its continuity ledger (a permanent error: the same plan fails again)."""


def plan_continuity_problems(plan: FilmPlan) -> list[str]:
    """Every keyframe prompt that misses or contradicts the wardrobe and marks of its scene's ledger, as
    'keyframes.K.prompt: what' lines. A script without scenes has no ledger: no problems."""
    characters = {c.name: c for c in plan.characters}
    problems: list[str] = []
    for keyframe in plan.keyframes:
        dress = dress_at(plan.script, keyframe.index)
        problems += ledger_problems(keyframe, dress)
        problems += contradiction_problems(keyframe, dress, characters)
    return problems


def check_continuity(plan: FilmPlan) -> None:
    """Raise ContinuityError, in one line naming the first problems, when the prompts break the ledger."""
    problems = plan_continuity_problems(plan)
    if not problems:
        return
    shown = "; ".join(problems[:SHOWN])
    more = f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
    raise ContinuityError(
        f"the plan by {plan.writer} breaks its continuity ledger in {len(problems)} place"
        f"{'s' if len(problems) != 1 else ''}: {shown}{more}. Every keyframe prompt must dress its characters "
        "as their scene's ledger says"
    )


def contradiction_problems(keyframe: Keyframe, dress: dict[str, Scene], characters: dict[str, Character]) -> list[str]:
    """Outfits the prompt gives a character (after a wear word) with a colour that is in neither the scene's
    ledger entry (outfit and marks) nor the character's description."""
    problems = []
    for name, outfit in worn_in(keyframe.prompt, keyframe.characters):
        scene = dress.get(name)
        ledger = scene.continuity.wardrobe.get(name) if scene else None
        if scene is None or not ledger:
            continue
        allowed = set(words_of(" ".join(filter(None, [
            ledger, scene.continuity.injuries.get(name),
            characters[name].description if name in characters else None]))))
        strays = [w for w in dict.fromkeys(words_of(outfit)) if w in COLOURS and w not in allowed]
        if strays:
            problems.append(
                f"keyframes.{keyframe.index}.prompt: dresses {name!r} in {outfit.strip()!r}, but in scene "
                f"{scene.index} the continuity ledger has {ledger!r} ({', '.join(strays)} is in neither that "
                "nor their description)"
            )
    return problems


def worn_in(prompt: str, names: list[str]) -> list[tuple[str, str]]:
    """(character, outfit text) for every wear word in the prompt, given to the nearest character named
    before it in the same sentence; the outfit runs to the sentence's end or the next character's name."""
    mentions = sorted((m.start(), m.end(), name) for name in names
                      for m in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", prompt, re.IGNORECASE))
    ends = [m.start() for m in SENTENCE_END.finditer(prompt)] + [len(prompt)]
    found = []
    for wear in WEAR.finditer(prompt):
        sentence_start = max([e for e in ends if e < wear.start()], default=-1)
        owners = [name for start, _, name in mentions if sentence_start < start < wear.start()]
        if not owners:
            continue
        stop = min([e for e in ends if e >= wear.end()] +
                   [start for start, _, _ in mentions if start >= wear.end()])
        found.append((owners[-1], prompt[wear.end():stop]))
    return found
