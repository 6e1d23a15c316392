"""The offline story engine tells the idea's story: its names, actors, places and goal, in correct English.

A table of ideas (names, non-human actors, places, several languages, hostile text) lists the
names, kinds and nouns each plan must contain; every plan is also checked for cut-off pieces of
the idea, for the words-per-second budget and for fields the GPU and sound paths read. A few
whole plans are kept as reviewed snapshots in tests/snapshots/offline_writer/; after a deliberate
change, look at the diff and regenerate them with

    UPDATE_SNAPSHOTS=1 python -m pytest tests/unit/test_offline_writer.py -k snapshot
"""

from __future__ import annotations

import ast
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from filmstitch.models import FilmPlan, FilmRequest
from filmstitch.testing.plans import offline_plan as plan_for
from filmstitch.writers.offline import LABEL, read_idea
from filmstitch.writers.offline.story import CAMERA

DEFAULT_IDEA = "a stranded astronaut on the moon walks around and discovers nature"
SNAPSHOTS = Path(__file__).parent / "snapshots" / "offline_writer"


@dataclass(frozen=True)
class Idea:
    text: str
    names: tuple[str, ...] = ()  # characters that must exist with exactly these names
    kinds: dict[str, str] = field(default_factory=dict)  # name or species -> CharacterKind
    nouns: tuple[str, ...] = ()  # words the plan's text must contain
    sets: tuple[str, ...] = ()  # set kinds among the plan's locations
    language: str = "en"
    counts: dict[str, int] = field(default_factory=dict)  # species or role -> how many characters it is
    props: tuple[str, ...] = ()  # props some beat hands a character (drawn in hand, said in the motion)


