"""A stand-in for the model behind the fake Messages API: it reads a writer request and answers it.

Like the model, it only knows what the request says: the film idea, the outline or script, the cast
and locations (the data blocks), and what to write (``<task_json>``: which segments, which
keyframes). Its answers are valid by construction and deterministic (seeded by the idea), so a test
can ask for a film of any length, then spoil one answer on purpose (see ``FakeAnthropic.reply_authored``)
and watch the writer's cross-checks send it back.

The films are plain but complete: scenes at several locations when there are enough of them, a
companion who joins and a stranger who comes and goes in long films, a change of clothes and an
injury in the second half (so the continuity ledger has something to carry), motion text in the
video model's style, beats with props, voice casting and keyframe prompts that repeat every look.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import re
from typing import Any

TAGS = ("film_idea", "outline_json", "script_json", "characters_json", "environments_json", "task_json",
        "context_json")

PLACES = [
    # (id, name, set, ambience, props)
    ("crater_rim", "the crater rim", "moon", ["space", "wind"], ["oxygen gauge", "seed pouch"]),
    ("old_station", "the old research station", "interior", ["room", "machine"], ["radio handset", "lantern"]),
    ("glass_dome", "the glass greenhouse dome", "interior", ["room", "insects"], ["watering can", "seed pouch"]),
]
CAST = [
    # (name, kind, species, build, base outfit, hair and face, voice)
    ("Ada", "person", None, "average", "a white pressure suit with orange shoulder stripes and grey boots",
     "short black curls, a round freckled face", ("adult", "warm and low", "Scottish", "calm, wry")),
    ("Bolt", "robot", "maintenance robot", "small", "a boxy steel body with teal panel lights",
     "round glass lens eyes", ("young", "bright, buzzing", "neutral", "eager, quick")),
    ("Orrin", "animal", "red fox", "small", "rust fur with a white-tipped tail and a mustard bandana",
     "amber eyes and a narrow snout", ("elder", "soft and rasping", "neutral", "slow, sly")),
]
LATE_OUTFIT = "a patched navy coat over the suit and a crimson scarf"
LATE_MARKS = "a bandaged left hand"
TIMES = ["day", "dusk", "night", "dawn"]
GESTURES = ["point", "reach", "look_around", "nod", "turn", "pick_up"]


def blocks(body: dict[str, Any]) -> dict[str, Any]:
    """The data blocks of a request's first user turn: JSON blocks parsed, the idea unescaped."""
    content = body["messages"][0]["content"]
    text = content if isinstance(content, str) else "\n".join(b.get("text", "") for b in content)
    found: dict[str, Any] = {}
    for tag in TAGS:
        match = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.DOTALL)
        if match:
            found[tag] = html.unescape(match.group(1)) if tag == "film_idea" else json.loads(match.group(1))
    return found


def ledger(scene: dict[str, Any]) -> dict[str, Any]:
    """A scene's ledger as mappings, whether it comes as the outline answer (lists) or the domain (dicts)."""
    continuity = scene["continuity"]
    wardrobe, injuries = continuity["wardrobe"], continuity["injuries"]
    if isinstance(wardrobe, list):
        wardrobe = {w["character"]: w["outfit"] for w in wardrobe}
        injuries = {m["character"]: m["marks"] for m in injuries}
    return {"wardrobe": wardrobe, "props": continuity["props"], "injuries": injuries}


def words(text: str) -> int:
    return len(re.findall(r"[\w'-]+", text))


