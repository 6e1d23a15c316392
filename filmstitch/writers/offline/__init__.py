"""The offline writer: a deterministic story engine, not a language model.

It lets the whole pipeline run with no API key and no network, and it tells the idea's story:

    reading.py    who acts, where, doing what, how many (names kept exactly, several languages)
    casting.py    one character per actor (a member each for a group: "two robots"): kind, species,
                  camera-ready look, palette, what a trade holds, voice casting
    world.py      one location per place the story visits: set, light, props, ambience, sound
    story.py      acts -> scenes -> segments from the idea's own goal: narration, dialogue, beats, motion
    keyframes.py  N+1 boundary frames: image prompts with appearance and continuity, staging
    languages.py  the story's words in French and Spanish (titles, narration, dialogue, act and beat names)
    data/         the words as data: vocabularies (actors, species, places, props, poses, reading) and one
                  tongue per language, read by data_files.py (docs/offline-film.md says how to add a language)

Every choice comes from a random generator seeded by (seed, idea), so the same request always
gives the same film; the whole plan is drafted once per request (well under a second, even for
75 segments) and the four writer calls hand out its parts. Films made this way say so (`LABEL`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from filmstitch.models import Character, Environment, FilmRequest, Keyframe, Script, derive_seed
from filmstitch.pace import fit_script
from filmstitch.writers.base import Writer
from filmstitch.writers.offline import casting, keyframes, languages, lexicon, story, world
from filmstitch.writers.offline.english import capitalise, join, singulars, title_case, with_article
from filmstitch.writers.offline.reading import Place, Reading, read_idea

LABEL = "offline story engine (deterministic, no language model)"


@dataclass(frozen=True)
class Draft:
    """Everything the engine planned for one request."""

    reading: Reading
    premise: story.Premise
    script: Script
    characters: tuple[Character, ...]
    environments: tuple[Environment, ...]
    handles: dict[str, str]


def _rng(request: FilmRequest, stage: str) -> random.Random:
    return random.Random(derive_seed(request.seed, request.idea, stage))


def _culture(reading: Reading) -> str:
    for place in reading.places:
        if place.noun in casting.CITY_LANGUAGE:
            return casting.CITY_LANGUAGE[place.noun]
    return reading.language if reading.language in casting.NAMES else "en"




def _home_set(reading: Reading) -> str:
    """Where a story with no place happens: where its hero works, else a wide valley."""
    return next((world.ROLE_HOMES[actor.noun] for actor in reading.actors if actor.noun in world.ROLE_HOMES), "plains")


HOME_NAMES: dict[str, str] = {"bakery": "the bakery", "interior": "the workshop", "coast": "the lighthouse",
                              "ship": "the ship", "underwater": "the reef", "moon": "the landing site",
                              "city": "the city", "forest": "the forest", "plains": "the farm", "sky": "the sky",
                              "castle": "the castle"}


#: Where a trade works when its set has a general name ("the workshop" is an inventor's, not a chef's).
ROLE_HOME_NAMES: dict[str, str] = {"chef": "the kitchen", "librarian": "the library"}


def locations_for(reading: Reading, segments: int) -> list[world.Location]:
    """The idea's places in order, then the places a story goes next from them, as many as the film needs.

    The hero's workplace comes first when the idea names a trade but not its place (a baker in Kyoto starts
    in a bakery); a goal of flying ends in the sky; a gift for a sea queen ends at her court.
    """
    wanted = 1 if segments <= 2 else 2 if segments <= 5 else 3 if segments <= 14 else 4 if segments <= 30 else 6
    candidates: list[tuple[str, str, bool, str | None]] = [(p.phrase, p.set, True, p.preposition)
                                                            for p in reading.places]
    hero = reading.actors[0] if reading.actors else None
    home = world.ROLE_HOMES.get(hero.noun) if hero else None
    proper = next((p.phrase for p in reading.places if p.proper), None)
    if home and not any(kind == home for _, kind, _, _ in candidates):
        name = ROLE_HOME_NAMES.get(hero.noun, HOME_NAMES[home]) + (
            f" in {proper}" if proper and home in ("bakery", "interior") else "")
        candidates.insert(0, (name, home, True, None))
    if not candidates:  # nowhere named: where the idea's beings live (whales are met at the shore)
        kind = "coast" if any(a.word.kind == "sea_creature" for a in reading.actors) else "plains"
        candidates.append((world.PROFILES[kind].spots[0], kind, False, None))
    ending = []
    goal = reading.goal
    made = goal.object if goal is not None and goal.sort == "make" and isinstance(goal.object, Place) else None
    opened = next((c for c in candidates if c[0] == made.phrase), None) if made is not None else None
    if opened is not None and len(candidates) > 1:  # "open a bakery in Lyon": it is opened at the end
        candidates.remove(opened)
        ending.append(opened)
    if goal is not None and goal.then == "fly":
        ending.append(("the open sky" + (f" over {proper}" if proper else ""), "sky", False, None))
    recipient = goal.to if goal is not None else None
    if recipient is not None and hasattr(recipient, "noun") and " " in getattr(recipient, "noun", ""):
        court = recipient.noun.split()[0]
        if court in ("sea", "ocean", "forest", "mountain", "moon", "snow", "ice", "desert", "sky", "river"):
            kind = {"sea": "underwater", "ocean": "underwater", "river": "underwater", "ice": "snow",
                    "mountain": "mountains"}.get(court, lexicon.PLACES.get(court, "plains"))
            ending.append((f"the {title_case(recipient.noun)}'s court", kind, True, "at"))
    for _, kind, _, _ in list(candidates):
        for name, near in world.PROFILES[kind].nearby:
            candidates.append((name, near, False, None))
    chosen: list[tuple[str, str, bool, str | None]] = []
    for entry in [*candidates, *ending]:
        if entry[0].lower() not in {c[0].lower() for c in chosen}:
            chosen.append(entry)
    must = [c for c in chosen if c[2] and c not in ending][: max(1, wanted - len(ending))]
    fill = [c for c in chosen if not c[2] and c not in ending]
    keep = (must + fill)[: max(1, wanted - len(ending))] + ending[: max(0, wanted - 1)]
    if len(keep) > wanted:
        keep = keep[: wanted - 1] + keep[-1:]
    taken: set[str] = set()
    locations = []
    for name, kind, from_idea, preposition in keep:
        ident = world.location_id(name, taken)
        taken.add(ident)
        time = reading.time or world.PROFILES[kind].time
        default = "at" if "lighthouse" in name else "on" if name in ("the road", "the shoreline", "the path") else \
            world.PREPOSITIONS.get(kind, "in")
        props = list(world.PROFILES[kind].props)
        if kind == "coast" and any("lighthouse" in a.noun for a in reading.actors) or "lighthouse" in name:
            props.insert(0, "a striped lighthouse")  # the keeper's lighthouse stands on every shore of the film
        locations.append(world.Location(ident, name, kind, time, props, from_idea, preposition or default))
    return locations


def _title(p: story.Premise, reading: Reading) -> str:
    hero = p.hero.label if p.hero.plural else p.hero.name  # a group by what it is: "The Two Robots and ..."
    if p.then:
        return title_case(f"{hero} {p.goal('3sg')}")
    if p.partner is not None and (p.thing is None or p.thing_is_place):  # "a knight and a mouse defend..."
        plain = p.partner.kind != "person" and not (p.partner.actor and p.partner.actor.name) and \
            not p.partner.name.startswith("the ")
        return title_case(f"{hero} and {'the ' if plain else ''}{p.partner.name}")
    if p.other:
        plain = p.other.kind != "person" and not (p.other.actor and p.other.actor.name) and \
            not p.other.name.startswith("the ")
        return title_case(f"{hero} and {'the ' if plain else ''}{p.other.name}")
    if p.thing and not p.visible:
        return title_case(f"{hero} and {p.thing}")
    if p.visible:
        return title_case(f"{hero} {p.goal('3sg')}")
    if reading.places:
        return title_case(f"{hero} of {reading.places[0].phrase}")
    return f"{hero}'s Journey"


def _introduced(party: story.Party) -> str:
    """A helper as the logline names it: 'Ink', or a group by what it is and then its names."""
    return f"{party.label.removeprefix('the ')}, {party.name}" if party.plural else party.name


def _logline(p: story.Premise, reading: Reading) -> str:
    hero = p.hero
    where = f" {p.locations[0].at}" if p.locations else ""
    if p.locations and p.locations[0].name.removeprefix("the ").lower() in p.goal("3sg").lower():
        where = ""  # the goal already says where
    helpers = f", helped by {join([_introduced(m) for m in p.allies])}" if p.allies else ""
    role = hero.label.removeprefix("the ") if hero.plural else with_article(hero.character.role)
    plain = role in ("a protagonist", "a friend") or hero.name.lower() in (
        role, f"the {hero.character.role}", hero.character.role.split()[-1])
    who = hero.name if plain else f"{hero.name}, {role}{where},"
    text = f"{who} {p.goal('3sg')}{helpers}."
    if reading.language != "en":
        language = lexicon.LANGUAGE_NAMES.get(reading.language, reading.language)
        text += f" Written in English from an idea in {language}."
    return capitalise(text)


def _localise(p: story.Premise, reading: Reading, tongue: languages.Tongue) -> None:
    """Names in the script's language: the locations (the idea's own words for its places), the groups."""
    written = {place.phrase: languages.definite_phrase(place.written, tongue.code) for place in reading.places
               if place.written}
    for location in p.locations:
        location.local = languages.place_name(location.name, location.set, written, tongue)
    for party in [p.hero, *p.allies, *[x for x in (p.other, p.recipient) if x is not None]]:
        party.conj = tongue.words["and"]
        if party.plural and party.actor is not None:
            counted = any(w.lower() in lexicon.COUNTS or w.isdigit() for w in party.actor.phrase.split())
            party.local_label = languages.group_label(party.actor.phrase, len(party.members), counted, tongue.code)


def _local_title(p: story.Premise, writer: story.BeatWriter) -> str:
    """'Aurore et l'Ours', 'Aiko apprend à voler', 'Rose et les baleines'."""
    tongue = writer.local_tongue
    hero = capitalise(p.hero.local_label) if p.hero.plural else p.hero.name
    singular, plural, *_ = writer.local_goal()
    if p.then:
        return capitalise(f"{hero} {plural if p.hero.plural else singular}")
    if p.partner is not None and (p.thing is None or p.thing_is_place):
        return capitalise(f"{hero} {tongue.words['and']} {p.partner.name}")
    if p.other is not None:
        return capitalise(f"{hero} {tongue.words['and']} {p.other.name}")
    if p.thing:
        return capitalise(languages.tidy(f"{hero} {tongue.words['and']} {writer.local_thing()}", tongue.code))
    return hero