IDEAS = [
    Idea("a lighthouse keeper befriends a storm that speaks in colours", kinds={"storm": "element"},
         nouns=("lighthouse", "keeper", "storm", "colours"), sets=("coast",), props=("lantern",)),
    Idea("Mira, a young diver, finds a glowing pearl in a sunken ship. Her grandfather Tomas and a talking octopus "
         "named Ink help her return it to the sea queen.", names=("Mira", "Tomas", "Ink"),
         kinds={"Ink": "sea_creature", "Mira": "person", "Tomas": "person"},
         nouns=("glowing pearl", "sunken ship", "octopus", "Sea Queen", "diver"), sets=("underwater",),
         props=("glowing pearl",)),
    Idea("Une vieille boulangère à Kyoto apprend à voler avec un chat nommé 月", names=("月",),
         kinds={"月": "animal"}, nouns=("Kyoto", "baker", "cat", "apprend à voler"), sets=("bakery", "sky"),
         language="fr"),
    Idea(DEFAULT_IDEA, nouns=("astronaut", "moon", "nature"), sets=("moon",)),
    Idea("A clockwork heron and a talking lantern guide a lost crow across the salt flats",
         kinds={"heron": "bird", "lantern": "object", "crow": "bird"}, nouns=("clockwork", "salt flats"),
         sets=("salt_flats",)),
    Idea("a girl races a thunderstorm across the prairie on her bicycle", kinds={"thunderstorm": "element"},
         nouns=("girl", "thunderstorm", "prairie")),
    Idea("An old postman must deliver a letter to the top of a snowy mountain", nouns=("postman", "letter",
                                                                                        "mountain"),
         sets=("mountains",), props=("letter",)),
    Idea("Two kids rescue the northern lights from a greedy cloud", kinds={"northern lights": "element"},
         nouns=("northern lights",), counts={"kid": 2}),
    Idea("Captain Rosa and her parrot Pepper search for a hidden treasure on a tropical island",
         names=("Captain Rosa", "Pepper"), kinds={"Pepper": "bird"}, nouns=("treasure", "island"), sets=("coast",)),
    Idea("A robot named Bolt learns to paint in a busy city", names=("Bolt",), kinds={"Bolt": "robot"},
         nouns=("city", "paint"), sets=("city",)),
    Idea("Oskar the fox steals the moon from the sky", names=("Oskar",), kinds={"Oskar": "animal"},
         nouns=("fox", "moon")),
    Idea("A shy dragon called Ember opens a bakery in a small village", names=("Ember",), kinds={"Ember": "creature"},
         nouns=("dragon", "bakery", "village"), sets=("bakery",)),
    Idea("A lonely teapot dreams of seeing the ocean", kinds={"teapot": "object"}, nouns=("teapot", "ocean")),
    Idea("Grandma Jo teaches a ghost to bake bread in an old house", names=("Grandma Jo",),
         kinds={"ghost": "creature"}, nouns=("ghost", "bread", "house"), sets=("interior",)),
    Idea("A little girl named Saoirse follows a talking hare into the forest", names=("Saoirse",),
         kinds={"hare": "animal", "Saoirse": "person"}, nouns=("forest", "hare"), sets=("forest",)),
    Idea("In the desert, a camel named Dune and a boy called Karim find an oasis", names=("Dune", "Karim"),
         kinds={"Dune": "animal", "Karim": "person"}, nouns=("desert", "oasis"), sets=("desert",)),
    Idea("A penguin wants to fly over the Antarctic ice", kinds={"penguin": "bird"}, nouns=("penguin", "ice")),
    Idea("Detective Iris Vane solves the mystery of the missing violin in a rainy city",
         names=("Detective Iris Vane",), nouns=("violin", "city")),
    Idea("A whale sings to a lost submarine in the deep ocean", kinds={"whale": "sea_creature"},
         nouns=("whale", "ocean")),
    Idea("The wind helps a kite find its way home", kinds={"wind": "element"}, nouns=("wind", "kite")),
    Idea("A scarecrow falls in love with a crow on a quiet farm", kinds={"crow": "bird"},
         nouns=("scarecrow", "crow", "farm")),
    Idea("Priya, an astronomer, and her dog Comet chase a falling star across the hills", names=("Priya", "Comet"),
         kinds={"Comet": "animal", "Priya": "person"}, nouns=("astronomer", "star", "hills")),
    Idea("A knight and a tiny mouse defend a castle from a sleepy giant", kinds={"mouse": "animal",
                                                                              "giant": "creature"},
         nouns=("knight", "mouse", "castle", "giant"), props=("sword",), counts={"mouse": 1}),
    Idea("A jellyfish glows to guide a lost diver through a dark cave", kinds={"jellyfish": "sea_creature"},
         nouns=("jellyfish", "diver", "cave")),
    Idea("Ein alter Fischer findet eine sprechende Möwe am Meer", kinds={"gull": "bird"},
         nouns=("fisherman", "gull", "sea"), language="de"),
    Idea("Una niña llamada Lucía busca a su perro en la ciudad", names=("Lucía",), nouns=("dog", "city"),
         language="es"),
    Idea("Una ragazza e il suo gatto Micio trovano una mappa nel bosco", names=("Micio",), nouns=("cat", "map",
                                                                                               "forest"),
         language="it"),
    Idea("Uma menina e um polvo chamado Tito salvam o mar", names=("Tito",), kinds={"Tito": "sea_creature"},
         nouns=("octopus", "sea"), language="pt"),
    Idea("猫と少女が森で星を探す", kinds={"cat": "animal"}, nouns=("cat", "girl"), language="ja"),
    Idea("灯塔里的奶奶和一只鸟", nouns=("lighthouse", "grandmother", "bird"), language="zh"),
    Idea("Un robot et une petite fille nommée Zoé réparent une horloge", names=("Zoé",), kinds={"robot": "robot"},
         nouns=("robot", "girl"), language="fr"),
    Idea("A snowman wants to see the summer before he melts", kinds={"snowman": "object"}, nouns=("snowman",
                                                                                                 "summer")),
    Idea("A firefighter and a fire spirit make peace in a burning forest", kinds={"fire": "element"},
         nouns=("firefighter", "fire", "forest")),
    Idea("A cyclist crosses the salt flats of Bolivia", nouns=("cyclist", "salt flats", "Bolivia"),
         sets=("salt_flats",)),
    Idea("Ada builds a boat from old doors to sail to her mother's island", names=("Ada",),
         nouns=("boat", "island", "doors")),
    Idea("dragons", kinds={"dragon": "creature"}, nouns=("dragon",), counts={"dragon": 3}),
    Idea("<script>alert('x')</script> a cat walks into a library", kinds={"cat": "animal"},
         nouns=("cat", "library")),
    Idea("../../etc/passwd", ()),
    Idea("'; DROP TABLE films; -- a baker bakes a cake", nouns=("baker", "cake"), props=("loaf", "cake")),
    Idea("{{7*7}} ${jndi:ldap://x} a knight finds a sword", nouns=("knight", "sword")),
    Idea("🌙🐱✨ a sleepy cat naps on the moon", kinds={"cat": "animal"}, nouns=("cat", "moon")),
    Idea("A VERY LOUD TRUMPET PLAYER WAKES THE WHOLE TOWN", nouns=("town",)),
    Idea("x" * 300),
    Idea("Mira and Mira meet Mira", names=("Mira",)),
    # numbers and plurals: a group the idea counts is that many characters, each with a name of its own
    Idea("two robots share one umbrella in a city of rain", kinds={"robot": "robot"}, counts={"robot": 2},
         nouns=("umbrella", "city", "rain", "two robots"), props=("umbrella",), sets=("city",)),
    Idea("two robots named Bolt and Rivet share one umbrella", names=("Bolt", "Rivet"), kinds={"robot": "robot"},
         counts={"robot": 2}, props=("umbrella",)),
    Idea("deux chats nommés Pim et Pam ouvrent une boulangerie", names=("Pim", "Pam"), counts={"cat": 2},
         language="fr"),
    Idea("three mice named Pip, Squeak and Nibble guard a cheese", names=("Pip", "Squeak", "Nibble"),
         counts={"mouse": 3}),
    Idea("an old violinist plays for the whales", kinds={"whale": "sea_creature"},
         counts={"whale": 3, "violinist": 1}, nouns=("violin", "the whales"), props=("violin",), sets=("coast",)),
    Idea("a pair of foxes find a key in the snow", kinds={"fox": "animal"}, counts={"fox": 2}, props=("key",),
         sets=("snow",)),
    Idea("three mice and a cat guard a cheese", counts={"mouse": 3, "cat": 1}, nouns=("cheese",)),
    Idea("Five cats and a dog wait for the rain", counts={"cat": 4, "dog": 1}),
    Idea("2 dragons guard a bridge", counts={"dragon": 2}, nouns=("bridge",)),
    Idea("zwei Katzen finden einen Schlüssel im Wald", counts={"cat": 2}, props=("key",), language="de"),
    Idea("the twins build a kite on the hill", counts={"twin": 2}, props=("kite",)),
    # told in the idea's language (French, Spanish), its names and nouns kept
    Idea("une boulangère et un ours ouvrent une boulangerie à Lyon", kinds={"l'Ours": "animal"},
         names=("l'Ours",), nouns=("la boulangerie", "Lyon", "baker", "bear"), props=("loaf",), language="fr"),
    Idea("Une petite fille nommée Zoë et deux chats cherchent une étoile dans la forêt", names=("Zoë",),
         counts={"cat": 2}, nouns=("l'étoile", "la forêt", "deux chats"), language="fr"),
    Idea("un gato llamado 月 y una ballena cantan en el mar", names=("月", "la Ballena"), kinds={"月": "animal"},
         nouns=("el mar",), language="es"),
    Idea("dos gatos buscan un tesoro en la playa", counts={"cat": 2}, nouns=("los dos gatos", "el tesoro"),
         language="es"),
    Idea("Ньют и кот ищут звезду", names=("Ньют",), language="ru"),
    # what a trade holds: in hand, and in use where the story uses it
    Idea("a painter paints the sea at dawn", nouns=("painter", "brush"), props=("brush",)),
    Idea("an old fisherman waits for a golden fish", props=("fishing rod",)),
]


