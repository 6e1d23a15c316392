"""Reading an idea: who acts in it, where it happens, what they do, and in which language.

The reader works on whole words only (it never cuts one) and keeps every phrase it takes from
the idea exactly as written, so a name like 月 or Tomas and a place like "a sunken ship" reach
the script intact. It is a small rule-based parser over the tables of :mod:`lexicon`:

1. split the idea into sentences and words, gloss foreign words to English;
2. find the names ("named Ink", "Mira, a young diver", "her grandfather Tomas");
3. find the actors (people, animals, objects and forces that act), places and things;
4. read the clauses: subject, verb, object and destination ("help her return it to the sea queen").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from filmstitch.models import SetKind, TimeOfDay
from filmstitch.writers.offline import lexicon
from filmstitch.writers.offline.english import base_form, singulars
from filmstitch.writers.offline.languages import verb_glosses

WORD = re.compile(r"[^\W_](?:[\w'’\-]*[^\W_])?|[.!?;:,]")
DETERMINERS = {"a", "an", "the", "her", "his", "their", "my", "our", "its", "some", "one", "two", "three",
               "this", "that", "these", "those", "your"} | lexicon.FUNCTION_WORDS["fr"] & {
    "un", "une", "le", "la", "les", "des", "son", "sa", "ses", "leur"} | {
    "ein", "eine", "einen", "einem", "der", "die", "das", "den", "dem", "el", "los", "las", "una", "il", "lo",
    "gli", "uno", "um", "uma", "o", "os", "as", "het", "een", "su", "sus", "mi", "mis", "tu", "tus", "sein",
    "seine", "seinen", "ihre", "ihren", "suo", "sua", "seu", "mon", "ma", "mes"} | {
    word for word, n in lexicon.COUNTS.items() if n > 1 and word not in ("pair", "couple", "twin", "twins")} | \
    lexicon.PLURAL_DETERMINERS
PRONOUNS = {"she": "f", "he": "m", "they": None, "her": "f", "him": "m", "them": None, "elle": "f", "il": "m",
            "sie": "f", "er": "m", "ella": "f", "él": "m", "lei": "f", "lui": "m", "ela": "f", "ele": "m"}
CONJUNCTIONS = {"and", "but", "or", "then", "while", "et", "und", "y", "e", "en", "mais", "aber", "pero", "ma"}
#: What joins the names after one name marker: "named Bolt and Rivet", "nommés Pim, Pam et Poum".
NAME_JOINERS = {"and", "et", "y", "und", "e", "&", ","}
#: Words that never name what kind a thing is, though no table lists them ("shares with rice balls").
NOT_MODIFIERS = {"with", "for", "of", "to", "from", "by", "into", "onto", "about", "like", "than", "as", "all",
                 "very", "so", "too", "also", "just", "only", "not", "no", "every", "each", "any", "this", "that",
                 "these", "those", "what", "where", "when", "how", "why", "if", "because", "until", "once"}
#: Words that make a place noun a toy: "a paper boat", "a toy train", "a model ship".
MINIATURE_WORDS = {"paper", "toy", "model", "origami", "cardboard", "miniature", "lego", "bath"}
RELATIVES = {"who", "that", "which", "whose", "qui", "que", "der", "die", "das", "che", "dat"}
TIME_WORDS: dict[str, TimeOfDay] = {"night": "night", "midnight": "night", "nocturnal": "night", "dawn": "dawn",
                                    "sunrise": "dawn", "morning": "dawn", "dusk": "dusk", "sunset": "dusk",
                                    "evening": "dusk", "twilight": "dusk", "noon": "day", "day": "day",
                                    "nuit": "night", "nacht": "night", "noche": "night", "notte": "night",
                                    "aube": "dawn", "soir": "dusk", "夜": "night", "朝": "dawn"}


@dataclass
class Token:
    text: str  # as written
    low: str  # lower case
    gloss: str  # the English word it means (itself for English)
    sentence_start: bool
    index: int
    used: bool = False
    plural: bool = False  # a foreign plural glossed by its singular ("baleines" -> whale)

    @property
    def is_punct(self) -> bool:
        return self.text in ".!?;:,"

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()


@dataclass
class IdeaActor:
    """Someone (or something) who acts in the story."""

    noun: str  # English head noun: "diver", "octopus", "lighthouse keeper"
    word: lexicon.ActorWord
    name: str | None = None  # exactly as in the idea
    more_names: list[str] = field(default_factory=list)  # a group's further names: "named Bolt and Rivet"
    phrase: str = ""  # the idea's own words for it, e.g. "a talking octopus"
    adjectives: list[str] = field(default_factory=list)  # English: "young", "talking"
    trait: str = ""  # a relative clause of the idea, e.g. "speaks in colours"
    position: int = 0
    gender: str | None = None
    relation: str | None = None  # "grandfather" of the one before, etc.
    count: int = 1  # how many the idea means: "two robots" 2, "the whales" lexicon.GROUP


@dataclass
class Place:
    phrase: str  # "the sunken ship", "Kyoto"
    noun: str  # English: "sunken ship", "kyoto"
    set: SetKind
    proper: bool = False
    position: int = 0
    preposition: str | None = None  # the idea's own: "on" (the moon), "in" (a sunken ship)
    written: str = ""  # the idea's own words, in its language: "une boulangerie", "Lyon"


@dataclass
class Thing:
    phrase: str  # "a glowing pearl"
    noun: str  # English head: "pearl"
    position: int = 0
    written: str = ""  # the idea's own words, in its language: "une lettre"


@dataclass
class Clause:
    verb: str  # English base form: "find", "return", "learn"
    sort: str  # see lexicon.VERB_SORTS
    subject: IdeaActor | None = None
    object: IdeaActor | Thing | Place | None = None
    then: str | None = None  # an infinitive after learn/try: "fly"
    to: IdeaActor | Place | None = None  # recipient or destination
    position: int = 0
    extra: str = ""  # a phrase after the object, as written: "from old doors"
    predicate: str = ""  # everything after the verb, as written: "a letter to the top of a snowy mountain"
    helped: bool = False  # its subject is someone the idea's helpers help ("help her return it")
    phrase: str = ""  # the verb as the idea says it, base form: "return", "fall in love"
    partner: IdeaActor | None = None  # who does it with the subject: "une boulangère et un ours ouvrent"


@dataclass
class Reading:
    idea: str
    language: str  # ISO 639-1 code of the idea's language
    actors: list[IdeaActor]
    places: list[Place]
    things: list[Thing]
    clauses: list[Clause]
    time: TimeOfDay | None = None
    weather: list[str] = field(default_factory=list)  # forces that are not characters: "rain", "storm"

    @property
    def hero(self) -> IdeaActor | None:
        return self.actors[0] if self.actors else None

    @property
    def goal(self) -> Clause | None:
        """The clause the story is about: the last one with a goal verb (help -> what is helped)."""
        strong = [c for c in self.clauses if c.sort not in ("journey", "help")]
        if strong:
            return strong[-1]
        return self.clauses[-1] if self.clauses else None


# --------------------------------------------------------------------------- words and language


def detect_language(idea: str) -> str:
    """The idea's language: by script for non-Latin text, by function words for Latin text."""
    scripts: dict[str, int] = {}
    for char in idea:
        if not char.isalpha():
            continue
        name = unicodedata.name(char, "")
        script = next((s for s in ("HIRAGANA", "KATAKANA", "CJK", "HANGUL", "CYRILLIC", "ARABIC", "GREEK",
                                   "HEBREW", "DEVANAGARI", "THAI") if name.startswith(s)), "LATIN")
        scripts[script] = scripts.get(script, 0) + 1
    latin = scripts.pop("LATIN", 0)
    if scripts and sum(scripts.values()) > latin:
        top = max(scripts, key=lambda name: scripts[name])
        if top == "CJK" and ("HIRAGANA" in scripts or "KATAKANA" in scripts):
            return "ja"
        return {"HIRAGANA": "ja", "KATAKANA": "ja", "CJK": "zh", "HANGUL": "ko", "CYRILLIC": "ru",
                "ARABIC": "ar", "GREEK": "el", "HEBREW": "he", "DEVANAGARI": "hi", "THAI": "th"}[top]
    words = re.findall(r"[^\W\d_]+", idea.lower())
    scores = {lang: sum(w in stop for w in words) for lang, stop in lexicon.FUNCTION_WORDS.items()}
    best = max(scores, key=lambda lang: (scores[lang], lang == "en"))
    return best if scores[best] > scores["en"] else "en"


