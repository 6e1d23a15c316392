"""Casting: every actor of the idea becomes a character, described camera-ready and voiced.

Names in the idea are kept exactly. An unnamed person gets a name that suits the idea's
language and place (seeded); an unnamed animal, object or force is called by what it is
("Storm", "Crow"), the way fables do. Each description is built from parts whose colours are
also the character's palette, so pictures and words agree: the palette is the outfit (or the fur,
feathers, shell, metal or cloud), `hair` and `skin` are set for people.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from filmstitch.models import Character, CharacterKind, VoiceAge, VoiceCasting
from filmstitch.writers.offline import languages, lexicon
from filmstitch.writers.offline.data_files import load, species
from filmstitch.writers.offline.english import capitalise, fix_articles, with_article
from filmstitch.writers.offline.reading import IdeaActor, Reading

COLOURS: dict[str, str] = {
    "white": "#eef0f2", "cream": "#efe4c8", "orange": "#f08a24", "teal": "#1f9e9a", "crimson": "#b3223b",
    "mustard": "#d9a821", "navy": "#24356b", "olive": "#6b7a2a", "violet": "#7a4fb0", "charcoal": "#3a3d42",
    "rust": "#a4512b", "sky-blue": "#6fb6e8", "forest-green": "#2f7a46", "coral": "#f07060", "sand": "#d8c39a",
    "plum": "#6e2a5a", "scarlet": "#d62828", "yellow": "#f2c230", "grey": "#8a8f98", "brown": "#7a5232",
    "black": "#1e1e24", "silver": "#c0c4cc", "brass": "#b8923a", "copper": "#b5653a", "gold": "#d8b040",
    "indigo": "#3b3f8f", "pink": "#e88ab0", "ochre": "#c98a2b", "jade": "#3aa37a", "slate-blue": "#4f6d8f",
}
CLOTH = ["teal", "orange", "crimson", "mustard", "navy", "olive", "violet", "rust", "sky-blue", "forest-green",
         "coral", "plum", "scarlet", "indigo", "ochre", "jade", "slate-blue"]
HAIR = [("short black curls", "#1f1b1c"), ("a copper braid", "#b85a2c"), ("cropped brown hair", "#5a3a24"),
        ("a messy brown mop", "#6b4428"), ("a tight blonde bun", "#d9b96a"), ("shoulder-length dark waves", "#2e2220"),
        ("a long black ponytail", "#18161a"), ("auburn bob", "#8c3c26"), ("short sandy hair", "#c8a26a")]
OLD_HAIR = [("thinning white hair", "#e8e6e0"), ("a silver bun", "#c8c8cc"), ("short grey hair", "#a0a0a4"),
            ("a white beard and bushy brows", "#ecebe6")]
SKIN = [("pale", "#f1d2bd"), ("fair freckled", "#ecc4a6"), ("olive", "#c9966c"), ("tan", "#b98560"),
        ("brown", "#8d5a3c"), ("deep brown", "#5e3a28")]
FACES = ["a round face and wide brown eyes", "a narrow face with a sharp nose", "a square jaw and thick brows",
         "a gap-toothed smile and rosy cheeks", "a weathered face with laugh lines", "dark thoughtful eyes",
         "a dimpled chin and bright grey eyes"]

_OUTFITS = load("outfits")


def _outfit(worn: list[str] | str) -> tuple[str, str]:
    """An outfit of data/outfits.toml: [description, short form], or the name of a role's outfit."""
    if isinstance(worn, str):
        return OUTFITS[worn]
    description, short = worn
    return description, short


#: Role -> outfit with two colour slots (the palette) and a short form for video prompts (data/outfits.toml).
OUTFITS: dict[str, tuple[str, str]] = {role: _outfit(worn) for role, worn in _OUTFITS["roles"].items()}
ROLE_OUTFIT: dict[str, str] = _OUTFITS["dressed_as"]
#: Outfits that suit a set, for people whose role has none.
CLIMATE_OUTFIT: dict[str, tuple[str, str]] = {kind: _outfit(worn) for kind, worn in _OUTFITS["climate"].items()}
DEFAULT_OUTFIT: tuple[str, str] = _outfit(_OUTFITS["default"])