def _of(plan: FilmPlan, what: str) -> list:
    """The characters that are `what`: by species, else by the last word of their role."""
    return [c for c in plan.characters if (c.species or "").split()[-1:] == [what] or
            (c.kind == "person" and c.role.split()[-1:] == [what])]


@pytest.mark.parametrize("idea", [i for i in IDEAS if i.counts], ids=[i.text[:40] for i in IDEAS if i.counts])
def test_a_group_the_idea_counts_is_that_many_characters(idea: Idea, plans: dict[str, FilmPlan]) -> None:
    """'two robots' are two characters, each with its own name and colours, always in frame together."""
    plan = plans[idea.text]
    for what, count in idea.counts.items():
        group = _of(plan, what)
        assert len(group) == count, f"{what!r}: {[(c.name, c.species, c.role) for c in plan.characters]}"
        if count == 1:
            continue
        names = [c.name for c in group]
        assert len(set(names)) == count and not any(re.search(r"\d", n) for n in names), names
        assert not any(n.lower() == what for n in names), f"a member is called by its species: {names}"
        assert len({tuple(c.palette) for c in group}) == count, "the members share a palette"
        for segment in plan.script.segments:  # a group is together: in a segment and its keyframes, all or none
            assert len(set(names) & set(segment.characters)) in (0, count), (segment.index, segment.characters)
        for k in plan.keyframes:
            assert len(set(names) & {p.character for p in k.staging.placements}) in (0, count), k.index


def test_groups_read_as_groups_in_the_story(plans: dict[str, FilmPlan]) -> None:
    robots = plans["two robots share one umbrella in a city of rain"]
    names = [c.name for c in _of(robots, "robot")]
    assert "The Two Robots" in robots.script.title
    narration = " ".join(s.narration for s in robots.script.segments)
    assert f"{names[0]} and {names[1]}" in narration and "two robots" in narration.lower()
    assert not re.search(rf"\b{names[0]} and {names[1]} (is|has|walks|shares|falls|hesitates)\b", narration)
    assert "Two robots" in " ".join(s.motion for s in robots.script.segments)
    whales = plans["an old violinist plays for the whales"]
    told = " ".join([whales.script.title, whales.script.logline,
                     *(s.narration for s in whales.script.segments)])
    assert "the whales" in told.lower() and not re.search(r"\b[Tt]he Whale\b(?!s)", told), told
    assert "plays for the whales" in told