def _local_logline(p: story.Premise, writer: story.BeatWriter) -> str:
    """'Aurore, une boulangère, ouvre la boulangerie, avec l'aide de l'Ours.'"""
    tongue = writer.local_tongue
    singular, plural, *_ = writer.local_goal()
    role = writer.local_role(p.hero)
    who = p.hero.name if role == p.hero.name else f"{p.hero.name}, {role[:1].lower() + role[1:]},"
    names = [f"{a.local_label.split(' ', 1)[-1]}, {a.name}" if a.plural else a.name for a in p.allies]
    helpers = f", {tongue.words['helped']} {names[0] if len(names) == 1 else ', '.join(names[:-1])}" + \
        (f" {tongue.words['and']} {names[-1]}" if len(names) > 1 else "") if names else ""
    return capitalise(languages.tidy(f"{who} {plural if p.hero.plural else singular}{helpers}.", tongue.code))


def _thing_prop(p: story.Premise) -> str | None:
    if not p.thing:
        return None
    words = p.thing.split()
    words = words[1:] if words[0].lower() in ("the", "a", "an") and len(words) > 1 else words
    one = next((w for w in singulars(words[-1]) if w in lexicon.PROP_NOUNS), None) \
        if words[-1] not in lexicon.PROP_NOUNS else None
    return " ".join([*words[:-1], one or words[-1]])  # "candles": one candle in hand