def _is_wide(char: str) -> bool:
    """A character of a script written without spaces (Han, kana, Hangul)."""
    name = unicodedata.name(char, "")
    return name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL"))


def _split_wide(text: str) -> list[str]:
    """Known words of a run of CJK text, longest first; other characters one by one (names stay whole
    only where the idea spaces them)."""
    pieces, i = [], 0
    longest = max(len(word) for word in lexicon.CJK)
    while i < len(text):
        match = next((text[i:i + n] for n in range(min(longest, len(text) - i), 0, -1) if text[i:i + n] in lexicon.CJK),
                     None)
        piece = match or text[i]
        pieces.append(piece)
        i += len(piece)
    return pieces


def tokenize(idea: str, language: str) -> list[Token]:
    tokens: list[Token] = []
    start = True
    verbs = verb_glosses(language)  # "cherchent", "buscan": the forms the engine also writes
    for match in WORD.finditer(idea):
        group = match.group()
        wide = len(group) > 1 and all(_is_wide(c) for c in group) and any(_is_wide(c) and c in "".join(lexicon.CJK)
                                                                           for c in group)
        for text in _split_wide(group) if wide else [group]:
            low = text.lower().replace("’", "'")
            gloss, many = low, False
            if language != "en" and (low in lexicon.FOREIGN or low in verbs):
                gloss = lexicon.FOREIGN.get(low) or verbs[low]
            elif language != "en" and low.endswith(("s", "x", "n")):  # "baleines", "oiseaux", "mujeres", "Katzen"
                one = next((w for w in (low[:-1], low[:-2]) if w in lexicon.FOREIGN), None)
                gloss, many = (lexicon.FOREIGN[one], True) if one else (low, False)
            elif text in lexicon.CJK:
                gloss = lexicon.CJK[text]
            tokens.append(Token(text, low, gloss, start and text not in ".!?;:,", len(tokens), plural=many))
            start = text in ".!?;:" or (start and text in ".!?;:,")
    return tokens