@pytest.mark.parametrize("idea", [i for i in IDEAS if i.props], ids=[i.text[:40] for i in IDEAS if i.props])
def test_implied_props_are_held_and_used(idea: Idea, plans: dict[str, FilmPlan]) -> None:
    """A violinist's violin, a knight's sword, the idea's own umbrella: a beat hands it over (the animatic
    draws it in hand), the segment's motion says so, and it is a prop of the beat's location."""
    plan = plans[idea.text]
    for prop in idea.props:
        used = [s for s in plan.script.segments if any(b.prop == prop for b in s.beats)]
        held = [(b.character, b.gesture, b.prop) for s in plan.script.segments for b in s.beats]
        assert used, f"no beat holds {prop!r}: {held}"
        for segment in used:
            assert prop.split()[-1] in segment.motion, segment.motion
            assert prop in plan.location(segment.location).props


def test_a_shared_umbrella_is_held_over_both() -> None:
    plan = plan_for(FilmRequest(idea="two robots share one umbrella in a city of rain"))
    climax = next(s for s in plan.script.segments if s.title == "Climax")
    holders = [b.character for b in climax.beats if b.prop == "umbrella"]
    assert len(holders) == 1 and "over both of them" in climax.motion
    assert {b.character for b in climax.beats} == set(climax.characters)  # the other leans in under it


@pytest.mark.parametrize("seed", [1, 7, 42])
def test_a_thing_keeps_its_noun_before_the_noun_and_a_plural_thing_takes_plural_verbs(seed: int) -> None:
    """'rice balls' is one thing, never 'the balls'; 'the rice balls appear', never 'appears'."""
    plan = plan_for(FilmRequest(idea="Kenji, a sushi chef in Kyoto, shares rice balls with a stray cat", seed=seed))
    assert plan.script.title == "Kenji and the Rice Balls"
    told = " ".join([s.narration for s in plan.script.segments] + [plan.script.logline])
    assert "balls" not in told.replace("rice balls", ""), told
    assert not re.search(r"rice balls (appears|changes|glows|is|comes|brings)\b", told), told
    assert plan.environments[0].name == "the kitchen in Kyoto"  # a chef works in a kitchen, not a workshop
    lines = " ".join(line.line for s in plan.script.segments for line in s.dialogue)
    assert "dry" not in lines and "under here" not in lines  # sharing food is not sharing an umbrella


def test_a_compound_obstacle_takes_a_plural_verb() -> None:
    plan = plan_for(FilmRequest(idea="a girl and her grandmother race a thunderstorm to deliver a letter"))
    told = " ".join(s.narration for s in plan.script.segments)
    assert "a flooded ford strikes" not in told and "a flooded ford stands" not in told


def test_the_violinist_plays_where_the_story_is_about_playing() -> None:
    plan = plan_for(FilmRequest(idea="an old violinist plays for the whales"))
    climax = next(s for s in plan.script.segments if s.title == "Climax")
    assert any(b.prop == "violin" and b.gesture == "hold_up" for b in climax.beats)
    assert "violin and plays" in climax.motion
    violinist = _of(plan, "violinist")[0]
    assert "violin" in violinist.description


def test_the_reader_counts() -> None:
    counts = {"two robots share one umbrella": [2], "a pair of foxes": [2], "both robots dance": [2],
              "a pod of whales sings": [3], "the whales sing": [3], "deux ours trouvent une lettre": [2],
              "les baleines chantent dans la mer": [3], "three mice and a cat": [3, 1], "seven dogs run": [4],
              "7 dogs run": [4], "the dark guards a castle": [], "a knight guards a castle": [1],
              "a whale sings": [1], "an octopus swims": [1],
              "the robots named Bolt and Rivet dance": [2], "three mice named Pip and Squeak": [3],
              "a fox named Red and a crow named Jet": [1, 1], "les amis nommés Pim, Pam et Poum": [3]}
    for idea, expected in counts.items():
        assert [a.count for a in read_idea(idea).actors] == expected, idea


def test_a_second_wish_of_the_idea_comes_true_in_the_last_beat() -> None:
    """'a fox who wants to fly joins a flock of geese': the goal is joining them, and at the end the fox flies
    with them; an idea with no such wish keeps its wave."""
    fox = plan_for(FilmRequest(idea="a fox who wants to fly joins a flock of geese"))
    final = fox.script.segments[-1]
    hero = fox.characters[0].name
    assert [b.gesture for b in final.beats if b.character == hero] == ["fly"]
    assert "fox lifts off the ground" in final.motion
    assert all(b.gesture != "fly" for s in fox.script.segments[:-1] for b in s.beats if b.character == hero)
    astronaut = plan_for(FilmRequest(idea="a stranded astronaut on the moon walks around and discovers nature"))
    assert {b.gesture for b in astronaut.script.segments[-1].beats} == {"wave"}


@pytest.mark.parametrize("idea", ["a baker opens a bakery in Kyoto",
                                  "une boulangère et un ours ouvrent une boulangerie à Lyon"])