def _thing_seen(p: story.Premise, prop: str | None) -> str | None:
    """The idea's thing as the place shows it: its plural where the idea said one ('candles'), else the prop."""
    if not prop or not p.thing:
        return prop
    last = p.thing.split()[-1]
    return last if last != prop.split()[-1] and prop.split()[-1] in singulars(last) else prop


@lru_cache(maxsize=32)
def draft(idea: str, seed: int, segments: int, seconds: float) -> Draft:
    """Plan the whole film once; the writer's four calls hand out its parts."""
    request = FilmRequest(idea=idea, seed=seed, segments=segments, seconds_per_segment=seconds)
    reading = read_idea(idea)
    language = reading.language if reading.language in languages.SUPPORTED else "en"
    tongue = languages.tongue(language)
    locations = locations_for(reading, segments)
    members = casting.cast(reading, _rng(request, "cast"), locations[0].set, _culture(reading), language)
    p = story.premise(reading, members, locations)
    if tongue is not None:
        _localise(p, reading, tongue)
    prop = _thing_prop(p) if not any(p.thing_noun == place.noun for place in reading.places) else None
    if p.thing_noun in lexicon.ABSTRACT_GOALS:  # "discovers nature": what the camera sees is concrete
        prop = lexicon.ABSTRACT_GOALS[p.thing_noun].removeprefix("the ").removeprefix("a ").removeprefix("an ")
        p.visible = lexicon.ABSTRACT_GOALS[p.thing_noun]
    p.thing_noun = prop if prop else p.thing_noun
    weather = reading.weather
    start = reading.time or ("dusk" if {"storm", "thunderstorm"} & set(weather) else locations[0].time)
    plans = story.plan_beats(p, segments, start)
    owner = story.group_scenes(plans)
    writer = story.BeatWriter(p, _rng(request, "script"), seconds, tongue)
    found_at = next((i for i, plan in enumerate(plans) if plan.key in ("catalyst", "reaction", "midpoint",
                                                                        "climax")), 0)
    trade = {m.name: m.prop for m in members if m.prop}  # the violinist's violin, the knight's sword
    segments_out, scenes = [], []
    for i, plan in enumerate(plans):
        if i == 0 or owner[i] != owner[i - 1]:
            members_of_scene = [plans[j] for j in range(len(plans)) if owner[j] == owner[i]]
            present = list(dict.fromkeys(m.name for b in members_of_scene for m in b.present))
            props = ([prop] if prop and i >= found_at else []) + [trade[n] for n in present if n in trade]
            scenes.append(writer.scene(owner[i], members_of_scene,
                                       story.ledger(p, present, list(dict.fromkeys(props)), dict(writer.injured))))
        following = plans[i + 1].location if i + 1 < len(plans) else plan.location
        if following is plan.location and len(locations) > 1:
            following = next((loc for loc in locations[locations.index(plan.location) + 1:]), plan.location)
        segments_out.append(writer.write(i, plan, following, owner[i]))
        # The place keeps the idea's own number ("a castle of candles": candles stand about; one is in hand).
        seen = _thing_seen(p, prop)
        if seen and i >= found_at and seen not in plan.location.props:
            plan.location.props.insert(0, seen)
        for beat in segments_out[-1].beats:  # a prop in use is one of its location's props
            if beat.prop and beat.prop not in plan.location.props:
                plan.location.props.insert(0, beat.prop)
    title, logline = (_local_title(p, writer), _local_logline(p, writer)) if tongue else \
        (_title(p, reading), _logline(p, reading))
    script = Script(title=title[:400], logline=logline, language=language, acts=writer.acts(plans), scenes=scenes,
                    segments=segments_out)
    used = [loc for loc in locations if loc.id in script.locations]
    environments = tuple(world.environment(loc, weather) for loc in used)
    return Draft(reading, p, script, tuple(m.character for m in members), environments,
                 {m.name: m.handle for m in members})


