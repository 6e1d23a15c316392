"""Small English grammar rules the story engine writes with: articles, verb forms, lists.

Rules rather than a library: the well-kept inflection packages take seconds to import on a
small machine, and the engine only needs these few forms of words it already knows.
"""

from __future__ import annotations

import re

#: Words that start with a vowel letter but a consonant sound, and the reverse.
_CONSONANT_SOUND = re.compile(r"^(uni|use|usu|ute|uti|euro?|eu|one|once|ubiq|ukul|uran|uret|ewe)", re.IGNORECASE)
_VOWEL_SOUND = re.compile(r"^(hour|honest|honou?r|heir|herb)", re.IGNORECASE)
#: Letters read one by one (an FBI agent, a UFO is the exception we accept).
_ACRONYM = re.compile(r"^[A-Z]{2,}\b")

IRREGULAR_3SG = {"be": "is", "have": "has", "do": "does", "go": "goes"}
IRREGULAR_BASE = {v: k for k, v in IRREGULAR_3SG.items()} | {"are": "be", "was": "be"}
#: Verbs whose last consonant doubles before -ing (swim -> swimming).
DOUBLING = {"swim", "run", "dig", "hop", "stop", "sit", "spin", "win", "begin", "drop", "plan", "grab", "trap",
            "tap", "step", "skip", "shop", "rob", "hug", "jog", "nod", "wag", "set", "get", "cut", "put", "forget",
            "admit", "chat", "clap", "drip", "flap", "grin", "pat", "rub", "slip", "snap", "strip", "trek", "zip"}


def article(phrase: str) -> str:
    """'a' or 'an' for a noun phrase, by how its first word sounds."""
    word = phrase.strip().split(" ", 1)[0] if phrase.strip() else ""
    if not word or not word[0].isalpha() or not word[0].isascii():
        return "a"
    if _ACRONYM.match(word):
        return "an" if word[0] in "AEFHILMNORSX" else "a"
    if _VOWEL_SOUND.match(word):
        return "an"
    if word[0].lower() in "aeiou" and not _CONSONANT_SOUND.match(word):
        return "an"
    return "a"


def with_article(phrase: str) -> str:
    """'octopus' -> 'an octopus'; a phrase that already starts with a determiner is kept."""
    first = phrase.split(" ", 1)[0].lower()
    if first in {"a", "an", "the", "her", "his", "their", "my", "our", "its", "some", "one"}:
        return phrase
    return f"{article(phrase)} {phrase}"


def capitalise(text: str) -> str:
    """Upper-case the first letter only (never lower-cases a name further on)."""
    return text[:1].upper() + text[1:] if text else text


def title_case(text: str) -> str:
    small = {"a", "an", "the", "and", "of", "in", "on", "to", "at", "for", "with", "by"}
    words = text.split()
    return " ".join(
        w if (i and w.lower() in small) or not w[:1].islower() else w[:1].upper() + w[1:] for i, w in enumerate(words)
    )


def _with_s(word: str, es_after: str) -> str:
    """English's -s ending: -ies after a consonant and y, -es after the endings `es_after` names, else -s."""
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    return word + ("es" if re.search(es_after, word) else "s")


def third_person(verb: str) -> str:
    """'find' -> 'finds', 'carry' -> 'carries', 'reach' -> 'reaches' (multi-word: first word)."""
    head, _, rest = verb.partition(" ")
    inflected = IRREGULAR_3SG.get(head) or _with_s(head, r"(s|x|z|ch|sh|o)$")
    return f"{inflected} {rest}".strip()


def base_form(verb: str) -> str:
    """'finds' -> 'find', 'carries' -> 'carry', 'reaches' -> 'reach', 'is' -> 'be'."""
    if verb in IRREGULAR_BASE:
        return IRREGULAR_BASE[verb]
    if verb.endswith("ies") and len(verb) > 4:
        return verb[:-3] + "y"
    if re.search(r"(ss|x|z|ch|sh|o)es$", verb):
        return verb[:-2]
    if verb.endswith("s") and not verb.endswith("ss") and len(verb) > 2:
        return verb[:-1]
    return verb


def gerund(verb: str) -> str:
    """'swim' -> 'swimming', 'make' -> 'making', 'lie' -> 'lying' (multi-word: first word)."""
    head, _, rest = verb.partition(" ")
    if head.endswith("ie"):
        inflected = head[:-2] + "ying"
    elif head.endswith("e") and not head.endswith(("ee", "ye", "oe")) and head != "be":
        inflected = head[:-1] + "ing"
    elif head in DOUBLING:
        inflected = head + head[-1] + "ing"
    else:
        inflected = head + "ing"
    return f"{inflected} {rest}".strip()


#: Nouns whose plural is not made with -s / -es / -ies, both ways.
IRREGULAR_PLURALS = {"mouse": "mice", "goose": "geese", "child": "children", "man": "men", "woman": "women",
                     "person": "people", "wolf": "wolves", "elf": "elves", "dwarf": "dwarves", "ox": "oxen",
                     "fish": "fish", "sheep": "sheep", "deer": "deer", "moose": "moose", "octopus": "octopuses",
                     "calf": "calves", "thief": "thieves", "fairy": "fairies", "cactus": "cacti"}
SINGULARS = {plural: one for one, plural in IRREGULAR_PLURALS.items() if plural != one} | {"octopi": "octopus"}
#: Number words for a group of up to four (the engine casts no larger group).
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}


def plural(noun: str) -> str:
    """'robot' -> 'robots', 'fox' -> 'foxes', 'butterfly' -> 'butterflies', 'mouse' -> 'mice' (last word)."""
    head, _, last = noun.rpartition(" ")
    many = IRREGULAR_PLURALS.get(last) or _with_s(last, r"(s|x|z|ch|sh)$")
    return f"{head} {many}".strip()


def singulars(word: str) -> list[str]:
    """What a plural-looking word may be the plural of, most likely first ('foxes' -> fox, foxe)."""
    if word in SINGULARS:
        return [SINGULARS[word]]
    found = []
    if word.endswith("ies") and len(word) > 4:
        found.append(word[:-3] + "y")
    if re.search(r"(s|x|z|ch|sh)es$", word):
        found.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 2:
        found.append(word[:-1])
    return found


def plural_verb(verb: str) -> str:
    """The verb of a plural subject, from its third-person singular: 'walks' -> 'walk', 'is' -> 'are'."""
    head, _, rest = verb.partition(" ")
    many = {"is": "are", "has": "have", "does": "do", "was": "were", "goes": "go"}.get(head)
    if many is None:
        many = base_form(head) if head.endswith("s") else head  # can, must, will: the same
    return f"{many} {rest}".strip()


def join(items: list[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    items = [item for item in items if item]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def count_words(text: str) -> int:
    return len(text.split())


def sentence(text: str) -> str:
    """Capitalised, one space between words, ending in a full stop (or its own ! / ?)."""
    text = " ".join(text.split())
    text = capitalise(text)
    return text if text.endswith((".", "!", "?", "…")) else text + "."


_ARTICLE_BEFORE = re.compile(r"\b([Aa]n?) (?=([^\W\d_][\w'-]*))")


def fix_articles(text: str) -> str:
    """Make every 'a'/'an' agree with the word after it ('a indigo wetsuit' -> 'an indigo wetsuit')."""

    def agree(match: re.Match) -> str:
        wanted = article(match.group(2))
        return (wanted.capitalize() if match.group(1)[0] == "A" else wanted) + " "

    return _ARTICLE_BEFORE.sub(agree, text)