class FilmAuthor:
    """Answers the writer's five kinds of question for any idea and any number of segments."""

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        data = blocks(body)
        task = data["task_json"]
        kind = task["write"]
        if kind == "outline":
            return self.outline(data["film_idea"], task)
        if kind == "segments":
            return self.segments(data["outline_json"], task)
        if kind == "characters":
            return self.characters(data["script_json"], task)
        if kind == "environments":
            return self.environments(data["script_json"], task)
        if kind == "keyframes":
            return self.keyframes(data["script_json"], data["characters_json"], data["environments_json"], task)
        raise ValueError(f"the author cannot write {kind!r}")

    # The outline ---------------------------------------------------------------------------------

    def outline(self, idea: str, task: dict[str, Any]) -> dict[str, Any]:
        rng = random.Random(hashlib.sha256(idea.encode()).digest())
        total = task["segments"]
        n_scenes = max(1, round(total / 5))
        counts = [total // n_scenes + (1 if i < total % n_scenes else 0) for i in range(n_scenes)]
        n_acts = 1 if n_scenes < 3 else 3
        places = PLACES[: min(len(PLACES), max(1, n_scenes))]
        first_place = rng.randrange(len(places))
        scenes = []
        for i, count in enumerate(counts):
            present = ["Ada"] + (["Bolt"] if i >= 1 or n_scenes == 1 and total > 1 else [])
            if n_scenes >= 6 and n_scenes // 3 <= i < 2 * n_scenes // 3:
                present.append("Orrin")  # enters in the second act, leaves in the third
            late = n_scenes >= 4 and i >= n_scenes // 2
            place = places[(first_place + i) % len(places)]
            wardrobe = [{"character": name, "outfit": self.outfit(name, late)} for name in present]
            scenes.append({
                "index": i, "act": i * n_acts // n_scenes, "title": f"Scene {i + 1}: {place[1]}",
                "location": place[0], "time_of_day": TIMES[i % len(TIMES)], "present": present,
                "goal": f"Ada gets one step closer to what the idea promises ({i + 1} of {n_scenes})",
                "continuity": {
                    "wardrobe": wardrobe, "props": list(place[4]),
                    "injuries": [{"character": "Ada", "marks": LATE_MARKS}] if late else [],
                },
                "segments": count,
            })
        return {
            "title": f"The {idea.split()[-1].strip('.').capitalize()} at the End of the Road",
            "logline": f"From the idea: {idea[:200]}",
            "language": "en",
            "acts": [{"index": a, "title": f"Act {a + 1}", "summary": f"Part {a + 1} of the story."}
                     for a in range(n_acts)],
            "scenes": scenes,
        }

    @staticmethod
    def outfit(name: str, late: bool) -> str:
        base = next(c[4] for c in CAST if c[0] == name)
        return LATE_OUTFIT if late and name == "Ada" else base

    # Segments ------------------------------------------------------------------------------------

    def segments(self, outline: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
        limit = task["spoken_words_max"]
        out = []
        for item in task["segments"]:
            scene = outline["scenes"][item["scene"]]
            index, present = item["index"], scene["present"]
            props = ledger(scene)["props"]
            looks = ledger(scene)["wardrobe"]
            narration = " ".join(f"Step {index + 1}: the journey goes on quietly here.".split()[: limit - 5])
            dialogue = []
            if index % 3 == 1 and len(present) > 1 and words(narration) + 3 <= limit:
                dialogue = [{"speaker": present[1], "line": "Over there, look.", "delivery": "hushed, excited"}]
            seen = " and ".join(f"a figure in {looks[name]}" if name == "Ada" else f"{looks[name]}" for name in present)
            out.append({
                "index": index, "title": f"Beat {index + 1}",
                "narration": narration,
                "action": f"{' and '.join(present)} cross {scene['title'].split(': ')[1]} toward the light.",
                "dialogue": dialogue, "characters": present, "setting": scene["title"].split(": ")[1],
                "location": scene["location"], "scene": scene["index"],
                "motion": f"{seen} move slowly across the frame from left to right, dust drifting in low light; "
                          f"the camera tracks them in a medium shot, then pans right.",
                "beats": [{"character": name, "gesture": GESTURES[(index + j) % len(GESTURES)],
                           "at": round(0.2 + 0.5 * j / max(1, len(present)), 2),
                           "prop": props[(index + j) % len(props)] if j == 0 else None}
                          for j, name in enumerate(present)],
            })
        return {"segments": out}

    # Characters and locations ---------------------------------------------------------------------

    def characters(self, script: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
        out = []
        for name in task["names"]:
            _, kind, species, build, outfit, looks, voice = next(c for c in CAST if c[0] == name)
            description = (f"{name}: {looks}, {build} build, wearing {outfit}. Compact and weathered, moving with "
                           f"care; {outfit.split(' with ')[0]} catches the light in every frame.")
            out.append({
                "name": name, "role": "protagonist" if name == "Ada" else "companion", "kind": kind,
                "species": species, "description": description,
                "appearance": f"{looks}, {outfit}"[:300],
                "palette": ["#eef0f2", "#f08a24"], "build": build,
                "voice": dict(zip(("age", "timbre", "accent", "manner"), voice)),
            })
        return {"characters": out}

    def environments(self, script: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
        out = []
        for item in task["locations"]:
            place = next(p for p in PLACES if p[0] == item["id"])
            props = list(dict.fromkeys([*item["props_used"], *place[4]]))[:8]
            out.append({
                "id": place[0], "name": place[1],
                "description": f"{place[1].capitalize()}: a wide, quiet place of grey dust, old metal and glass "
                               "under a black sky, with long shadows and the blue Earth low on the horizon.",
                "lighting": "harsh low sun from the left, cold blue fill", "materials": "dust, steel, glass",
                "atmosphere": "still and lonely, slowly warming", "palette": ["#05070d", "#2b3a55", "#8c8f96"],
                "set": place[2], "time_of_day": "day", "props": props, "ambience": place[3],
                "sound": "a low wind over dust, the tick of cooling metal",
            })
        return {"environments": out}

    # Keyframes -----------------------------------------------------------------------------------

    def keyframes(self, script: dict[str, Any], characters: list[dict[str, Any]],
                  environments: list[dict[str, Any]], task: dict[str, Any]) -> dict[str, Any]:
        by_name = {c["name"]: c for c in characters}
        places = {e["id"]: e for e in environments}
        out = []
        for b in task["boundaries"]:
            cast = b["allowed_characters"][:6]
            place = places[b["locations"][-1]]
            dressed = "; ".join(
                f"{name}, {by_name[name]['description']} Here wearing {b['dress'][name]['outfit']}"
                + (f", with {b['dress'][name]['marks']}" if b["dress"][name].get("marks") else "")
                for name in cast
            )
            n = len(cast)
            out.append({
                "index": b["keyframe"],
                "prompt": f"Cinematic film still, medium shot at {place['name']}. {dressed}. "
                          f"Lighting: {place['lighting']}. Mood: {place['atmosphere']}.",
                "clip_summary": f"medium shot, {' and '.join(cast) or 'nobody'} at {place['name']}",
                "characters": cast,
                "location": place["id"] if b["place_changes"] else None,
                "staging": {"shot": "medium", "camera_x": round(min(1.0, 0.1 + 0.01 * b["keyframe"]), 3),
                            "light": 1.0,
                            "placements": [{"character": name, "x": round((j + 1) / (n + 1), 3), "pose": "stand",
                                            "facing": "camera"} for j, name in enumerate(cast)]},
            })
        return {"keyframes": out}


def film_answers(idea: str, segments: int, seconds: float = 8.0) -> dict[str, Any]:
    """The five answers of a film that fits one chunk, in order, as plain payloads (for queued replies)."""
    from filmstitch.models import FilmRequest, Script, Segment
    from filmstitch.writers.claude import answers, checks
    from filmstitch.writers.claude.writer import boundary

    author = FilmAuthor()
    request = FilmRequest(idea=idea, segments=segments, seconds_per_segment=seconds)
    outline = author.outline(idea, {"segments": segments})
    scene_of = [s["index"] for s in outline["scenes"] for _ in range(s["segments"])]
    segs = author.segments(outline, {"segments": [{"index": i, "scene": s} for i, s in enumerate(scene_of)],
                                     "spoken_words_max": checks.speech_limit(request)})
    script = Script(
        title=outline["title"], logline=outline["logline"], language=outline["language"], acts=outline["acts"],
        scenes=[answers.SceneAnswer.model_validate(s).to_domain() for s in outline["scenes"]],
        segments=[Segment.model_validate(s) for s in segs["segments"]],
    )
    script_json = script.model_dump(mode="json")
    characters = author.characters(script_json, {"names": script.character_names})
    props = checks.beat_props_by_location(script)
    environments = author.environments(script_json, {"locations": [
        {"id": place, "props_used": props.get(place, [])} for place in script.locations]})
    keyframes = author.keyframes(script_json, characters["characters"], environments["environments"],
                                 {"boundaries": [boundary(script, k) for k in range(segments + 1)]})
    return {"outline": outline, "segments": segs, "characters": characters, "environments": environments,
            "keyframes": keyframes}