def _draft(request: FilmRequest) -> Draft:
    return draft(request.idea, request.seed, request.segments, request.seconds_per_segment)


class OfflineWriter(Writer):
    name = "offline"
    label = LABEL
    code_modules = ("filmstitch.writers.offline",)

    def write_script(self, request: FilmRequest) -> Script:
        # Short segments cannot hold a line each (a line takes at least a second): lines are left out until the
        # speech fits (filmstitch.pace); at the default length every line fits and nothing changes.
        return fit_script(_draft(request).script, request.seconds_per_segment)

    def describe_characters(self, request: FilmRequest, script: Script) -> list[Character]:
        known = {c.name: c for c in _draft(request).characters}
        return [known.get(name) or _stranger(name) for name in script.character_names]

    def describe_environments(self, request: FilmRequest, script: Script) -> list[Environment]:
        known = {e.id: e for e in _draft(request).environments}
        return [known.get(ident) or _somewhere(ident) for ident in script.locations]

    def write_keyframes(
        self, request: FilmRequest, script: Script, characters: list[Character], environments: list[Environment]
    ) -> list[Keyframe]:
        handles = _draft(request).handles
        return keyframes.write_keyframes(script, characters, environments, _rng(request, "keyframes"), handles)


def _stranger(name: str) -> Character:
    """A character the engine did not plan (a script from elsewhere): plainly dressed."""
    return Character(name=name, role="supporting character",
                     description=f"{name}: an adult of average build in a grey hooded jacket, dark trousers and "
                                 "worn leather boots.", appearance="adult in a grey hooded jacket",
                     palette=["#8a8f98", "#3a3d42"], hair="#2e2220", skin="#c9966c")


def _somewhere(ident: str) -> Environment:
    location = world.Location(ident, ident.replace("_", " "), "plains", "day", list(world.PROFILES["plains"].props),
                              False)
    return world.environment(location, [])


__all__ = ["LABEL", "OfflineWriter", "draft", "read_idea"]
