"""The story engine's own words in French and Spanish: titles, narration, dialogue, act and beat names.

An idea in French or Spanish is told in its language: the names and nouns come from the idea as it
is written ("une boulangerie", "l'Ours", "月"), the rest from the templates of its data file
(data/tongues/fr.toml, es.toml). What the image
and video models read (keyframe prompts, CLIP summaries, motion, the action text) stays English:
those models read English. Other languages are told in English, and the plan says so
(``Script.language`` is "en" and the logline notes the idea's language).

Templates work as the English ones in :mod:`story` do: ``{hero}`` and the other slots are filled
from the premise; ``<falls|fall>`` is a verb in the singular and the plural, chosen by the slot
before it (a group, "les deux robots", takes the plural). Goals come from a small table of verbs
keyed by the English verb the reader glossed (ouvrent -> open -> ouvrir / ouvre / ouvrent), and
a few rules do the rest of the grammar: articles by gender and number, elision (l'Ours, d'ouvrir)
and contraction (du, au; del, al).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from filmstitch.writers.offline.data_files import load

#: Languages the engine writes in besides English, each a data file data/tongues/<code>.toml (beat titles are
#: looked up in this order).
SUPPORTED = ("fr", "es")

VOWELS = "aeiouàâäéèêëîïôöûüœæAEIOUÀÂÄÉÈÊËÎÏÔÖÛÜŒÆ"  # y is a consonant here: "de Yuki"


@dataclass(frozen=True)
class Verb:
    infinitive: str
    singular: str  # 3rd person singular present
    plural: str  # 3rd person plural present


@dataclass(frozen=True)
class Tongue:
    """Everything the engine writes in one language."""

    code: str
    verbs: dict[str, Verb]  # English verb -> its forms
    sort_verbs: dict[str, str]  # goal sort -> the English verb to fall back on
    numbers: dict[int, str]
    beats: dict[str, str]  # beat key -> segment title
    times: dict[str, str]
    acts: tuple[tuple[str, str], tuple[str, str], tuple[str, str]]
    scene_goals: dict[str, str]
    narration: dict[str, list[str]]
    catalyst: dict[str, list[str]]
    midpoint: dict[str, list[str]]
    special: dict[str, list[str]]  # narrations for particular premises (see story.BeatWriter.narration)
    climax: list[str]
    lines: dict[str, dict[str, list[str]]]
    places: dict[str, str]  # the engine's English place names -> this language's
    obstacles: dict[str, str]  # set kind -> what pushes back there
    routines: dict[str, str]  # set kind, trade or kind of being -> what they do every day (infinitive)
    abstract: dict[str, str]  # what the camera sees of an abstract goal
    words: dict[str, str]  # small words of titles and loglines: and, with, helped by...


def _tongue(code: str) -> Tongue:
    """The tongue of data/tongues/<code>.toml: TOML has no tuples or number keys, the rest is as written."""
    data = load(f"tongues/{code}")
    return Tongue(**{**data, "verbs": {english: Verb(*forms) for english, forms in data["verbs"].items()},
                     "numbers": {int(number): word for number, word in data["numbers"].items()},
                     "acts": tuple((title, goal) for title, goal in data["acts"])})


TONGUES: dict[str, Tongue] = {code: _tongue(code) for code in SUPPORTED}


#: Forms that are also common nouns: not read as verbs ("une porte" is a door, "un livre" a book).
_NOUN_LIKE = {"porte", "portent", "part", "livre", "garde", "vole", "fait", "voit", "ve", "ven", "parte", "planta",
              "cocina", "pinta", "toca", "canta", "lleva", "vuela"}


def verb_glosses(language: str) -> dict[str, str]:
    """Every form of the verbs the engine conjugates -> the English verb: 'cherchent' -> search."""
    t = TONGUES.get(language)
    if t is None:
        return {}
    found: dict[str, str] = {}
    for english, verb in t.verbs.items():
        if " " in english:
            continue
        for form in (verb.infinitive, verb.singular, verb.plural):
            if " " not in form and form not in _NOUN_LIKE:
                found.setdefault(form, english)
    return found


def tongue(language: str) -> Tongue | None:
    """The templates of a supported language, None for English and the languages told in English."""
    return TONGUES.get(language)


# --------------------------------------------------------------------------- grammar

FEMININE_ENDINGS = {"fr": ("e", "ion", "té"), "es": ("a", "ión", "dad")}
#: Determiners that say a noun's gender and number: (gender, plural).
DETERMINER_GENDER = {
    "fr": {"un": ("m", False), "une": ("f", False), "le": ("m", False), "la": ("f", False), "les": (None, True),
           "des": (None, True), "son": ("m", False), "sa": ("f", False), "ses": (None, True), "mon": ("m", False),
           "ma": ("f", False), "ce": ("m", False), "cette": ("f", False), "leur": (None, False)},
    "es": {"un": ("m", False), "una": ("f", False), "el": ("m", False), "la": ("f", False), "los": ("m", True),
           "las": ("f", True), "unos": ("m", True), "unas": ("f", True), "su": (None, False), "sus": (None, True),
           "mi": (None, False)},
}
#: Nouns whose gender the endings rule gets wrong.
GENDERS = {"fr": {"ours": "m", "phare": "m", "navire": "m", "renard": "m", "chat": "m", "chien": "m", "robot": "m",
                  "dragon": "m", "fantôme": "m", "poisson": "m", "oiseau": "m", "escargot": "m", "lune": "f",
                  "mer": "f", "forêt": "f", "clé": "f", "tempête": "f", "île": "f", "baleine": "f", "perle": "f"},
           "es": {"mano": "f", "mapa": "m", "día": "m", "planeta": "m", "fantasma": "m", "dragón": "m", "pez": "m"}}


def gender_of(noun: str, language: str, determiner: str = "") -> str:
    """'f' or 'm' of a noun: its determiner in the idea, else the table, else its ending."""
    told = DETERMINER_GENDER.get(language, {}).get(determiner.lower())
    if told and told[0]:
        return told[0]
    low = noun.lower()
    if low in GENDERS.get(language, {}):
        return GENDERS[language][low]
    return "f" if low.endswith(FEMININE_ENDINGS.get(language, ("a",))) else "m"


def definite(noun: str, language: str, gender: str, plural: bool = False) -> str:
    """'ours' -> "l'ours", 'baleine' -> 'la baleine', 'perro' -> 'el perro' (the noun as given)."""
    if language == "fr":
        if plural:
            return f"les {noun}"
        if noun[:1] in VOWELS or noun[:1] in "hH":
            return f"l'{noun}"
        return f"{'la' if gender == 'f' else 'le'} {noun}"
    if plural:
        return f"{'las' if gender == 'f' else 'los'} {noun}"
    return f"{'la' if gender == 'f' else 'el'} {noun}"


def definite_phrase(written: str, language: str) -> str:
    """The idea's noun phrase made definite, its own words kept: 'une boulangerie' -> 'la boulangerie',
    'un ours' -> "l'ours", 'des perles' -> 'les perles', 'Lyon' -> 'Lyon', 'su perro' -> 'su perro'."""
    words = written.split()
    if not words:
        return written
    first = words[0].lower()
    table = DETERMINER_GENDER.get(language, {})
    if first in table and first in ("un", "une", "des", "una", "unos", "unas", "le", "la", "les", "el", "los", "las"):
        gender, plural = table[first]
        rest = " ".join(words[1:])
        if not rest:
            return written
        return definite(rest, language, gender or gender_of(words[-1], language), plural)
    return written


def indefinite(noun: str, language: str, gender: str) -> str:
    if language == "fr":
        return f"{'une' if gender == 'f' else 'un'} {noun}"
    return f"{'una' if gender == 'f' else 'un'} {noun}"


_ELISION = re.compile(rf"\b([dDqQjJmMtTsSnN]e|[qQ]ue|[lL][ea]) (?=[{VOWELS}])")
_ELISION_H = re.compile(r"\b([dDqQ]u?e) (?=[hH])")


def tidy(text: str, language: str) -> str:
    """Elision and contraction: 'de ouvrir' -> "d'ouvrir", 'à le Chat' -> 'au Chat', 'de el' -> 'del'."""
    if language == "fr":
        for a, b in ((" de le ", " du "), (" de les ", " des "), (" à le ", " au "), (" à les ", " aux "),
                     ("De le ", "Du "), ("À le ", "Au ")):
            text = text.replace(a, b)
        text = _ELISION.sub(lambda m: m.group(1)[:-1] + "'", text)
        text = _ELISION_H.sub(lambda m: m.group(1)[:-1] + "'", text)
        text = re.sub(r"\s+([:;!?])", r" \1", text)  # French puts a space before : ; ! ?
    elif language == "es":
        for a, b in ((" de el ", " del "), (" a el ", " al "), ("De el ", "Del "), ("A el ", "Al ")):
            text = text.replace(a, b)
    return text


def group_label(phrase: str, count: int, counted: bool, language: str) -> str:
    """A group by what it is, in the idea's words: 'deux ours' -> 'les deux ours', 'baleines' -> 'les baleines',
    'dos gatos' -> 'los dos gatos'."""
    words = phrase.split()
    head = words[-1] if words else phrase
    determiner = words[0] if len(words) > 1 else ""
    gender = gender_of(head, language, determiner)
    article = "les" if language == "fr" else "las" if gender == "f" else "los"
    number = TONGUES[language].numbers.get(count, str(count))
    return f"{article} {number} {head}" if counted else f"{article} {head}"


def place_name(name: str, set_kind: str, written: dict[str, str], tongue: Tongue) -> str:
    """A location's name in the language: the idea's own words for its places ('la boulangerie', 'Lyon'),
    the table's for the places a story goes next ('la rue'), the patterns of the ones made from both."""
    if name in written:
        return written[name]
    if name in tongue.places:
        return tongue.places[name]
    home, sep, proper = name.partition(" in ")
    if sep and home in tongue.places:
        return f"{tongue.places[home]} {tongue.words['of']} {proper}"  # "the bakery in Kyoto"
    sky, sep, proper = name.partition(" over ")
    if sep and sky in tongue.places:
        return f"{tongue.places[sky]} {tongue.words['over']} {proper}"  # "the open sky over Kyoto"
    if name.endswith("'s court"):
        return f"{tongue.words['court']} {name.removeprefix('the ').removesuffix(chr(39) + 's court')}"
    return name


def at(local_name: str, set_kind: str, tongue: Tongue) -> str:
    """'dans la boulangerie', 'sur la lune', 'à Lyon'; 'en la ciudad'; a phrase that already says where stays."""
    if local_name.split(" ", 1)[0].lower() in ("au-dessus", "encima", "sobre", "alta"):
        return local_name
    if tongue.code == "fr":
        if local_name[:1].isupper():
            return f"à {local_name}"
        return f"{'sur' if set_kind in ('moon', 'coast', 'ship', 'salt_flats', 'snow') else 'dans'} {local_name}"
    return f"en {local_name}"


def beat_key(title: str) -> str | None:
    """The beat a segment title names, in any supported language ('Le départ' -> 'departure')."""
    low = title.lower()
    for tongue in TONGUES.values():
        for key, local in tongue.beats.items():
            if local.lower() == low:
                return key
    return None


__all__ = ["SUPPORTED", "TONGUES", "Tongue", "Verb", "at", "beat_key", "definite", "definite_phrase", "gender_of",
           "group_label", "indefinite", "place_name", "tidy", "tongue"]