def test_a_place_the_goal_makes_is_where_the_story_ends(idea: str) -> None:
    """'open a bakery in Lyon': the story starts in Lyon and opens the bakery at its end, in the bakery; the
    baker's own routine (dough, oven) waits for the bakery."""
    plan = plan_for(FilmRequest(idea=idea))
    places = {e.id: e for e in plan.environments}
    sets = [places[s.location].set for s in plan.script.segments]
    assert sets[0] != "bakery" and sets[-1] == "bakery" and sets[-2] == "bakery", sets
    opening = plan.script.segments[0].narration.lower()
    assert not any(word in opening for word in ("dough", "oven", "pâte", "four")), opening
    at_home = plan_for(FilmRequest(idea="a baker in Kyoto finds a stray cat"))
    assert "dough" in at_home.script.segments[0].narration  # at work from the start: the routine is hers


def test_a_toys_word_makes_a_place_noun_a_thing() -> None:
    """'a paper boat' is sent down the river, not sailed in; a castle one lives in is a place even if a toy."""
    sailor = read_idea("an old sailor sends a paper boat down the river to his granddaughter")
    assert [t.noun for t in sailor.things] == ["paper boat"] and [p.noun for p in sailor.places] == ["river"]
    assert [t.noun for t in read_idea("a boy sails a toy boat on the lake").things] == ["toy boat"]
    assert "castle" in [p.noun for p in read_idea("a mouse lives in a toy castle").places]
    assert "boat" in [p.noun for p in read_idea("a girl rides a boat to the island").places]
    plan = plan_for(FilmRequest(idea="an old sailor sends a paper boat down the river to his granddaughter"))
    assert plan.script.title.endswith("the Paper Boat") and "ship" not in plan.script.locations[1:]


TOLD_IN = {"fr": "une boulangère et un ours ouvrent une boulangerie à Lyon",
           "es": "Una niña llamada Lucía busca a su perro en la ciudad"}
ENGLISH_WORDS = {"the", "and", "then", "is", "at", "with", "of", "sets", "out", "falls", "meets"}


@pytest.mark.parametrize("language", sorted(TOLD_IN))
def test_an_idea_in_french_or_spanish_is_told_in_its_language(language: str, plans: dict[str, FilmPlan]) -> None:
    """Title, logline, narration, dialogue, act, scene and segment titles in the idea's language; the prompts
    the image and video models read stay English; the plan says which language it is written in."""
    from filmstitch.writers.offline import lexicon

    plan = plans[TOLD_IN[language]] if TOLD_IN[language] in plans else plan_for(FilmRequest(idea=TOLD_IN[language]))
    script = plan.script
    assert script.language == language
    told = [script.title, script.logline, *(a.title for a in script.acts), *(a.summary for a in script.acts),
            *(sc.title for sc in script.scenes), *(sc.goal for sc in script.scenes),
            *(s.title for s in script.segments), *(s.narration for s in script.segments),
            *(d.line for s in script.segments for d in s.dialogue)]
    for text in told:
        assert not set(words(text)) & ENGLISH_WORDS, f"English in a {language} script: {text!r}"
    local = set(words(" ".join(told)))
    assert len(local & lexicon.FUNCTION_WORDS[language]) >= 8, local
    wrong = {"fr": r"\b(de|que|le|la) [aeiouéèêà]|\bà les?\b|\bde le\b", "es": r"\bde el\b|\ba el\b"}[language]
    for text in told:  # elision and contraction done: no "de ouvrir", "à le"; no "de el", "a el"
        assert not re.search(wrong, text), text
    for k in plan.keyframes:
        assert k.prompt.startswith("Cinematic film still") and " the " in k.clip_summary + k.prompt
    for s in script.segments:
        assert s.motion.split(".")[0] in {c for cs in CAMERA.values() for c in cs}  # the English camera words
        assert not set(words(s.motion)) & {"le", "la", "et", "el"}


def test_french_titles_keep_the_ideas_words_with_their_articles(plans: dict[str, FilmPlan]) -> None:
    bakery = plans[TOLD_IN["fr"]]
    baker = next(c for c in bakery.characters if c.kind == "person")
    assert bakery.script.title == f"{baker.name} et l'Ours"
    assert bakery.script.logline.startswith(f"{baker.name}, une boulangère, ouvre la boulangerie")
    assert any("ouvre la boulangerie" in s.narration for s in bakery.script.segments)
    kyoto = plan_for(FilmRequest(idea=IDEAS[2].text))
    assert kyoto.script.title.endswith("apprend à voler") and "月" in kyoto.script.logline
    dog = plan_for(FilmRequest(idea=TOLD_IN["es"]))
    assert dog.script.title == "Lucía y el Perro" and "encuentra al Perro" in dog.script.acts[2].summary