#: Non-people: species -> (description, short form, [palette colour names]), from data/species.toml.
BEINGS: dict[str, tuple[str, str, list[str]]] = {
    name: (facts["look"], facts["short"], facts["palette"]) for name, facts in species().items() if "look" in facts}
#: Species described like a close cousin.
ALIASES: dict[str, str] = {name: facts["like"] for name, facts in species().items() if "like" in facts}
KIND_FALLBACK: dict[CharacterKind, tuple[str, str, list[str]]] = {
    "animal": ("a small {a} {s} with soft fur, bright eyes and a {b} collar", "{a} {s}", ["brown", "crimson"]),
    "bird": ("a {a} {s} with {b} wing tips, a sharp beak and bright eyes", "{a} {s}", ["slate-blue", "white"]),
    "sea_creature": ("a {a} {s} with shimmering skin and {b} fins", "{a} {s}", ["teal", "coral"]),
    "creature": ("a {a} {s} with a round body, big dark eyes and {b} markings", "{a} {s}", ["jade", "violet"]),
    "robot": BEINGS["robot"],
    "object": ("a {a} {s} with a friendly face: two round eyes and a small curved mouth", "{a} {s} with a face",
               ["mustard", "brown"]),
    "element": ("a living {s} of swirling {a} light with two glowing eyes", "living {a} {s}", ["sky-blue", "white"]),
}
#: Voice casting notes per kind (people are cast by age and gender).
KIND_VOICES: dict[str, tuple[VoiceAge, str, str]] = {
    "storm": ("elder", "deep, rumbling and vast, with a crackle at the edges", "slow, booming, then gentle"),
    "wind": ("young", "airy and whispering", "quick and playful"),
    "fire": ("young", "crackling and bright", "quick, excitable"),
    "element": ("adult", "resonant and echoing", "slow and wondering"),
    "object": ("adult", "small and tinny", "fussy, quick"),
    "robot": ("adult", "bright, slightly metallic", "precise and eager"),
    "animal": ("young", "soft and quick", "curious, a little cheeky"),
    "bird": ("adult", "sharp and clear", "quick, clipped"),
    "sea_creature": ("adult", "soft and bubbly", "slow, kind and wry"),
    "creature": ("adult", "husky and warm", "slow and thoughtful"),
}
_NAMES = load("names")
#: Names of people by language and gender, and of the members of a group that is not people ("two robots": Bolt
#: and Rivet) by language and kind; the language of a city's names (data/names.toml).
NAMES: dict[str, dict[str, list[str]]] = _NAMES["people"]
KIND_NAMES: dict[str, dict[str, list[str]]] = _NAMES["kinds"]
CITY_LANGUAGE: dict[str, str] = _NAMES["city_language"]


@dataclass(eq=False)
class CastMember:
    """A character as the engine planned it (more than the model keeps: pronouns, short handle)."""

    character: Character
    actor: IdeaActor | None
    pronoun: str  # "she", "he", "they", "it"
    possessive: str  # "her", "his", "their", "its"
    objective: str  # "her", "him", "them", "it"
    handle: str  # how a camera sees it, for motion text: "a young woman in a teal wetsuit"
    outfit: str  # what it wears or is made of (the continuity ledger's wardrobe)
    noun: str  # what it is: "diver", "octopus", "lighthouse keeper"
    prop: str | None = None  # what its trade holds and uses: a violinist's violin, a knight's sword

    @property
    def name(self) -> str:
        return self.character.name

    @property
    def kind(self) -> CharacterKind:
        return self.character.kind


def _fill(template: str, a: str, b: str, s: str = "") -> str:
    return template.format(a=a.replace("-", " "), b=b.replace("-", " "), s=s)


def _distinct(colour: str, avoid: set[str], rng: random.Random, also: str = "") -> str:
    """`colour`, or another cloth colour when a member of the same group already has it (seeded)."""
    if colour not in avoid:
        return colour
    return rng.choice([c for c in CLOTH if c not in avoid and c != also])


_AGE_WORDS: dict[str, VoiceAge] = {"young": "young", "little": "child", "elderly": "elder", "old": "elder",
                                    "ancient": "elder", "retired": "elder", "teenage": "young"}


