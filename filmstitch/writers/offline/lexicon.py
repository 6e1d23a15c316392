"""The words the story engine understands, and what each one is.

Everything the idea reader knows lives in the data files this module reads (data/actors.toml, places.toml,
props.toml, reading.toml): who can act (people, animals, birds,
sea creatures, creatures, robots, objects with a face, weather and forces), where a story can
happen (each place word names the kind of set it is drawn as), which things are props, and the
verbs a goal is made of. Words of a few other languages map to the English word they mean, so
an idea in French or German still finds its baker, its cat and its lighthouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from filmstitch.models import CharacterKind, SetKind, VoiceAge
from filmstitch.writers.offline.data_files import load, species


@dataclass(frozen=True)
class ActorWord:
    """A noun that can be a character: how to draw and voice it."""

    kind: CharacterKind
    species: str | None = None  # what it is, when not a person
    gender: str | None = None  # "f", "m" or None (unknown: the engine picks, seeded)
    age: VoiceAge | None = None


def _actors(people: list[dict[str, Any]], beings: dict[str, dict[str, Any]]) -> dict[str, ActorWord]:
    """The [[people]] groups of data/actors.toml in order (a word listed again takes its later group's meaning and
    keeps its first place), then every species of data/species.toml the reader knows (those with a kind)."""
    found: dict[str, ActorWord] = {}
    for group in people:
        for word in group["words"]:
            found[word] = ActorWord("person", None, group.get("gender"), group.get("age"))
    for name, facts in beings.items():
        if "kind" in facts:
            found[name] = ActorWord(facts["kind"], name)
    return found


def _sorts(groups: dict[str, list[str]]) -> dict[str, str]:
    """{sort: [verbs]} -> {verb: sort}; a verb listed again takes its later sort."""
    return {verb: sort for sort, verbs in groups.items() for verb in verbs}


_ACTORS = load("actors")
_PLACES = load("places")
_PROPS = load("props")
_READING = load("reading")

#: Nouns of characters. Multi-word keys are matched before their parts.
ACTORS: dict[str, ActorWord] = _actors(_ACTORS["people"], species())
#: Words that count the actor after them, in several languages ("two robots", "deux ours", "a pair of").
COUNTS: dict[str, int] = _ACTORS["counts"]
#: Nouns for a group of animals or people: "a pod of whales", "a flock of gulls".
COLLECTIVES = set(_ACTORS["collectives"])
#: Determiners that make the noun after them plural (languages whose plural noun may look singular).
PLURAL_DETERMINERS = set(_ACTORS["plural_determiners"])
#: How many characters a plural the idea does not count becomes ("the whales": a pod of three), and the most
#: one group of the idea becomes (the frame holds six characters in all).
GROUP = 3
GROUP_MAX = 4

#: Objects and forces are characters only when the idea makes them act (they speak, move, are named...).
PASSIVE_KINDS = set(_ACTORS["passive_kinds"])
#: Words in front of an object or force that make it a character: "a talking teapot".
ANIMATING = set(_ACTORS["animating"])
#: Verbs after which the object is someone (you befriend or race someone, you find something).
SOCIAL_VERBS = set(_ACTORS["social_verbs"])
#: Words that mark the next word(s) as a name, in several languages.
NAME_MARKERS = set(_ACTORS["name_markers"])

#: Nouns of places -> the set they are drawn as.
PLACES: dict[str, SetKind] = _PLACES["places"]
#: Proper names of places (capitalised in ideas) and what they are drawn as.
PLACE_NAMES: dict[str, SetKind] = _PLACES["place_names"]
#: Prepositions (several languages) that put what follows in a place.
PLACE_PREPOSITIONS = set(_PLACES["place_prepositions"])
#: Nouns that are things (props), when nobody makes them act.
PROP_NOUNS = set(_PROPS["props"])
#: What a trade holds and uses (the prop is drawn in the hand; the story uses it): role -> prop noun.
ROLE_PROPS: dict[str, str] = _PROPS["role_props"]
#: Verbs of each prop's own use: a story whose goal is one of them ends with the prop in use.
PROP_VERBS: dict[str, set[str]] = {prop: set(verbs) for prop, verbs in _PROPS["prop_verbs"].items()}
#: How the camera sees a prop in use (3rd person singular; {prop} is the prop, {them} who it covers).
PROP_USES: dict[str, str] = _PROPS["prop_uses"]
#: What the camera sees of an abstract goal ("discovers nature": the first green shoots).
ABSTRACT_GOALS: dict[str, str] = _PROPS["abstract_goals"]

#: Story verbs by what they do to the story (the beat structure follows the goal's sort).
VERB_SORTS: dict[str, str] = _sorts(_READING["verb_sorts"])
#: Verbs that take "to <verb>" after them: "learns to fly", "tries to reach".
INFINITIVE_VERBS = set(_READING["infinitive_verbs"])
#: Common verbs that are not story goals but still verbs (they end a subject, start a clause).
OTHER_VERBS = set(_READING["other_verbs"])
ADJECTIVES = set(_READING["adjectives"])
AGE_WORDS: dict[str, str] = _READING["age_words"]
COLOUR_WORDS = set(_READING["colour_words"])

#: Function words of the languages the reader recognises (for telling the language and skipping them).
FUNCTION_WORDS: dict[str, set[str]] = {code: set(words) for code, words in _READING["function_words"].items()}
LANGUAGE_NAMES: dict[str, str] = _READING["language_names"]

#: Words of other languages -> the English word they mean (nouns, adjectives, a few verbs); a word of several
#: languages takes the meaning of the last one listed.
FOREIGN: dict[str, str] = {word: english for words in _READING["foreign"].values() for word, english in words.items()}
#: Words of languages without spaces between words: matched anywhere in the idea.
CJK: dict[str, str] = _READING["cjk"]