def test_an_unsupported_language_is_told_in_english_and_says_so(plans: dict[str, FilmPlan]) -> None:
    for idea, name in (("Ньют и кот ищут звезду", "Ньют"), ("Ein alter Fischer findet eine sprechende Möwe am Meer",
                                                          None)):
        plan = plans[idea]
        assert plan.script.language == "en" and "Written in English from an idea in" in plan.script.logline
        if name:
            assert name in plan.script.title and any(name in s.narration for s in plan.script.segments)


def plan_text(plan: FilmPlan) -> str:
    """Every word the plan says: script, cast, locations, keyframes."""
    parts = [plan.script.title, plan.script.logline]
    for act in plan.script.acts:
        parts += [act.title, act.summary]
    for scene in plan.script.scenes:
        parts += [scene.title, scene.goal, *scene.continuity.wardrobe.values(), *scene.continuity.props,
                  *scene.continuity.injuries.values()]
    for s in plan.script.segments:
        parts += [s.title, s.narration, s.action, s.setting, s.motion, *(d.line for d in s.dialogue),
                  *(d.delivery for d in s.dialogue), *(b.prop or "" for b in s.beats)]
    for c in plan.characters:
        parts += [c.name, c.role, c.species or "", c.description, c.appearance, c.voice.timbre, c.voice.manner]
    for e in plan.environments:
        parts += [e.name, e.description, e.lighting, e.materials, e.atmosphere, e.sound, *e.props]
    for k in plan.keyframes:
        parts += [k.prompt, k.clip_summary]
    return "\n".join(parts)


def words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]+", text.lower())


def writer_vocabulary() -> set[str]:
    """Every word the engine itself can write: the words of its tables and templates (code and data files)."""
    found: set[str] = set()
    package = Path(__file__).parents[2] / "filmstitch" / "writers" / "offline"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.update(words(node.value.replace("_", " ")))
    for path in package.rglob("*.toml"):  # the vocabularies and tongues of data/
        found.update(words(" ".join(data_strings(tomllib.loads(path.read_text(encoding="utf-8"))))))
    return found