def _person(actor: IdeaActor, name: str, role: str, rng: random.Random, setting: str,
            avoid: set[str] | None = None, gender: str | None = None) -> CastMember:
    gender = gender or actor.gender or rng.choice("fm")
    age: VoiceAge = actor.word.age or "adult"
    for adjective in actor.adjectives:
        age = _AGE_WORDS.get(adjective, age)
    if actor.noun in ("girl", "boy", "child", "kid", "orphan") and age == "adult":
        age = "child"
    if actor.noun in ("grandmother", "grandfather", "grandma", "grandpa", "granny", "grandad", "widow", "widower"):
        age = "elder"
    head = actor.noun.split()[-1]
    key = ROLE_OUTFIT.get(actor.noun) or (actor.noun if actor.noun in OUTFITS else None) or ROLE_OUTFIT.get(head) \
        or (head if head in OUTFITS else None)
    outfit_long, outfit_short = OUTFITS[key] if key else CLIMATE_OUTFIT.get(setting, DEFAULT_OUTFIT)
    a, b = rng.sample(CLOTH, 2)
    if key == "astronaut" or (not key and setting in ("moon", "space")):
        a, b = rng.choice(["orange", "teal", "crimson", "sky-blue"]), "white"
    a = _distinct(a, avoid or set(), rng, b)  # two of a group never wear the same colour
    hair, hair_hex = rng.choice(([h for h in OLD_HAIR if "beard" not in h[0] or gender == "m"]) if age == "elder"
                                else HAIR)
    skin, skin_hex = rng.choice(SKIN)
    who = {"child": {"f": "a girl of about ten", "m": "a boy of about ten"},
           "young": {"f": "a young woman in her twenties", "m": "a young man in his twenties"},
           "adult": {"f": "a woman in her forties", "m": "a man in his forties"},
           "elder": {"f": "an old woman in her seventies", "m": "an old man in his seventies"}}[age][gender]
    build = {"child": "small", "elder": rng.choice(["slim", "average"])}.get(age, rng.choice(["slim", "average",
                                                                                              "broad", "tall"]))
    outfit = _fill(outfit_long, a, b)
    prop = lexicon.ROLE_PROPS.get(actor.noun) or lexicon.ROLE_PROPS.get(head)
    if prop and prop not in outfit.split(", ")[-1].split(" and ")[-1]:
        outfit += f", holding {with_article(prop)}"  # the picture shows it in hand: the words say so too
    title = name if name.lower() == f"the {role}".lower() else \
        f"{name}, {with_article(role)}" if actor.count > 1 else f"{name}, the {role}"
    description = fix_articles(f"{capitalise(title)}: {who}, {build} build, {skin} skin, {hair}, "
                               f"{rng.choice(FACES)}, wearing {outfit}.")
    short = fix_articles(f"{who.split(' in ')[0].split(' of ')[0]}, {_fill(outfit_short, a, b)}, {hair}")
    pronouns = ("she", "her", "her") if gender == "f" else ("he", "his", "him")
    timbre = {"child": "light and bright", "young": "clear and warm", "adult": "warm, even",
              "elder": "low and gravelly" if gender == "m" else "soft, a little cracked"}[age]
    manner = rng.choice(["calm and dry", "quick and eager", "gentle, unhurried", "wry, thoughtful"])
    voice = VoiceCasting(age=age, timbre=f"{timbre}, {'feminine' if gender == 'f' else 'masculine'}",
                         accent="neutral", manner=manner)
    character = Character(
        name=name, role=role, kind="person", species=None, description=description, appearance=_words(short, 30),
        palette=[COLOURS[a], COLOURS[b]], build=build, voice=voice, hair=hair_hex, skin=skin_hex,
    )
    who_noun = who.split(' in ')[0].split(' of ')[0].removeprefix('a ').removeprefix('an ')
    handle = fix_articles(f"{with_article(who_noun)} "
                          f"in {with_article(_fill(outfit_short, a, b).split(',')[0].split(' over ')[0])}")
    return CastMember(character, actor, pronouns[0], pronouns[1], pronouns[2], handle, outfit, actor.noun, prop)