def _is_verb(token: Token) -> bool:
    base = base_form(token.gloss)
    return base in lexicon.VERB_SORTS or token.gloss in lexicon.OTHER_VERBS or base in lexicon.OTHER_VERBS


def _known_word(gloss: str) -> bool:
    return (gloss in lexicon.ACTORS or gloss in lexicon.PLACES or gloss in lexicon.PROP_NOUNS
            or gloss in lexicon.ADJECTIVES
            or base_form(gloss) in lexicon.VERB_SORTS or gloss in lexicon.OTHER_VERBS or gloss in DETERMINERS
            or gloss in PRONOUNS or gloss in CONJUNCTIONS or gloss in lexicon.PLACE_PREPOSITIONS
            or any(gloss in words for words in lexicon.FUNCTION_WORDS.values()))


# --------------------------------------------------------------------------- the reader


class _Reader:
    """One pass over one idea; `read_idea` is the entry point."""

    def __init__(self, idea: str) -> None:
        self.idea = idea
        self.language = detect_language(idea)
        shouted = sum(c.isupper() for c in idea) > 0.6 * max(1, sum(c.isalpha() for c in idea))
        self.tokens = tokenize(idea.lower() if shouted else idea, self.language)
        self.actors: list[IdeaActor] = []
        self.places: list[Place] = []
        self.things: list[Thing] = []
        self.weather: list[str] = []

    # -- helpers over the token list

    def _span(self, start: int, stop: int) -> str:
        return " ".join(t.text for t in self.tokens[start:stop])

    def _np_start(self, head: int) -> int:
        """First token of the noun phrase ending at `head`: back over adjectives and one determiner."""
        i = head
        while i > 0:
            prev = self.tokens[i - 1]
            if prev.is_punct or prev.used and prev.gloss not in lexicon.ADJECTIVES:
                break
            if prev.low in DETERMINERS:
                return i - 1
            if prev.gloss in lexicon.ADJECTIVES or prev.gloss in lexicon.ANIMATING or prev.low.endswith(("ing", "ed")) \
                    and not _is_verb(prev):
                i -= 1
                continue
            if i == head and self.language == "en" and self._noun_modifier(prev):
                i -= 1  # "rice balls", "paper boat": a noun the tables do not know, naming what kind of thing
                continue
            break
        return i

    @staticmethod
    def _noun_modifier(token: Token) -> bool:
        """A lowercase word no table knows (not a verb, preposition or other function word): a noun before a noun."""
        return (token.text.isalpha() and token.text.islower() and not token.used and not _known_word(token.gloss)
                and not _is_verb(token) and token.low not in NOT_MODIFIERS)

    def _phrase(self, start: int, head_end: int, definite: bool = False) -> str:
        """The idea's words from `start` to `head_end` (inclusive); `definite` swaps a/an for 'the'."""
        words = [t.text for t in self.tokens[start:head_end + 1]]
        if definite and words and words[0].lower() in {"a", "an", "one", "some"}:
            words[0] = "the"
        return " ".join(words)

    def _adjectives(self, start: int, head: int) -> list[str]:
        return [t.gloss for t in self.tokens[start:head] if t.low not in DETERMINERS]

    def _compound(self, i: int, table: dict) -> tuple[str, int] | None:
        """The longest key of `table` (one to three words) starting at token i: (key, last index)."""
        for size in (3, 2, 1):
            if i + size > len(self.tokens):
                continue
            words = self.tokens[i:i + size]
            if any(w.is_punct for w in words):
                continue
            key = " ".join(w.gloss for w in words)
            if key in table:
                return key, i + size - 1
            if words[-1].capitalised and not words[-1].sentence_start:
                continue
            head, _, last = key.rpartition(" ")
            for one in singulars(last):  # "dragons", "mice", "butterflies": one of them is the key
                if f"{head} {one}".strip() in table:
                    return f"{head} {one}".strip(), i + size - 1
        return None

    # -- passes

    def read(self) -> Reading:
        self._names()
        self._actor_nouns()
        self._capitalised_names()
        self._places()
        self._things()
        self._order_actors()
        self.places.sort(key=lambda place: place.position)
        self._genders()
        clauses = self._clauses()
        time = next((TIME_WORDS[t.gloss] for t in self.tokens if t.gloss in TIME_WORDS), None)
        return Reading(self.idea, self.language, self.actors, self.places, self.things, clauses, time,
                       self.weather)

    def _names(self) -> None:
        """'a talking octopus named Ink', 'un chat nommé 月': the name and the noun before the marker; 'two robots
        named Bolt and Rivet': a group's names, one for each member."""
        for i, token in enumerate(self.tokens):
            if token.low not in lexicon.NAME_MARKERS or i + 1 >= len(self.tokens) or self.tokens[i + 1].is_punct:
                continue
            token.used = True
            names: list[str] = []
            j = i + 1
            while True:
                end = self._name_end(j)
                names.append(self._span(j, end + 1))
                for t in self.tokens[j:end + 1]:
                    t.used = True
                after = end + 1
                if not (after + 1 < len(self.tokens) and self.tokens[after].low in NAME_JOINERS
                        and self._starts_name(after + 1)):
                    break
                self.tokens[after].used = True
                j = after + 1
            head = next((k for k in range(i - 1, max(-1, i - 5), -1) if self._actor_at(k)), None)
            if head is None:  # no noun we know before the marker: friends, as many as the names
                self.actors.append(IdeaActor("friend", lexicon.ActorWord("person"), name=names[0], more_names=names[1:],
                                         position=i + 1, count=len(names)))
                continue
            actor = self._add_actor(head, name=names[0], force=True, named=len(names))
            if actor is not None:
                actor.more_names = names[1:]

    def _name_end(self, j: int) -> int:
        """The last token of the name that starts at token j: 'Ink', 'Captain Mira' (capitalised words)."""
        while j + 1 < len(self.tokens) and self._starts_name(j + 1):
            j += 1
        return j

    def _starts_name(self, k: int) -> bool:
        token = self.tokens[k]
        return token.capitalised and not token.is_punct and token.low not in DETERMINERS

    def _actor_at(self, i: int) -> tuple[str, int] | None:
        token = self.tokens[i]
        if token.is_punct or token.used:
            return None
        previous = self.tokens[i - 1] if i else None
        if token.capitalised and not token.sentence_start and previous is not None and previous.gloss in lexicon.ACTORS:
            return None  # "her dog Comet": a name, not a comet
        found = self._compound(i, lexicon.ACTORS)
        if found and found[1] == i and self._verb_before_object(i) and (
                found[0] != token.gloss or previous is None or previous.low not in DETERMINERS | lexicon.ADJECTIVES):
            return None  # "a knight ... guards a castle", "three mice guard a cheese": a verb, not a guard
        return found

    def _verb_before_object(self, i: int) -> bool:
        """A word that looks like a plural noun and a verb ('guards', 'cooks') is the verb when a
        determiner or a name follows it: 'guards a castle', 'guards Tomas'."""
        if base_form(self.tokens[i].gloss) not in lexicon.VERB_SORTS or i + 1 >= len(self.tokens):
            return False
        after = self.tokens[i + 1]
        return after.low in DETERMINERS - set(lexicon.COUNTS) or (after.capitalised and not after.is_punct)

    def _add_actor(self, head: int, name: str | None = None, force: bool = False, named: int = 1) -> IdeaActor | None:
        """Make an actor of the noun at token `head` (and any compound after it)."""
        key, last = self._actor_at(head) or (None, head)
        if key is None:
            return None
        word = lexicon.ACTORS[key]
        # "the sea queen", "a lighthouse keeper": a place or force word in front of a role
        follow = self._compound(last + 1, lexicon.ACTORS) if last + 1 < len(self.tokens) and not \
            self._verb_before_object(last + 1) else None
        if follow and word.kind in lexicon.PASSIVE_KINDS | {"creature"} and lexicon.ACTORS[follow[0]].kind == "person":
            key, last, word = f"{key} {follow[0]}", follow[1], lexicon.ACTORS[follow[0]]
        elif follow and word.kind == "element" and follow[0] in ("spirit", "sprite", "wisp", "elemental", "ghost"):
            key, last, word = f"{key} {follow[0]}", follow[1], lexicon.ActorWord("element", key)  # "a fire spirit"
        start = self._np_start(head)
        adjectives = self._adjectives(start, head)
        if word.kind in lexicon.PASSIVE_KINDS and not force and not self._acts(start, head, last, adjectives):
            return None
        for t in self.tokens[start:last + 1]:
            t.used = True
        trait = self._trait(last)
        count = self._count(start, last, key, named)
        actor = IdeaActor(key, word, name=name, phrase=self._phrase(start, last), adjectives=adjectives, trait=trait,
                      position=head, gender=word.gender, count=count)
        if "lighthouse" in key and not any(p.noun == "lighthouse" for p in self.places):
            self.places.append(Place("the lighthouse", "lighthouse", "coast", position=head))
        self.actors.append(actor)
        return actor

    def _count(self, start: int, last: int, key: str, named: int = 1) -> int:
        """How many the noun phrase means: a number or 'both' before it, 'a pair of', 'a pod of', the names the
        idea gives it ('the robots named Bolt and Rivet' are two: `named`), a plural.

        The words that count are marked used (they are part of the actor, not a thing or a name)."""
        counted = None
        for k in range(start, last + 1):  # "two robots", "deux ours", "the twins"
            low = self.tokens[k].low
            if low in lexicon.COUNTS and k < last or low in ("twins",):
                counted = lexicon.COUNTS[low]
            elif low.isdigit() and k < last:
                counted = int(low)
        before = [t for t in self.tokens[max(0, start - 3):start] if not t.is_punct]
        lows = [t.low for t in before]
        if counted is None and lows and (lows[-1] in lexicon.COUNTS or lows[-1].isdigit()):  # "both robots", "2 robots"
            counted = lexicon.COUNTS.get(lows[-1]) or int(lows[-1])
            before[-1].used = True
        elif counted is None and len(lows) >= 2 and lows[-1] in ("of", "de") and (
                lows[-2] in lexicon.COUNTS or lows[-2] in lexicon.COLLECTIVES):  # "a pair of", "a pod of"
            counted = lexicon.COUNTS.get(lows[-2], lexicon.GROUP)
            for t in before[-3:] if len(before) >= 3 and lows[-3] in DETERMINERS else before[-2:]:
                t.used = True
        if counted is not None:
            return max(named, min(lexicon.GROUP_MAX, counted))
        if named > 1:
            return named
        written = self.tokens[last]
        plural = written.plural or key.split()[-1] in singulars(written.gloss)
        determiner = self.tokens[start].low if start <= last else ""
        if plural or (determiner in lexicon.PLURAL_DETERMINERS and self.language != "en"):
            return lexicon.GROUP
        return 1

    def _acts(self, start: int, head: int, last: int, adjectives: list[str]) -> bool:
        """Whether an object or a force is a character: animated, subject of a verb, or met by someone."""
        if any(a in lexicon.ANIMATING for a in adjectives):
            return True
        before = self.tokens[start - 1] if start > 0 else None
        if before and before.low in lexicon.PLACE_PREPOSITIONS:
            return False  # "on the moon", "through the storm": a place or the weather
        after = self.tokens[last + 1] if last + 1 < len(self.tokens) else None
        if after and after.low in RELATIVES and last + 2 < len(self.tokens) and _is_verb(self.tokens[last + 2]):
            return True
        opens_clause = before is None or before.is_punct or before.low in CONJUNCTIONS
        verb_like = after is not None and (_is_verb(after) or (
            self.language == "en" and after.low.endswith("s") and len(after.low) > 3 and not _known_word(after.gloss)))
        if opens_clause and verb_like and after is not None and base_form(after.gloss) != "be":
            return True
        return bool(before and base_form(before.gloss) in lexicon.SOCIAL_VERBS)

    def _trait(self, last: int) -> str:
        """'that speaks in colours' -> 'speaks in colours' (whole words, up to the clause's end)."""
        i = last + 1
        if i >= len(self.tokens) or self.tokens[i].low not in RELATIVES:
            return ""
        j = i + 1
        while j < len(self.tokens) and not self.tokens[j].is_punct and self.tokens[j].low not in CONJUNCTIONS:
            j += 1
        if j - i > 8 or j == i + 1:
            return ""
        return self._span(i + 1, j)

    def _actor_nouns(self) -> None:
        for i in range(len(self.tokens)):
            if self._actor_at(i):
                self._add_actor(i)

    def _capitalised_names(self) -> None:
        """Capitalised words that are not known words are names: 'Mira, a young diver', 'grandfather Tomas'."""
        i = 0
        while i < len(self.tokens):
            token = self.tokens[i]
            plain = not token.used and token.capitalised and not token.is_punct and token.text[0].isalpha() \
                and not (token.text.isupper() and len(token.text) > 1)  # shouting or an acronym, not a name
            after_role = i > 0 and self.tokens[i - 1].gloss in lexicon.ACTORS and not token.sentence_start
            if not plain or (_known_word(token.gloss) and not after_role) or token.low in lexicon.PLACE_NAMES:
                i += 1
                continue
            prev = self.tokens[i - 1] if i else None
            if prev and prev.low in lexicon.PLACE_PREPOSITIONS and not prev.is_punct:
                i += 1  # "in Kyoto": a place (read by _places)
                continue
            j = i
            while j + 1 < len(self.tokens) and self.tokens[j + 1].capitalised and not self.tokens[j + 1].used \
                    and not _known_word(self.tokens[j + 1].gloss) and not self.tokens[j + 1].is_punct:
                j += 1
            name = self._span(i, j + 1)
            for t in self.tokens[i:j + 1]:
                t.used = True
            self._attach_name(name, i, j)
            i = j + 1

    def _attach_name(self, name: str, first: int, last: int) -> None:
        """Give a name to the actor it describes (apposition or a role just before), else a new person."""
        nearby = [a for a in self.actors if a.name is None]
        before = [a for a in nearby if a.position < first and first - a.position <= 2]
        if before:  # "her grandfather Tomas"; a capitalised title is part of the name: "Captain Rosa"
            title = self.tokens[before[-1].position]
            if title.capitalised and title.index == first - 1:
                name = f"{title.text} {name}"
            before[-1].name = name
            return
        after = [a for a in nearby if a.position > last and a.position - last <= 5
                 and (any(t.text == "," for t in self.tokens[last + 1:a.position])
                      or (last + 1 < len(self.tokens) and self.tokens[last + 1].low == "the"
                          and a.position - last <= 3))]
        if after:  # "Mira, a young diver,"
            after[0].name = name
            after[0].position = first
            return
        self.actors.append(IdeaActor("person", lexicon.ActorWord("person"), name=name, phrase=name, position=first))

    def _place(self, start: int, last: int, head: int, also_compound: bool = False) -> None:
        key = " ".join(t.gloss for t in self.tokens[head:last + 1])
        kind = lexicon.PLACES.get(key) or lexicon.PLACE_NAMES.get(key, "plains")
        np_start = self._np_start(head)
        proper = self.tokens[head].capitalised and not self.tokens[head].sentence_start and key not in lexicon.PLACES
        if proper:
            phrase = self._span(head, last + 1)
        elif self.language == "en" and not also_compound:
            phrase = self._phrase(np_start, last, definite=True)
            if phrase.split()[0].lower() not in DETERMINERS:
                phrase = "the " + phrase
        else:
            phrase = "the " + key
        adjectives = [t.gloss for t in self.tokens[np_start:head] if t.gloss in lexicon.ADJECTIVES]
        noun = " ".join([*adjectives, key]) if self.language == "en" else key
        if noun in lexicon.PLACES:
            kind = lexicon.PLACES[noun]
        if "sunken" in adjectives:
            kind = "underwater"
        if not also_compound:
            for t in self.tokens[np_start:last + 1]:
                t.used = True
        before = self.tokens[np_start - 1].low if np_start > 0 else None
        preposition = before if self.language == "en" and before in ("in", "on", "at", "aboard", "inside",
                                                                     "across", "under", "beneath") else None
        if not any(p.noun == noun for p in self.places):
            written = self._span(head if proper else np_start, last + 1)
            self.places.append(Place(phrase, noun, kind, proper, position=head, preposition=preposition,
                                     written=written))

    def _places(self) -> None:
        for i, token in enumerate(self.tokens):
            if token.used or token.is_punct:
                continue
            if token.low in lexicon.PLACE_NAMES and (token.capitalised or token.low == "moon"):
                self._place(i, i, i)
                continue
            found = self._compound(i, lexicon.PLACES)
            if found:
                key, last = found
                start = self._toy_start(i)
                if start is not None:  # "sends a paper boat down the river": a thing in hand, not a ship
                    for t in self.tokens[start:last + 1]:
                        t.used = True
                    self.things.append(Thing(self._phrase(start, last), f"{self.tokens[i - 1].low} {key}",
                                             position=i, written=self._span(start, last + 1)))
                    continue
                if lexicon.ACTORS.get(key) and lexicon.ACTORS[key].kind == "element":
                    prev = self.tokens[i - 1] if i else None
                    if not prev or prev.low not in lexicon.PLACE_PREPOSITIONS and prev.low not in DETERMINERS:
                        continue
                self._place(i, last, i)
                continue
            prev = self.tokens[i - 1] if i else None
            if token.capitalised and not _known_word(token.gloss) and prev and prev.low in lexicon.PLACE_PREPOSITIONS:
                self._place(i, i, i)
        for token in self.tokens:  # forces that are not characters colour the weather
            word = lexicon.ACTORS.get(token.gloss)
            if not token.used and word and word.kind == "element" and token.gloss not in self.weather:
                self.weather.append(token.gloss)

    def _toy_start(self, i: int) -> int | None:
        """Where 'a paper boat' starts (the toy's word, which may be a prop of its own, 'toy', included) when a
        place noun with a toy's word before it ('a paper boat', 'a toy castle') is a thing: unless it is where
        someone is ('a mouse lives in a toy castle'). None when it is a place."""
        if i == 0 or self.tokens[i - 1].low not in MINIATURE_WORDS:
            return None
        start = min(self._np_start(i), self._np_start(i - 1))
        before = self.tokens[start - 1] if start else None
        return start if before is None or before.low not in lexicon.PLACE_PREPOSITIONS else None

    def _things(self) -> None:
        for i, token in enumerate(self.tokens):
            if token.used or token.is_punct:
                continue
            props = lexicon.PROP_NOUNS
            found = self._compound(i, {k: k for k in props} | {k.replace("_", " "): k for k in props})
            if not found or (i and self.tokens[i - 1].low == "to" and base_form(token.gloss) in lexicon.VERB_SORTS):
                continue  # "learns to paint": a verb, not the paint
            if found[0] != token.gloss and found[1] == i and self._verb_before_object(i):
                continue  # "a painter paints the sea": the verb
            key, last = found
            start = self._np_start(i)
            for t in self.tokens[start:last + 1]:
                t.used = True
            phrase = self._phrase(start, last) if self.language == "en" else key.replace("_", " ")
            self.things.append(Thing(phrase, key.replace("_", " "), position=i, written=self._span(start, last + 1)))

    def _genders(self) -> None:
        """'Une vieille boulangère', 'Mira ... her grandfather': grammatical and pronoun clues to gender."""
        feminine = {"une", "la", "una", "uma", "eine", "her", "she"}
        masculine = {"un", "le", "el", "il", "uno", "um", "ein", "his", "he"}
        for actor in self.actors:
            if actor.gender or actor.word.kind != "person" or not actor.phrase:
                continue
            first = actor.phrase.split()[0].lower()
            if self.language != "en" and first in feminine | masculine:
                actor.gender = "f" if first in feminine else "m"
        hero = self.actors[0] if self.actors else None
        if hero is not None and hero.gender is None and hero.word.kind == "person":
            later = [t.low for t in self.tokens if t.index > hero.position]
            she, he = sum(w in ("she", "her", "herself") for w in later), sum(w in ("he", "his", "him") for w in
                                                                              later)
            if she != he:
                hero.gender = "f" if she > he else "m"
        for actor in self.actors:
            if actor.phrase.split()[:1] and actor.phrase.split()[0].lower() in ("her", "his", "their"):
                actor.relation = actor.noun

    def _order_actors(self) -> None:
        """In order of appearance; the subject of the first sentence first (the protagonist)."""
        self.actors.sort(key=lambda a: a.position)

    # -- clauses

    def _actor_before(self, i: int) -> IdeaActor | None:
        """The subject of a verb at token i: the nearest actor before it in the same sentence."""
        candidates = [a for a in self.actors if a.position < i]
        for k in range(i - 1, -1, -1):
            token = self.tokens[k]
            if token.text in ".!?;":
                break
            if token.low in PRONOUNS and token.low in ("she", "he", "they", "elle", "il", "sie", "er"):
                return self._pronoun(token.low, k)
            found = [a for a in candidates if a.position == k or (a.position <= k and k - a.position <= 3)]
            if found:
                return found[-1]
        return None

    def _pronoun(self, word: str, at: int) -> IdeaActor | None:
        gender = PRONOUNS.get(word)
        earlier = [a for a in self.actors if a.position < at]
        matching = [a for a in earlier if gender is None or a.gender in (gender, None)]
        if earlier:
            return (matching or earlier)[0]
        return self.actors[0] if self.actors else None

    def _object_after(self, i: int) -> tuple[IdeaActor | Thing | Place | None, int]:
        """What follows a verb: an actor, thing or place (pronoun 'it' = the last thing)."""
        for k in range(i + 1, min(len(self.tokens), i + 7)):
            token = self.tokens[k]
            if token.is_punct or token.low in CONJUNCTIONS:
                break
            if token.low in ("it", "them") and self.things:
                return max((t for t in self.things if t.position < k), key=lambda t: t.position,
                           default=self.things[0]), k
            for group in (self.actors, self.things, self.places):
                hit = next((x for x in group if x.position == k or (
                    isinstance(x, IdeaActor) and x.name and self.tokens[k].text == x.name.split()[0])), None)
                if hit is not None:
                    return hit, k
            if k > i + 1 and _is_verb(token):
                break
        return self._unknown_object(i)

    def _unknown_object(self, i: int) -> tuple[Thing | None, int]:
        """'sees the summer': a noun phrase the tables do not know becomes a thing, in the idea's words."""
        k = i + 1
        if self.language != "en" or k >= len(self.tokens) or self.tokens[k].low not in DETERMINERS:
            return None, i
        j = k + 1
        while j < len(self.tokens) and j - k <= 3 and not self.tokens[j].is_punct and not self.tokens[j].used \
                and self.tokens[j].low not in CONJUNCTIONS | lexicon.PLACE_PREPOSITIONS | RELATIVES \
                and not _is_verb(self.tokens[j]) and self.tokens[j].low not in PRONOUNS:
            j += 1
        if j == k + 1:
            return None, i
        for t in self.tokens[k:j]:
            t.used = True
        thing = Thing(self._span(k, j), self.tokens[j - 1].gloss, position=j - 1, written=self._span(k, j))
        self.things.append(thing)
        return thing, j - 1

    def _extra(self, end: int) -> str:
        """'from old doors', 'with a spoon': a short phrase after the object, whole words only."""
        k = end + 1
        if self.language != "en" or k >= len(self.tokens) or self.tokens[k].low not in ("from", "with", "out"):
            return ""
        j = k + 1
        while j < len(self.tokens) and j - k <= 4 and not self.tokens[j].is_punct and self.tokens[j].low not in \
                CONJUNCTIONS | {"to", "for", "and", "before", "after", "while"} and not _is_verb(self.tokens[j]):
            j += 1
        return self._span(k, j) if j > k + 1 else ""

    def _clauses(self) -> list[Clause]:
        clauses: list[Clause] = []
        for i, token in enumerate(self.tokens):
            if token.used or token.is_punct:
                continue
            base = base_form(token.gloss)
            sort = lexicon.VERB_SORTS.get(base)
            if sort is None:
                continue
            prev = self.tokens[i - 1] if i else None
            if prev and prev.low in ("to", "à", "zu") and clauses and clauses[-1].sort == "learn" \
                    and clauses[-1].then is None:
                clauses[-1].then = base
                continue
            if prev and prev.low == "to" and clauses and i - clauses[-1].position <= 7 and clauses[-1].predicate:
                continue  # "teaches a ghost to bake bread": part of the teaching, not a clause of its own
            subject = self._actor_before(i)
            helped = False
            if prev and prev.low in ("her", "him", "them") and clauses and clauses[-1].sort == "help":
                subject, helped = self._pronoun(prev.low, i - 1), True  # "help her return it": she returns it
            elif clauses and clauses[-1].sort == "help" and isinstance(clauses[-1].object, IdeaActor) \
                    and i - clauses[-1].object.position <= 2:
                subject, helped = clauses[-1].object, True  # "helps a kite find its way": the kite finds it
            obj, end = self._object_after(i)
            to = None
            for k in range(end + 1, min(len(self.tokens), end + 6)):
                if self.tokens[k].is_punct:
                    break
                after = self.tokens[k + 1] if k + 1 < len(self.tokens) else None
                if self.tokens[k].low in ("to", "for", "à", "zu", "a") and sort != "learn" and not (
                        after is not None and _is_verb(after)):
                    near: list[IdeaActor | Place] = [*self.actors, *self.places]
                    to = next((x for x in near if k < x.position <= k + 4), None)
                    break
            phrase = base
            if i >= 2 and prev is not None and prev.low == "in" and _is_verb(self.tokens[i - 2]) \
                    and self.language == "en":
                phrase = f"{base_form(self.tokens[i - 2].low)} in {base}"  # "falls in love with"
            clause = Clause(base, sort, subject, obj, None, to, position=i, extra=self._extra(end),
                            predicate=self._predicate(i), helped=helped, phrase=phrase,
                            partner=self._partner(subject))
            if sort == "learn":
                clause.then = self._dreamed(i)
            clauses.append(clause)
        return clauses

    def _partner(self, subject: IdeaActor | None) -> IdeaActor | None:
        """'A knight and a tiny mouse defend': the actor joined to the subject by 'and' (nothing else between
        them but determiners and adjectives)."""
        if subject is None:
            return None
        for other in sorted(self.actors, key=lambda a: -a.position):
            if other.position >= subject.position:
                continue
            between = self.tokens[other.position + 1:subject.position]
            words = {t.low for t in between}
            if between and words & CONJUNCTIONS and all(
                    t.low in CONJUNCTIONS | DETERMINERS or t.gloss in lexicon.ADJECTIVES or t.gloss in lexicon.ANIMATING
                    for t in between):
                return other
            return None
        return None

    def _dreamed(self, i: int) -> str | None:
        """'dreams of seeing the ocean' -> 'see the ocean' (whole words of the idea)."""
        if self.language != "en" or i + 2 >= len(self.tokens) or self.tokens[i + 1].low not in ("of", "about"):
            return None
        word = self.tokens[i + 2].low
        if not word.endswith("ing"):
            return None
        stem = word[:-3]
        known = set(lexicon.VERB_SORTS) | lexicon.OTHER_VERBS
        verb = next((c for c in (stem, stem + "e", stem[:-1]) if c in known), stem)
        rest = self._predicate(i + 2).split()
        return " ".join([verb, *rest])

    def _predicate(self, i: int) -> str:
        """The idea's own words after the verb at token i, up to the end of its clause (at most 12 words)."""
        if self.language != "en":
            return ""
        words: list[str] = []
        for k in range(i + 1, len(self.tokens)):
            token = self.tokens[k]
            nxt = self.tokens[k + 1] if k + 1 < len(self.tokens) else None
            if token.is_punct or token.low in RELATIVES and k > i + 1:
                break
            if token.low in CONJUNCTIONS and (nxt is None or _is_verb(nxt) or nxt.low in PRONOUNS):
                break
            if k > i + 1 and _is_verb(token) and not token.used and self.tokens[k - 1].low != "to":
                break
            words.append(token.text)
        if len(words) > 12:  # end at a phrase boundary, never inside a word
            cut = max((j for j, w in enumerate(words[:12]) if w.lower() in lexicon.PLACE_PREPOSITIONS | {"to"}),
                      default=0)
            words = words[:cut] if cut else []
        while words and words[-1].lower() in lexicon.PLACE_PREPOSITIONS | DETERMINERS | {"to"}:
            words.pop()
        return " ".join(words)


def read_idea(idea: str) -> Reading:
    """Who, where and what of an idea, by rules; anything unknown is simply not used."""
    return _Reader(idea).read()