def data_strings(value: object) -> list[str]:
    """Every string of a parsed data file, keys included."""
    if isinstance(value, str):
        return [value.replace("_", " ")]
    if isinstance(value, dict):
        return [*value, *(s for v in value.values() for s in data_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in data_strings(v)]
    return []


VOCABULARY = writer_vocabulary()


def cut_pieces(idea: str, text: str) -> list[str]:
    """Words of the plan that are the start of a longer word of the idea and no word of their own."""
    idea_words = set(words(idea))
    cut = []
    for word in set(words(text)) - idea_words:
        stems = {word, word.rstrip("s"), word.removesuffix("es"), word.removesuffix("ing"), word.removesuffix("ed")}
        if stems & (VOCABULARY | idea_words):
            continue
        if any(len(word) >= 2 and w.startswith(word) and len(w) > len(word) for w in idea_words):
            cut.append(word)
    return cut


@pytest.fixture(scope="module")
def plans() -> dict[str, FilmPlan]:
    return {idea.text: plan_for(FilmRequest(idea=idea.text)) for idea in IDEAS}


def test_the_table_is_large_and_varied() -> None:
    assert len(IDEAS) >= 40
    assert len({idea.language for idea in IDEAS}) >= 6
    assert sum(bool(idea.kinds) for idea in IDEAS) >= 15


@pytest.mark.parametrize("idea", IDEAS, ids=[i.text[:40] for i in IDEAS])
def test_each_plan_keeps_the_ideas_names_actors_and_places(idea: Idea, plans: dict[str, FilmPlan]) -> None:
    plan = plans[idea.text]
    names = [c.name for c in plan.characters]
    for name in idea.names:
        assert name in names, f"{name!r} is not a character: {names}"
    for who, kind in idea.kinds.items():
        matches = [c for c in plan.characters if c.name == who or (c.species or "").split()[-1:] == [who]
                   or (c.species or "").split()[:1] == [who] or c.species == who]
        assert matches, f"no character for {who!r}: {[(c.name, c.species) for c in plan.characters]}"
        assert matches[0].kind == kind, f"{who!r} is a {matches[0].kind}, not a {kind}"
    text = plan_text(plan).lower()
    for noun in idea.nouns:
        assert re.search(rf"(?<!\w){re.escape(noun.lower())}", text), f"{noun!r} is nowhere in the plan"
    sets = {e.set for e in plan.environments}
    for kind in idea.sets:
        assert kind in sets, f"no {kind} location among {sets}"
    told_in = idea.language if idea.language in ("fr", "es") else "en"  # the languages the engine writes
    assert plan.script.language == told_in
    if idea.language != told_in:
        assert "Written in English from an idea in" in plan.script.logline
    else:
        assert "Written in English" not in plan.script.logline


@pytest.mark.parametrize("idea", IDEAS, ids=[i.text[:40] for i in IDEAS])
def test_no_plan_holds_a_cut_off_piece_of_the_idea(idea: Idea, plans: dict[str, FilmPlan]) -> None:
    plan = plans[idea.text]
    assert not cut_pieces(idea.text, plan_text(plan))
    for text in (plan.script.title, plan.script.logline, *(c.description for c in plan.characters)):
        assert "  " not in text and not re.search(r"\b(a|an) (a|an|the)\b", text), text
        assert not re.search(r"\ba [aeiou]", text.replace("a uni", "").replace("a one", "")), f"article: {text}"


@pytest.mark.parametrize("idea", IDEAS, ids=[i.text[:40] for i in IDEAS])
def test_idea_text_is_data_never_markup_or_a_path(idea: Idea, plans: dict[str, FilmPlan]) -> None:
    text = plan_text(plans[idea.text])
    for bad in ("<", ">", "../", "${", "{{", "DROP TABLE"):
        assert bad not in text


def test_a_cut_word_would_be_caught() -> None:
    """The check above can fail: the old engine's 'an une vieille boulang' is caught."""
    assert cut_pieces("Une vieille boulangère", "Lena, an une vieille boulang") == ["boulang"]


def test_reads_who_where_and_what() -> None:
    reading = read_idea(IDEAS[1].text)
    assert [a.name for a in reading.actors][:3] == ["Mira", "Tomas", "Ink"]
    assert [p.noun for p in reading.places][:1] == ["sunken ship"]
    assert reading.goal is not None and (reading.goal.verb, reading.goal.to.noun) == ("return", "sea queen")
    french = read_idea(IDEAS[2].text)
    assert french.language == "fr" and french.goal.then == "fly"
    assert read_idea("猫と少女").language == "ja"


def test_the_story_is_built_from_the_ideas_goal() -> None:
    plan = plan_for(FilmRequest(idea=IDEAS[1].text))
    climax = next(s for s in plan.script.segments if s.title == "Climax")
    assert "returns the glowing pearl to the Sea Queen" in climax.narration
    storm = plan_for(FilmRequest(idea=IDEAS[0].text))
    assert any("befriends Storm" in s.narration for s in storm.script.segments)
    assert any("speaking in colours" in s.narration for s in storm.script.segments)
    kyoto = plan_for(FilmRequest(idea=IDEAS[2].text))
    assert kyoto.script.title.endswith(" apprend à voler")  # told in French, the idea's own words


def test_same_seed_same_plan_other_seed_other_plan() -> None:
    a = plan_for(FilmRequest(idea=DEFAULT_IDEA, seed=1))
    assert a == plan_for(FilmRequest(idea=DEFAULT_IDEA, seed=1))
    assert a != plan_for(FilmRequest(idea=DEFAULT_IDEA, seed=2))


def test_lines_differ_from_film_to_film(plans: dict[str, FilmPlan]) -> None:
    """No two films share most of their narration; no line of dialogue is in most films."""
    films = [plans[i.text] for i in IDEAS[:20]]
    narrations = [{s.narration for s in p.script.segments} for p in films]
    for i in range(len(films)):
        for j in range(i + 1, len(films)):
            shared = len(narrations[i] & narrations[j]) / len(narrations[i])
            assert shared < 0.3, f"{films[i].script.title!r} and {films[j].script.title!r} share {shared:.0%}"
    counts: dict[str, int] = {}
    for p in films:
        for line in {d.line for s in p.script.segments for d in s.dialogue}:
            counts[line] = counts.get(line, 0) + 1
    assert max(counts.values()) <= len(films) // 2, sorted(counts.items(), key=lambda kv: -kv[1])[:3]


@pytest.mark.parametrize("seconds", [1.0, 4.0, 8.0, 20.0])
def test_narration_and_dialogue_fit_the_clip(seconds: float) -> None:
    for idea in IDEAS[:12]:
        plan = plan_for(FilmRequest(idea=idea.text, seconds_per_segment=seconds))
        for s in plan.script.segments:
            spoken = len(s.narration.split()) + sum(len(d.line.split()) for d in s.dialogue)
            assert spoken <= max(3, int(seconds * 2.5)), f"{spoken} words in {seconds} s: {s.narration!r}"


def test_every_field_the_gpu_and_sound_paths_read_is_filled(plans: dict[str, FilmPlan]) -> None:
    for plan in plans.values():
        for c in plan.characters:
            assert c.appearance and len(c.appearance.split()) <= 30
            assert c.voice.voice is None and c.voice.timbre and c.voice.manner  # casting notes, no voice yet
            assert c.kind == "person" or c.species
            if c.kind == "person":
                assert c.hair and c.skin
        for e in plan.environments:
            assert e.props and e.ambience and e.sound and e.time_of_day
        assert plan.script.acts and plan.script.scenes
        for s in plan.script.segments:
            assert s.motion and s.beats and s.location
            assert not any(c.name in s.motion for c in plan.characters if len(c.name) > 2), "motion names nobody"
            assert all(d.delivery for d in s.dialogue)
        for k in plan.keyframes:
            for name in k.characters:
                assert plan.character(name).description in k.prompt


def test_locations_change_where_the_story_moves(plans: dict[str, FilmPlan]) -> None:
    plan = plans[IDEAS[1].text]
    assert len(plan.environments) >= 3 and len({e.id for e in plan.environments}) == len(plan.environments)
    changes = [k for k in plan.keyframes if k.location is not None]
    assert changes, "a keyframe where the place changes names its location"
    for k in changes:
        assert plan.script.segments[k.index - 1].location != plan.script.segments[k.index].location


@pytest.mark.parametrize("segments", [1, 10, 75])
def test_long_films_are_planned_as_acts_scenes_and_segments(segments: int) -> None:
    plan = plan_for(FilmRequest(idea=IDEAS[1].text, segments=segments))
    script = plan.script
    assert len(script.segments) == segments and len(plan.keyframes) == segments + 1
    assert len(script.acts) == 3
    if segments >= 10:
        assert len(script.scenes) >= 4 and len({s.location for s in script.scenes}) >= 3
    if segments == 75:
        assert len(plan.environments) >= 5
        assert max(s.index for s in script.scenes) >= 14
        present = [set(s.characters) for s in script.segments]
        everyone = set().union(*present)
        assert any(len(p) < len(everyone) for p in present[len(present) // 3:]), "characters leave and return"
        for scene in script.scenes:
            ledger = scene.continuity
            assert set(ledger.wardrobe) == set(scene.present)
            for segment in (s for s in script.segments if s.scene == scene.index):
                for name in plan.keyframes[segment.index].characters:
                    assert ledger.wardrobe[name] in plan.keyframes[segment.index].prompt


def test_minutes_plan_the_same_way() -> None:
    plan = plan_for(FilmRequest(idea=DEFAULT_IDEA, minutes=8))
    assert len(plan.script.segments) == 60 and len(plan.script.scenes) >= 12
    injured = [s for s in plan.script.scenes if s.continuity.injuries]
    assert injured and all(injured[0].continuity.injuries.items() <= s.continuity.injuries.items()
                           for s in plan.script.scenes[plan.script.scenes.index(injured[0]):])


def test_label_says_what_made_the_plan() -> None:
    plan = plan_for(FilmRequest(idea=DEFAULT_IDEA))
    assert plan.writer == LABEL and "no language model" in plan.writer


SNAPSHOT_IDEAS = {"pearl": IDEAS[1].text, "storm": IDEAS[0].text, "kyoto": IDEAS[2].text}


@pytest.mark.parametrize("name", sorted(SNAPSHOT_IDEAS))
def test_snapshot_of_a_whole_plan(name: str) -> None:
    plan = plan_for(FilmRequest(idea=SNAPSHOT_IDEAS[name]))
    current = json.dumps(plan.model_dump(mode="json", exclude={"request"}), indent=1, ensure_ascii=False) + "\n"
    path = SNAPSHOTS / f"{name}.json"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(current, encoding="utf-8")
    assert path.exists(), f"no snapshot {path}: run with UPDATE_SNAPSHOTS=1 and review it"
    assert current == path.read_text(encoding="utf-8"), f"{name}: the plan changed; review and regenerate"


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_any_accepted_idea_makes_a_valid_plan(idea: str) -> None:
    try:
        request = FilmRequest(idea=idea, segments=4)
    except ValidationError:
        return  # refused up front with a clear error: also fine
    plan = plan_for(request)
    assert len(plan.keyframes) == 5
    assert not cut_pieces(request.idea, plan_text(plan))


def test_character_hair_and_skin_are_optional_hex_colours() -> None:
    """The two fields the engine adds for people: optional, and only ever a colour."""
    from filmstitch.models import Character

    base = {"name": "Ada", "role": "baker", "description": "Ada.", "palette": ["#112233"]}
    assert Character(**base).hair is None
    assert Character(**base, hair="#aabbcc", skin="#445566").skin == "#445566"
    for bad in ("red", "#12345", "url(x)"):
        with pytest.raises(ValidationError):
            Character(**base, hair=bad)


def test_narration_agrees_with_who_is_there(plans: dict[str, FilmPlan]) -> None:
    """A character alone is never 'they', and nobody talks to an empty frame."""
    for plan in plans.values():
        for s in plan.script.segments:
            if len(s.characters) == 1:
                assert not re.search(r"\b(they|them|together)\b", s.narration, re.IGNORECASE), s.narration
                assert all(not re.search(r"\b(we|us)\b", d.line, re.IGNORECASE) for d in s.dialogue), \
                    [d.line for d in s.dialogue]
            assert not re.search(r"\b(\w+), (a|an|un|une|el|la|una) \1\b", s.narration, re.IGNORECASE), s.narration