def _being(actor: IdeaActor, name: str, role: str, rng: random.Random, avoid: set[str] | None = None) -> CastMember:
    species = actor.word.species or actor.noun
    if "clockwork" in actor.adjectives and f"clockwork {species}" in BEINGS:
        species = f"clockwork {species}"
    entry = BEINGS.get(species) or BEINGS.get(ALIASES.get(species, "")) or BEINGS.get(species.split()[-1])
    long_t, short_t, colour_names = entry or KIND_FALLBACK[actor.word.kind]
    a, b = colour_names
    if "{a}" in long_t and actor.word.kind in ("animal", "bird", "sea_creature", "creature", "object"):
        a = rng.choice([a, *rng.sample(CLOTH, 1)]) if entry is None else a
    shown = species
    marked = ""
    if avoid:
        b = _distinct(b, avoid | {a, b}, rng, a)  # a group's members differ in their markings
        marked = f", marked with {b.replace('-', ' ')}"
    title = name if name.lower() == f"the {role}".lower() else \
        f"{name}, {with_article(role)}" if actor.count > 1 else f"{name}, the {role}"
    description = fix_articles(f"{capitalise(title)}: {_fill(long_t, a, b, shown)}{marked}.")
    extra = [adj for adj in actor.adjectives if adj in ("talking", "clockwork", "mechanical", "singing", "old",
                                                         "young", "little", "giant", "tiny")]
    if extra and extra[0] not in description:
        description = description[:-1] + f", {extra[0]} and expressive."
    if actor.trait:
        description = description[:-1] + f"; it {actor.trait}."
    short = fix_articles(_fill(short_t, a, b, shown) + marked)
    age, timbre, manner = KIND_VOICES.get(species, KIND_VOICES.get(actor.word.kind, ("adult", "warm", "calm")))
    build = "tall" if species in ("storm", "whale", "heron", "clockwork heron", "yeti", "dragon", "sea") else \
        "small" if actor.word.kind in ("animal", "bird", "object") or species in (
            "sprout spirit", "fairy", "sprite", "wisp", "imp", "pixie", "gnome", "mouse") else "average"
    character = Character(
        name=name, role=role, kind=actor.word.kind, species=species, description=description,
        appearance=_words(short + (f", {actor.trait}" if actor.trait else ""), 30),
        palette=[COLOURS[a], COLOURS[b]], build=build,
        voice=VoiceCasting(age=age, timbre=timbre, accent="neutral", manner=manner),
    )
    return CastMember(character, actor, "it", "its", "it", with_article(short), short, species)


def _words(text: str, limit: int) -> str:
    """At most `limit` words, cut only between comma-separated parts (never inside a word or phrase)."""
    parts = [p.strip() for p in text.split(",")]
    kept: list[str] = []
    for part in parts:
        if len(" ".join([*kept, part]).split()) > limit:
            break
        kept.append(part)
    return ", ".join(kept) if kept else " ".join(text.split()[:limit])


def _role(actor: IdeaActor, index: int, reading: Reading) -> str:
    """'young diver', 'talking octopus', 'protagonist'."""
    adjectives = [a for a in actor.adjectives if a in ("young", "old", "talking", "clockwork", "little", "lonely",
                                                        "stranded", "retired", "lost", "brave", "giant")]
    noun = actor.noun if actor.noun not in ("person", "friend") else ("protagonist" if index == 0 else "friend")
    noun = "twin" if noun == "twins" else noun
    return " ".join([*adjectives[:1], noun])


def group_sizes(actors: list[IdeaActor]) -> list[int]:
    """How many characters each actor becomes: its count (at most lexicon.GROUP_MAX), the largest groups
    made smaller until the whole cast fits the six places of a frame."""
    sizes = [max(1, min(lexicon.GROUP_MAX, a.count)) for a in actors]
    while sum(sizes) > 6 and max(sizes) > 1:
        sizes[sizes.index(max(sizes))] -= 1
    return sizes


def _group(actor: IdeaActor, count: int, role: str, rng: random.Random, setting: str, culture: str,
           taken: set[str]) -> list[CastMember]:
    """The members of a group the idea counts ("two robots", "the whales"): each its own name (from the
    names of its kind and the idea's culture, never "Robot 2") and its own colours; the role says what it is."""
    members: list[CastMember] = []
    used: set[str] = set()
    for j in range(count):
        if actor.word.kind == "person":
            gender = actor.gender or rng.choice("fm")
            pool = NAMES.get(culture, NAMES["en"])[gender]
        else:
            gender = None
            pool = KIND_NAMES.get(culture, {}).get(actor.word.kind) or KIND_NAMES["en"].get(actor.word.kind) \
                or KIND_NAMES["en"]["creature"]
        given = [n for n in (actor.name, *actor.more_names) if n]  # the idea's own names come first
        free = [n for n in pool if n not in taken]
        name = given[j] if j < len(given) else rng.choice(free) if free else \
            f"{capitalise(actor.noun.split()[-1])} {j + 1}"
        taken.add(name)
        if actor.word.kind == "person":
            member = _person(actor, name, role, rng, setting, used, gender)
        else:
            member = _being(actor, name, role, rng, used)
        used.update(c for c, hex_value in COLOURS.items() if hex_value in member.character.palette)
        members.append(member)
    return members


def _fable_name(actor: IdeaActor, language: str) -> str | None:
    """An unnamed being called by what it is in the idea's language, with its article: "l'Ours", 'la Baleine',
    'el Perro' (the idea's own noun). None where the script is English."""
    words = actor.phrase.split()
    if language not in languages.SUPPORTED or not words:
        return None
    head = words[-1]
    determiner = words[0] if len(words) > 1 else ""
    return languages.definite(capitalise(head), language, languages.gender_of(head, language, determiner))


def cast(reading: Reading, rng: random.Random, setting: str, culture: str, language: str = "en") -> list[CastMember]:
    """One cast member per actor of the idea, a member each for a group it counts (a protagonist is added
    when the idea has nobody)."""
    actors = list(reading.actors)
    if not actors:
        actors = [IdeaActor("traveller", lexicon.ACTORS["traveller"], phrase="a traveller")]
    goal = reading.goal
    if len(actors) == 1 and goal is not None and getattr(goal.object, "noun", None) in ("nature", "life"):
        # A lone hero who discovers nature meets it: the first green life, as a small being.
        actors.append(IdeaActor("sprout spirit", lexicon.ActorWord("creature", "sprout spirit"), name="Sprout",
                            phrase="a sprout spirit", position=10**6))
    taken = {n for a in actors for n in (a.name, *a.more_names) if n}
    members: list[CastMember] = []
    pool = NAMES.get(culture, NAMES["en"])
    actors = actors[:6]
    for i, (actor, count) in enumerate(zip(actors, group_sizes(actors))):
        role = _role(actor, i, reading)
        if count > 1:
            members += _group(actor, count, role, rng, setting, culture, taken)
            continue
        if actor.name:
            name = actor.name
        elif actor.word.kind == "person" and actor.phrase.split()[:1] == ["the"] and actor.noun not in (
                "person", "friend", "stranger"):
            name = "the " + " ".join(capitalise(w) for w in actor.noun.split())  # a title: "the Sea Queen"
        elif actor.word.kind == "person" and actor.phrase.split()[:1] in (["la"], ["le"], ["el"]) and \
                (fable := _fable_name(actor, language)):
            name = fable  # "la reine": la Reine
        elif actor.word.kind == "person":
            gender = actor.gender or rng.choice("fm")
            actor.gender = gender
            name = rng.choice([n for n in pool[gender] if n not in taken] or pool[gender])
        elif fable := _fable_name(actor, language):
            name = fable  # "un ours": l'Ours
        else:
            species = actor.word.species or actor.noun
            if actor.phrase.split()[:1] == ["the"] or species in ("northern lights", "sea queen"):
                name = "the " + " ".join(capitalise(w) for w in species.split())  # "the Northern Lights"
            else:
                name = " ".join(capitalise(w) for w in (species.split()[-1:] if "clockwork" not in species else
                                                         species.split()))
        if name in {m.name for m in members}:
            name = f"{name} {capitalise(actor.noun.split()[-1])}"
        taken.add(name)
        member = _person(actor, name, role, rng, setting) if actor.word.kind == "person" else _being(actor, name,
                                                                                                      role, rng)
        members.append(member)
    return members


__all__ = ["CastMember", "cast"]
