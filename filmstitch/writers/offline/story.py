"""The story: acts -> scenes -> segments, built from the idea's own goal, verbs and things.

A premise (who wants what, from whom, where) comes from the reading and the cast. The beat
sheet (opening, catalyst, reaction, meeting, departure, trials, midpoint, crisis, climax, final
image) is stretched or squeezed to the film's length; every beat's narration, action, dialogue,
staging gestures and video-prompt motion are written from the premise, with seeded choices
among several phrasings, so two ideas never share their lines. Narration and dialogue together
keep to a words-per-second budget so the voice-over fits the clip.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field

from filmstitch.models import (
    Act,
    ActionBeat,
    Continuity,
    DialogueLine,
    Gesture,
    Pose,
    Scene,
    Segment,
    Shot,
    TimeOfDay,
)
from filmstitch.pace import WRITING_WORDS_PER_SECOND
from filmstitch.writers.offline import languages, lexicon
from filmstitch.writers.offline.casting import CastMember
from filmstitch.writers.offline.english import (
    NUMBER_WORDS,
    base_form,
    capitalise,
    fix_articles,
    gerund,
    join,
    plural,
    plural_verb,
    sentence,
    singulars,
    third_person,
    with_article,
)
from filmstitch.writers.offline.reading import Clause, IdeaActor, Place, Reading, Thing
from filmstitch.writers.offline.world import ROLE_HOMES, Location

#: Voice-over pace: words per second of clip, narration and dialogue together (filmstitch.pace).
WORDS_PER_SECOND = WRITING_WORDS_PER_SECOND


@dataclass(eq=False)
class Party:
    """One actor of the idea as the story sees it: one character, or a group the idea counts ("two robots",
    "the whales") who are always together and act as one. It answers like a cast member (name, pronouns,
    kind), in the plural when it is a group."""

    members: list[CastMember]
    by_label: bool = False  # called by what it is ("the whales"), not by its members' names
    conj: str = "and"  # the script language's "and", between the members' names
    local_label: str = ""  # the label in the script's language: "les baleines"

    @property
    def lead(self) -> CastMember:
        return self.members[0]

    @property
    def plural(self) -> bool:
        return len(self.members) > 1

    @property
    def label(self) -> str:
        """A group by what it is: 'the two robots', 'the whales' (the idea's own plural when it counts none)."""
        if not self.plural:
            return self.lead.name
        actor = self.lead.actor
        noun = plural(self.lead.noun)
        if actor is not None and actor.count == len(self.members) and not any(
                w.lower() in NUMBER_WORDS.values() for w in actor.phrase.split()[:1]):
            head = actor.phrase.split()[-1]
            written = head if head.lower() != self.lead.noun else noun
            if actor.phrase.split()[:1] and actor.phrase.split()[0].lower() in ("the", "these", "those"):
                return f"the {written}"
        return f"the {NUMBER_WORDS.get(len(self.members), str(len(self.members)))} {noun}"

    @property
    def name(self) -> str:
        """How the story calls it (in the script's language)."""
        if self.by_label and self.plural:
            return self.local_label or self.label
        names = [m.name for m in self.members]
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {self.conj} {names[-1]}"

    @property
    def pronoun(self) -> str:
        return "they" if self.plural else self.lead.pronoun

    @property
    def possessive(self) -> str:
        return "their" if self.plural else self.lead.possessive

    @property
    def objective(self) -> str:
        return "them" if self.plural else self.lead.objective

    @property
    def kind(self):  # -> CharacterKind
        return self.lead.kind

    @property
    def noun(self) -> str:
        return self.lead.noun

    @property
    def character(self):  # -> Character
        return self.lead.character

    @property
    def actor(self) -> IdeaActor | None:
        return self.lead.actor

    @property
    def handle(self) -> str:
        """How a camera sees it: 'a boxy steel robot...' or, for a group, 'two robots'."""
        if not self.plural:
            return self.lead.handle
        return f"{NUMBER_WORDS.get(len(self.members), str(len(self.members)))} {plural(self.lead.noun)}"

    def verb(self, third_singular: str) -> str:
        """A verb in the 3rd person agreeing with the party: 'walks' or, for a group, 'walk'."""
        return plural_verb(third_singular) if self.plural else third_singular


def parties(cast: list[CastMember]) -> list[Party]:
    """The cast as the story's parties: the members of one actor of the idea together, in cast order."""
    found: list[Party] = []
    for member in cast:
        same = next((p for p in found if member.actor is not None and p.lead.actor is member.actor), None)
        if same is not None:
            same.members.append(member)
        else:
            found.append(Party([member]))
    return found


@dataclass
class Premise:
    hero: Party
    allies: list[Party]
    other: Party | None  # who the goal is about: the storm to befriend, the rival to race
    recipient: Party | None  # who the thing goes to
    thing: str | None  # the idea's phrase for the key thing, definite: "the glowing pearl"
    thing_noun: str | None  # "pearl"
    verb: str  # English base form of the goal verb
    sort: str
    then: str | None  # "fly" in "learns to fly"
    catalyst: Clause | None
    cast: list[CastMember]
    locations: list[Location]
    visible: str | None = None  # what the camera sees of an abstract thing ("nature": the first green shoots)
    extra: str = ""  # the idea's own words after the goal's object: "from old doors"
    predicate: str = ""  # the idea's words after the goal verb, names put in: "the glowing pearl to the Sea Queen"
    phrase: str = ""  # the goal verb as the idea says it: "fall in love"
    thing_is_place: bool = False  # "find an oasis": the thing is somewhere to reach, not something to hold
    thing_written: str = ""  # the idea's own words for the thing, in its language: "une boulangerie"
    partner: Party | None = None  # who does the goal with the hero: "une boulangère et un ours ouvrent"
    wish: str | None = None  # a second wish of the idea's: "fly" in "a fox who wants to fly joins the geese"

    @property
    def seeking(self) -> bool:
        """The goal is a search ('searches for her dog'): at the climax, what was sought is found."""
        return self.verb in ("search", "look", "hunt", "seek")

    @property
    def story_sort(self) -> str:
        """The sort the narration follows: looking for someone (a lost dog) is told as a rescue."""
        return "rescue" if self.sort == "find" and self.thing is None and self.other is not None else self.sort

    def achieve(self) -> str:
        """What happens at the climax: the goal done ('flies over the ice' for 'wants to fly over the ice')."""
        if self.seeking:
            found = Premise(**{**self.__dict__, "verb": "find", "phrase": "find", "predicate": _definite(
                self.predicate.removeprefix("for ").removeprefix("after "))})
            return found.goal("3sg")
        if self.sort == "learn" and self.then:
            rest = self.predicate.split(" ", 1)[1] if self.predicate.startswith("to ") else ""
            words = rest.split()
            done = third_person(rest) if words and words[0] == self.then.split()[0] else third_person(self.then)
            return self.hero.verb(done)
        return self.goal("3sg")


    @property
    def seen(self) -> str:
        return self.visible or self.thing or "it"

    def goal(self, form: str = "3sg") -> str:
        """The goal as a verb phrase: 'returns the glowing pearl to the Sea Queen'."""
        if form == "3sg" and self.hero.plural:
            form = "base"  # "two robots share", not "shares"
        verb = {"3sg": third_person, "base": lambda v: v, "ing": gerund}[form](self.phrase or self.verb)
        if self.predicate:  # the idea's own words
            return f"{verb} {self.predicate}"
        if self.then:
            return f"{verb} to {self.then}"
        finds = self.sort in ("find", "deliver", "make", "rescue") and self.thing
        target = self.thing if finds else self.other.name if self.other else self.thing or ""
        if self.verb in ("search", "look", "hunt") and target:
            verb += " for"
        to = f" to {self.recipient.name}" if self.recipient and self.recipient is not self.other else ""
        extra = f" {self.extra}" if self.extra else ""
        return " ".join(f"{verb} {target}{extra}{to}".split())


@dataclass
class BeatPlan:
    key: str
    act: int
    location: Location
    present: list[CastMember]
    time: TimeOfDay
    text: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- premise


def _member_of(actor: IdeaActor | None, cast: list[Party]) -> Party | None:
    return next((m for m in cast if m.actor is actor), None) if actor is not None else None


def premise(reading: Reading, members: list[CastMember], locations: list[Location]) -> Premise:
    goal = reading.goal
    cast = parties(members)
    hero = cast[0]
    other = _member_of(goal.object, cast) if goal and isinstance(goal.object, IdeaActor) else None
    if other is hero:
        other = None
    recipient = _member_of(goal.to, cast) if goal and isinstance(goal.to, IdeaActor) else None
    thing_obj = goal.object if goal and isinstance(goal.object, Thing) else (reading.things[0] if reading.things
                                                                            else None)
    thing = thing_noun = None
    if thing_obj is not None:
        words = thing_obj.phrase.split()
        if words and words[0].lower() in ("a", "an", "one", "some", "her", "his", "their", "its"):
            words[0] = "the"
        elif words and words[0].lower() != "the" and thing_obj.noun not in lexicon.ABSTRACT_GOALS:
            words.insert(0, "the")
        thing, thing_noun = " ".join(words), thing_obj.noun
    verb, sort, then = (goal.verb, goal.sort, goal.then) if goal else ("find", "find", None)
    if verb in ("be", "help"):
        verb, sort = "find", "find"
    if sort == "learn" and not then:
        then = None if thing else "be brave"
    thing_is_place = False
    if goal is not None and isinstance(goal.object, Place) and thing is None:
        thing, thing_noun = _definite(goal.object.phrase), goal.object.noun  # "find an oasis", "steal the moon"
        thing_is_place = True
    if sort in ("find", "deliver", "make", "rescue") and thing is None and other is None:
        thing, thing_noun = "a way home", "way home"
    if goal is not None and isinstance(goal.object, Place) and thing is None:
        thing, thing_noun = _definite(goal.object.phrase), goal.object.noun  # "find an oasis", "steal the moon"
    catalyst = next((c for c in reading.clauses if c.sort == "find" and c is not goal), None)
    if other is None and len(cast) > 1 and cast[-1].actor is not None and cast[-1].actor.position == 10**6:
        other = cast[-1]  # the being a lone hero's discovery turns out to be
    doer = _member_of(goal.subject, cast) if goal is not None else None
    if goal is not None and goal.helped and doer is not None and doer not in (other, recipient, hero):
        cast = [doer, *[m for m in cast if m is not doer]]  # the one who does the goal is the protagonist
        hero = doer
    supporting = [m for m in cast[1:] if m is not other and m is not recipient]
    for group in (other, recipient):
        if group is not None:
            group.by_label = True  # "plays for the whales": a group the story is about is called what it is
    predicate = _with_names(goal.predicate, cast, thing) if goal is not None and goal.predicate else ""
    members = [m for party in cast for m in party.members]
    written = goal.object.written if goal is not None and isinstance(goal.object, (Thing, Place)) else \
        thing_obj.written if thing_obj is not None else ""
    pair = [_member_of(goal.subject, cast), _member_of(goal.partner, cast)] if goal is not None else []
    partner = next((m for m in pair if m is not None and m is not hero and hero in pair), None)
    wish = next((c.then for c in reading.clauses if c is not goal and c.sort == "learn" and c.then
                 and _member_of(c.subject, cast) is hero), None)
    return Premise(hero, supporting, other, recipient, thing, thing_noun, verb, sort, then, catalyst, members,
                   locations, extra=goal.extra if goal else "", predicate=predicate,
                   phrase=goal.phrase if goal else "", thing_is_place=thing_is_place, thing_written=written,
                   partner=partner, wish=wish)


def _definite(phrase: str) -> str:
    words = phrase.split()
    if words and words[0].lower() in ("a", "an", "one", "some"):
        words[0] = "the"
    return " ".join(words)


def _with_names(predicate: str, cast: list[Party], thing: str | None) -> str:
    """The idea's words with its actors called by their names and 'it' by what it is."""
    text = predicate
    for member in cast:
        phrase = member.actor.phrase if member.actor else ""
        if not phrase or phrase == member.name:
            continue
        pattern = re.compile(rf"(?<!\w){re.escape(phrase)}(?: (?:named|called) {re.escape(member.name)})?(?!\w)",
                             re.IGNORECASE)
        text = pattern.sub(member.name, text, count=1)
    if thing:
        text = re.sub(r"(?<!\w)(it|them)(?!\w)", thing, text, count=1)
    return _definite(text)


# --------------------------------------------------------------------------- the beat sheet

#: Story order of the core beats and which to keep first when the film is short.
CORE = ["opening", "catalyst", "reaction", "meeting", "departure", "trial", "midpoint", "crisis", "climax", "final"]
PRIORITY = ["climax", "opening", "catalyst", "final", "crisis", "meeting", "midpoint", "trial", "departure",
            "reaction"]
#: Beats added, in turn, to longer films: before the midpoint, then between the midpoint and the crisis.
EXTRA_BEFORE = ["journey", "trial", "rest", "discovery"]
EXTRA_AFTER = ["journey", "trial", "discovery", "rest"]


def beat_keys(segments: int, allies: int) -> list[str]:
    core = list(CORE)
    if allies == 0:
        core.remove("meeting")
    if segments <= len(core):
        keep = [k for k in PRIORITY if k in core][:segments]
        return [k for k in core if k in keep]
    keys = list(core)
    extra = segments - len(core)
    for _ in range(max(0, min(allies, 6) - 1)):  # one meeting beat per ally
        if extra:
            keys.insert(keys.index("meeting") + 1, "meeting")
            extra -= 1
    if extra and segments >= 16:  # long films: an ordinary day before the call, a rally after the fall
        keys.insert(1, "routine")
        keys.insert(keys.index("crisis") + 1, "rally")
        extra -= 2
    for i in range(max(0, extra)):
        if i % 2 == 0:
            keys.insert(keys.index("midpoint"), EXTRA_BEFORE[(i // 2) % len(EXTRA_BEFORE)])
        else:
            keys.insert(keys.index("crisis"), EXTRA_AFTER[(i // 2) % len(EXTRA_AFTER)])
    return keys[:segments] if len(keys) > segments else keys


def _acts(keys: list[str]) -> list[int]:
    """Act of each beat: setup until the departure, confrontation until the crisis, then resolution."""
    acts, act = [], 0
    for key in keys:
        if act == 0 and key in ("trial", "journey", "midpoint", "discovery", "rest"):
            act = 1
        if act == 1 and key in ("rally", "climax", "final"):
            act = 2
        acts.append(act)
    if len(set(acts)) < min(3, len(keys)):
        acts = [min(2, i * 3 // len(keys)) for i in range(len(keys))]
    return acts


def _location_for(i: int, keys: list[str], acts: list[int], locations: list[Location]) -> Location:
    """Act one at the first place, act two through the middle ones, the climax at the last."""
    if len(locations) == 1:
        return locations[0]
    if acts[i] == 0:
        return locations[0]
    if acts[i] == 2:
        return locations[-1]
    middle = locations[1:-1] or locations[-1:]
    span = [j for j, a in enumerate(acts) if a == 1]
    position = span.index(i) if i in span else 0
    return middle[min(len(middle) - 1, position * len(middle) // max(1, len(span)))]


TIME_ORDER: list[TimeOfDay] = ["dawn", "day", "dusk", "night"]


def plan_beats(p: Premise, segments: int, start_time: TimeOfDay) -> list[BeatPlan]:
    keys = beat_keys(segments, len(p.allies))
    acts = _acts(keys)
    plans: list[BeatPlan] = []
    joined: list[Party] = []
    ally_queue = list(p.allies)
    for i, key in enumerate(keys):
        if key == "meeting" and ally_queue:
            joined.append(ally_queue.pop(0))
        if key in ("departure", "trial", "midpoint") and ally_queue and keys.count("meeting") <= len(joined):
            joined.append(ally_queue.pop(0))
        present = [*p.hero.members, *(m for party in joined for m in party.members)]
        if key == "crisis" and joined and len(keys) > 3:
            present = list(p.hero.members)  # alone at the worst moment: the friends have been separated
        if p.other and key in ("catalyst", "reaction", "midpoint", "climax", "final", "trial", "rest") \
                and (p.sort in ("bond", "contest") or key in ("midpoint", "climax", "final")):
            present += p.other.members
        if p.recipient and key in ("climax", "final"):
            present += p.recipient.members
        present = list(dict.fromkeys(present))[:6]
        location = _location_for(i, keys, acts, p.locations)
        stage = (acts[i] + (1 if key in ("crisis",) else 0) + (1 if key == "final" else 0))
        time = TIME_ORDER[(TIME_ORDER.index(start_time) + stage) % 4] if segments > 2 else start_time
        plans.append(BeatPlan(key, acts[i], location, present, time))
    seen = {m.name for plan in plans for m in plan.present}
    for member in p.cast:  # everyone the idea names is in the film, at least at the end
        if member.name not in seen:
            for plan in plans[-2:]:
                if len(plan.present) < 6:
                    plan.present.append(member)
    return plans


# --------------------------------------------------------------------------- writing a beat


#: A slot of a template, or a verb in angle brackets that agrees with the slot before it: "{hero} <falls>"
#: (English: the singular, made plural for a group) or "<tombe|tombent>" (the singular and the plural).
_TEMPLATE_PART = re.compile(r"\{(\w+)\}|<([^<>|]+)(?:\|([^<>]+))?>")


def agree(template: str, plural: dict[str, bool]) -> str:
    """The template with each marked verb in the number of the slot just before it (a group or one)."""
    subject = False

    def part(match: re.Match) -> str:
        nonlocal subject
        if match.group(1) is not None:
            subject = plural.get(match.group(1).removesuffix("_cap"), subject)  # places and things: objects
            return match.group(0)
        one, many = match.group(2), match.group(3)
        return (many if many is not None else plural_verb(one)) if subject else one

    return _TEMPLATE_PART.sub(part, template)


def _say(rng: random.Random, options: list[str], plural: dict[str, bool] | None = None, **fill: str) -> str:
    if fill.get("ally_role") and fill["ally_role"].split()[-1].lower() in fill.get("ally", "").lower():
        options = [o for o in options if "{ally_role}" not in o] or options  # not "Bear, a bear, comes"
    return sentence(agree(rng.choice(options), plural or {}).format(**fill))


def _plural_phrase(phrase: str | None) -> bool:
    """Whether a noun phrase of the idea names several ('the rice balls'): its last word is a known plural."""
    if not phrase:
        return False
    last = phrase.split()[-1].lower()
    return any(plural(one) == last for one in singulars(last))


def _trait_ing(member: CastMember | Party | None) -> str:
    trait = member.actor.trait if member and member.actor else ""
    if not trait:
        return ""
    head, _, rest = trait.partition(" ")
    return f"{gerund(base_form(head.lower()))} {rest}".strip()


def can_speak(member: CastMember) -> bool:
    if member.kind in ("person", "robot", "creature"):
        return True
    actor = member.actor
    words = set(actor.adjectives) if actor else set()
    trait = actor.trait.lower() if actor else ""
    return bool(words & {"talking", "speaking", "singing", "chatty"} or "speak" in trait or "talk" in trait
                or "sing" in trait or (actor and actor.name))


LINES: dict[str, dict[str, list[str]]] = {
    "reaction": {
        "find": ["Where did you come from?", "What are you, little {noun}?", "Nobody will believe this."],
        "deliver": ["This belongs to {recipient}.", "I have to take it back.", "Someone is waiting for this."],
        "bond": ["Who are you?", "Are you... talking to me?", "Don't be afraid of me."],
        "contest": ["I can beat you.", "You're on.", "Not this time."],
        "rescue": ["I have to help.", "Hold on, I'm coming.", "Nobody else will go."],
        "make": ["I can make this work.", "Just a little longer.", "It has to be perfect."],
        "learn": ["One day I will {then}.", "Why not me?", "Just once, I want to {then}."],
        "journey": ["It's now or never.", "Just a little further.", "I have to see it."],
        "share": ["There's enough for two.", "Here, this is for you too.", "Here, we'll share it."],
    },
    "meeting": {"ally": ["You'll need help with that.", "Not without me.", "Where are we going?",
                         "I heard you were looking for help."],
                "hero": ["Stay close.", "Then come with me.", "I'm glad you came."]},
    "trial": {"any": ["Hold on!", "Keep going!", "Don't let go!", "This way!", "Watch out!"]},
    "midpoint": {"any": ["Look at that.", "It's working.", "We're close now.", "Did you see that?"]},
    "crisis": {"hero": ["I can't do this alone.", "No... not now.", "Not like this."],
               "together": ["We can't stop now.", "Don't give up on me.", "Stay close to me."],
               "answer": ["I'm still here.", "Together, then.", "Hold on to me."]},
    "rally": {"ally": ["We're not done yet.", "Get up. We finish this.", "I'm right here."]},
    "climax": {"find": ["There you are.", "Found you."], "deliver": ["This is yours.", "I brought it back."],
               "bond": ["I'm not afraid of you.", "Friends, then?"], "contest": ["Now!", "Not this time!"],
               "rescue": ["Take my hand!", "I've got you."], "make": ["It's finished.", "Now it works."],
               "learn": ["Now!", "I'm doing it!"], "journey": ["We made it.", "There it is."],
               "share": ["Plenty for both of us.", "Better, shared."]},
    "final": {"any": ["Thank you.", "We did it.", "Same time tomorrow?", "Home at last."]},
    "rest": {"any": ["Tell me about home.", "Do you ever get scared?", "Get some sleep."]},
}
DELIVERY = {"reaction": "hushed, amazed", "meeting": "warm, a little out of breath", "trial": "shouted over the noise",
            "midpoint": "quiet, wondering", "crisis": "broken, close to tears", "rally": "firm and steady",
            "climax": "clear and certain", "final": "soft, smiling", "rest": "low and easy"}
NARRATION: dict[str, list[str]] = {
    "opening": ["{place_cap}. {hero} {routine}, as on every other day.",
                "{at_place_cap}, {hero} {routine} alone.", "Every day, {hero} {routine}. Today will be different."],
    "routine": ["{hero} {routine} and <watches> the light change.", "Nothing {at_place} has changed in years.",
                "{hero} <knows> every corner of {place} by heart."],
    "reaction": ["{hero} <hesitates>. Nothing will be the same now.", "For a long moment, {hero} <does> not move.",
                 "{hero} <looks> again, to be sure it is real."],
    "meeting": ["{ally} <arrives> just in time.", "{ally}, {ally_role}, <comes> to help.",
                "{ally} <joins> {hero}, without being asked."],
    "departure": ["{hero} <leaves> {place} behind and <heads> for {next}.", "{hero} <sets> out for {next}.",
                  "{hero} <sets> out for {next}, and <does> not look back."],
    "journey": ["The way to {next} is longer than it looked.", "{hero} <presses> on, one step at a time.",
                "{place_cap} stretches on and on."],
    "trial": ["{at_place_cap}, {hero} <meets> {obstacle}.", "{hero} <runs> into {obstacle}.",
              "Here, {obstacle} <stands> in the way."],
    "rest": ["{hero} <rests>, and <thinks> about home.", "A quiet moment {at_place}, before the hard part.",
             "Night falls. For once, nobody is in a hurry."],
    "discovery": ["{place_cap} hides more than it shows.", "Something {at_place} has been waiting.",
                  "{hero} <notices> what nobody else has seen."],
    "crisis": ["Then {obstacle} <strikes>, and {hero} <is> alone.", "{hero} <falls>, and for a moment all is lost.",
               "Everything {hero} <has> done seems for nothing."],
    "rally": ["{hero} <gets> up. There is still time.", "{hero} <tries> once more.",
              "{hero} <remembers> why this matters."],
    "final": ["{place_cap} is quiet again, but {hero} <is> not the same.",
              "When the light returns, {hero} <is> still smiling.",
              "{hero} <is> home, and the world is a little wider."],
}
CATALYST: dict[str, list[str]] = {
    "find": ["Then, {at_place}, {hero} {catalyst}.", "And there, {at_place}, {hero} {catalyst}."],
    "deliver": ["Then {thing} <comes> into {poss} hands, and with it a task.", "Then {hero} {catalyst}."],
    "bond": ["Then {other} <comes>, {trait}.", "Then {other} <arrives>, {trait}."],
    "contest": ["Then {other} <appears>, and the challenge is set.", "Then {other} <comes>, faster than anything."],
    "rescue": ["Then word comes: {other} <is> in danger.", "Then {hero} <sees> it: {thing_or_other} <needs> help."],
    "make": ["Then {hero} <decides> to {goal_base}.", "Then {hero} <sees> what is missing."],
    "learn": ["Then {hero} <feels> the wind and <decides> to {then}.", "Then {hero} <dreams> of learning to {then}."],
    "journey": ["Then {hero} <sees> the way to {next}.", "Then the way to {next} opens."],
}
MIDPOINT: dict[str, list[str]] = {
    "find": ["{thing_cap} <glows> brighter, as if <it knows|they know> the way.",
             "Now {hero} <understands> what {thing} is."],
    "deliver": ["{thing_cap} <is> heavy, but {recipient_or_next} is close now.", "{hero} <holds> {thing} tight."],
    "bond": ["{other} <listens>, and <begins> to trust {hero}.", "{other} and {hero} begin to understand each other."],
    "contest": ["For one moment, {hero} <is> ahead of {other}.", "{hero} <learns> how {other} <moves>."],
    "rescue": ["{hero} <finds> {thing_or_other}, weak but still there.", "{hero} <is> close to {thing_or_other} now."],
    "make": ["Piece by piece, it begins to take shape.", "It almost works."],
    "learn": ["For one breath, {hero} <rises> off the ground.", "{hero} <falls>, <gets> up, and <tries> again."],
    "journey": ["{place_cap} is stranger than any map.", "Halfway there, {hero} <looks> back once."],
}
CLIMAX = ["At last, {hero} {achieve}.", "With everything left, {hero} {achieve}.", "{hero} {achieve}."]
#: What someone of a trade does at the start of the day (else the set's routine).
ROLE_ROUTINES = {"diver": "swim down through the green water", "lighthouse keeper": "climb the lighthouse stairs "
                 "and polish the great lamp", "keeper": "climb the stairs and polish the great lamp",
                 "baker": "knead the dough and light the oven", "astronaut": "check the oxygen gauge and walk the "
                 "empty plain", "fisherman": "mend the nets", "farmer": "feed the animals", "librarian": "shelve "
                 "the returned books", "courier": "sort the letters", "postman": "sort the letters",
                 "gardener": "water the seedlings", "painter": "mix the colours", "sailor": "coil the ropes",
                 "violinist": "tune the old violin", "musician": "tune the old violin",
                 "fiddler": "tune the old violin",
                 "knight": "polish the sword"}
#: What a character who is not a person does every day.
KIND_ROUTINES = {"animal": "pad along the usual path", "bird": "circle overhead and land on the same perch",
                 "sea_creature": "swim slow circles", "creature": "wander the edges of the place",
                 "robot": "run the morning checks", "object": "wait in the same spot and watch",
                 "element": "drift over everything"}
#: Gestures of a beat: (who, gesture, at) with who = hero, ally, other, all.
GESTURES: dict[str, list[tuple[str, Gesture, float]]] = {
    "opening": [("hero", "look_around", 0.55)], "routine": [("hero", "reach", 0.5)],
    "catalyst": [("hero", "kneel", 0.35), ("hero", "pick_up", 0.6)], "reaction": [("hero", "hold_up", 0.5)],
    "meeting": [("ally", "wave", 0.55), ("hero", "nod", 0.8)], "departure": [("hero", "point", 0.3)],
    "journey": [("hero", "look_around", 0.6)], "trial": [("hero", "shiver", 0.5), ("ally", "reach", 0.65)],
    "rest": [("hero", "sit", 0.4), ("ally", "sit", 0.45)], "discovery": [("hero", "point", 0.4),
                                                                         ("hero", "touch", 0.7)],
    "midpoint": [("hero", "hold_up", 0.55)], "crisis": [("hero", "kneel", 0.55)],
    "rally": [("ally", "reach", 0.35), ("hero", "nod", 0.7)],
    "climax": [("hero", "give", 0.6), ("other", "nod", 0.75)], "final": [("all", "wave", 0.6)],
}
#: A second wish of the idea's that the last beat fulfils: "a fox who wants to fly joins the geese" ends flying.
WISH_GESTURES: dict[str, Gesture] = {"fly": "fly", "swim": "swim", "dance": "dance", "jump": "jump"}
SORT_GESTURE: dict[str, Gesture] = {"learn": "fly", "bond": "hug", "contest": "jump", "journey": "point",
                                    "make": "hold_up", "rescue": "reach", "find": "hold_up", "deliver": "give"}
POSE_OF: dict[str, Pose] = {"kneel": "kneel", "sit": "sit", "reach": "reach", "touch": "reach", "pick_up": "kneel",
                            "hold_up": "reach", "give": "reach", "wave": "wave", "point": "reach",
                            "look_around": "look_up", "fly": "look_up"}
SHOTS: dict[str, Shot] = {"opening": "wide", "routine": "medium", "catalyst": "close", "reaction": "close",
                          "meeting": "medium", "departure": "wide", "journey": "wide", "trial": "wide",
                          "rest": "medium", "discovery": "medium", "midpoint": "medium", "crisis": "close",
                          "rally": "medium", "climax": "medium", "final": "wide"}
CAMERA: dict[Shot, list[str]] = {
    "wide": ["Wide shot, slow pan right", "Wide establishing shot, gentle drift", "Slow crane down, wide"],
    "medium": ["Medium shot, slow dolly in", "Medium tracking shot moving right", "Handheld medium shot"],
    "close": ["Close-up, slow push-in", "Low-angle close-up, slight tilt up", "Close shot, shallow focus, still"],
}
VISIBLE: dict[Gesture, str] = {
    "point": "points ahead", "reach": "reaches out a hand", "touch": "touches {prop}", "pick_up": "picks up {prop}",
    "hold_up": "holds up {prop}", "give": "holds out {prop}", "wave": "waves", "hug": "leans in close",
    "jump": "jumps up", "look_around": "turns slowly, looking around", "nod": "nods", "kneel": "kneels down",
    "sit": "sits down", "turn": "turns around", "fly": "lifts off the ground", "swim": "swims forward",
    "dance": "sways and turns", "shiver": "braces and shivers", "laugh": "laughs",
}


#: Gestures that handle a prop (the beat names it).
HANDLING = ("pick_up", "hold_up", "give", "touch")


@dataclass
class Move:
    """One gesture of one character in a segment, and what the camera sees of it (3rd person singular)."""

    member: CastMember
    gesture: Gesture
    at: float
    prop: str | None
    shown: str  # what the camera sees, 3rd person singular; "{prop}" is the story's thing: "holds up {prop}"


class BeatWriter:
    """Writes every beat of one film (one instance per film; seeded)."""

    def __init__(self, p: Premise, rng: random.Random, seconds: float, tongue: languages.Tongue | None = None) -> None:
        self.p, self.rng, self.tongue = p, rng, tongue
        self.budget = max(3, math.floor(seconds * WORDS_PER_SECOND))
        self.injured: dict[str, str] = {}
        self.party_of = {id(m): party for party in [p.hero, *p.allies, *[x for x in (p.other, p.recipient) if x]]
                         for m in party.members}

    def allies_in(self, plan: BeatPlan) -> list[Party]:
        return [a for a in self.p.allies if a.lead in plan.present]

    def numbers(self, plan: BeatPlan) -> dict[str, bool]:
        """Which slots of a template are groups (their verbs agree in the plural)."""
        p = self.p
        allies = self.allies_in(plan)
        return {"hero": p.hero.plural, "thing": _plural_phrase(p.thing),
                "ally": (allies[0] if allies else p.hero).plural,
                "obstacle": " and " in plan.location.profile.obstacle,  # "a downpour and a flooded ford strike"
                "other": bool(p.other and p.other.plural), "recipient": bool(p.recipient and p.recipient.plural),
                "thing_or_other": bool(p.other and p.other.plural),
                "recipient_or_next": bool(p.recipient and p.recipient.plural)}

    def fill(self, plan: BeatPlan, next_location: Location) -> dict[str, str]:
        if self.tongue is not None:
            return self.local_fill(plan, next_location)
        p, location = self.p, plan.location
        allies = self.allies_in(plan)
        ally = allies[0] if allies else None
        thing = p.thing or (p.other.name if p.other else "the way")
        catalyst = p.catalyst
        if catalyst and isinstance(catalyst.object, Thing) and not p.visible:
            words = catalyst.object.phrase
            catalyst_text = f"{third_person(catalyst.verb)} {words}"
        elif p.visible:
            catalyst_text = f"{third_person('find')} {p.visible}"
        elif p.sort in ("find", "deliver") and p.thing:
            found = p.thing.replace('the ', 'a ', 1) if p.thing.startswith('the ') else p.thing
            catalyst_text = f"{third_person('find')} {found}"
        else:
            catalyst_text = f"{third_person('find')} something strange"
        recipient = p.recipient.name if p.recipient else "its owner"
        routine = ROLE_ROUTINES.get(p.hero.noun, location.profile.routine) \
            if plan.key == "opening" and _at_work(p.hero, location) \
            else location.profile.routine
        if p.hero.kind != "person":
            routine = KIND_ROUTINES[p.hero.kind]
        routine_3sg = " and ".join(p.hero.verb(third_person(part.strip())) for part in routine.split(" and "))
        return {
            "hero": p.hero.name, "poss": p.hero.possessive, "obj": p.hero.objective,
            "ally": ally.name if ally else p.hero.name, "ally_role": self.ally_role(ally),
            "noun": (p.thing_noun or "one").split()[-1],
            "other": p.other.name if p.other else "the unknown", "trait": _trait_ing(p.other) or "out of nowhere",
            "thing": thing, "thing_cap": capitalise(thing), "thing_or_other": p.other.name if p.other else thing,
            "recipient": recipient, "recipient_or_next": recipient if p.recipient else next_location.name,
            "place": location.name, "place_cap": capitalise(location.name), "at_place": location.at,
            "at_place_cap": capitalise(location.at), "next": next_location.name,
            "obstacle": location.profile.obstacle, "routine": routine_3sg,
            "catalyst": p.hero.verb(catalyst_text),
            "goal": p.goal("3sg"), "goal_base": p.goal("base"), "then": p.then or "fly", "achieve": p.achieve(),
        }

    def ally_role(self, ally: Party | None) -> str:
        """'her grandfather' (the idea says whose), else 'a talking octopus' ('two cats' for a group)."""
        if ally is None:
            return ""
        if ally.actor is not None and ally.actor.relation:
            return f"{self.p.hero.possessive} {ally.actor.relation}"
        if ally.plural:
            return ally.label.removeprefix("the ")
        return with_article(ally.character.role)

    def narration(self, key: str, plan: BeatPlan, fill: dict[str, str]) -> str:
        if self.tongue is not None:
            return self.local_narration(key, plan, fill)
        options = {"catalyst": CATALYST[self.p.story_sort], "midpoint": MIDPOINT[self.p.story_sort],
                   "climax": CLIMAX}.get(key) or NARRATION[key]
        if key == "midpoint" and self.p.thing_is_place:
            options = ["{thing_cap} <is> in sight now.", "{hero} can see {thing} at last."]
        if key == "catalyst" and self.p.other is None and self.p.sort in ("bond", "contest", "rescue"):
            options = ["Then {thing} <appears>.", "Then {hero} <notices> {thing}."]
        if key == "catalyst" and self.p.sort == "deliver" and self.p.thing is None and self.p.other:
            options = ["Then {other} <arrives>, lost.", "Then {hero} <meets> {other}."]
        if key == "catalyst" and self.p.sort == "bond" and self.p.other and not _trait_ing(self.p.other):
            options = ["Then {other} <arrives>."]
        if key == "midpoint" and self.p.sort == "bond" and self.p.other is None:
            options = ["{hero} <holds> {thing} close.", "Little by little, {thing} <brings> {hero} together."
                       if self.p.hero.plural else "Little by little, {thing} <changes> everything."]
        if key == "opening" and self.p.hero.plural:  # a group is introduced by what it is, then by name
            options = [(f"{{place_cap}}. {capitalise(self.p.hero.label.removeprefix('the '))}, {{hero}}, "
                       "{routine}, as on every other day."),
                       (f"Every day, {self.p.hero.label.removeprefix('the ')}, {{hero}}, {{routine}}. "
                       "Today will be different.")]
        return _say(self.rng, options, self.numbers(plan), **fill)

    def dialogue(self, key: str, plan: BeatPlan, fill: dict[str, str], room: int) -> list[DialogueLine]:
        bank = (self.tongue.lines if self.tongue else LINES).get(key)
        if not bank:
            return []
        speakers = [m for m in plan.present if can_speak(m)]
        if not speakers:
            return []
        lines: list[DialogueLine] = []
        wanted: list[tuple[CastMember, list[str]]] = []
        heroes = [m for m in self.p.hero.members if m in speakers]
        hero = heroes[0] if heroes else None
        allies = [m for m in speakers if any(m in a.members for a in self.p.allies)]
        company = len(plan.present) > 1
        if key in ("reaction", "climax") and hero:
            sort = "share" if self.p.verb == "share" and self.p.thing_noun else \
                "find" if self.p.sort == "bond" and self.p.other is None else self.p.sort  # nobody to befriend
            wanted.append((hero, bank.get(sort, bank["journey"])))
        elif key in ("meeting", "rally") and allies:
            wanted.append((allies[-1], bank["ally"]))
            if hero and "hero" in bank:
                wanted.append((hero, bank["hero"]))
        elif "hero" in bank and hero:
            together = self.p.hero.plural and "together" in bank
            wanted.append((hero, bank["together" if together else "hero"]))
            if together and len(heroes) > 1:  # a pair answers each other
                wanted.append((heroes[1], bank["answer"]))
        elif "any" in bank and company:
            wanted.append((self.rng.choice(speakers), bank["any"]))
        for speaker, options in wanted:
            text = sentence(self.rng.choice(options).format(**fill))
            if len(text.split()) > room:
                break
            room -= len(text.split())
            lines.append(DialogueLine(speaker=speaker.name, line=text, delivery=DELIVERY.get(key, "plain")))
        return lines

    def moves(self, key: str, plan: BeatPlan) -> list[Move]:
        """Each character's gestures in the beat; a group makes its gesture together, a moment apart."""
        out: list[Move] = []
        allies = self.allies_in(plan)
        other = self.p.other if self.p.other and self.p.other.lead in plan.present else None
        for who, gesture, at in GESTURES.get(key, []):
            members = {"hero": self.p.hero.members, "ally": allies[-1].members if allies else [],
                       "other": other.members if other else [], "all": plan.present}[who]
            holdable = bool(self.p.thing_noun and not self.p.thing_is_place)
            if key == "climax" and who == "hero":
                gesture = SORT_GESTURE.get(self.p.sort, gesture)
                if self.p.verb == "share" and holdable:
                    gesture = "hold_up"  # "share one umbrella": held over everyone
            for j, member in enumerate(m for m in members if m in plan.present):
                holdable = bool(self.p.thing_noun and not self.p.thing_is_place)
                prop = self.p.thing_noun if holdable and gesture in HANDLING else None
                chosen = gesture
                if prop is None and chosen in HANDLING:
                    chosen = "reach"
                if prop is not None and j > 0:  # one thing, held by one of a group: the others lean in
                    chosen, prop = "hug", None
                if key == "final" and member in self.p.hero.members and self.p.wish in WISH_GESTURES:
                    chosen = WISH_GESTURES[self.p.wish]  # the wish comes true at the end: the fox flies too
                chosen = _fit(member, chosen)
                when = at if who == "all" else min(0.95, at + 0.05 * j)
                out.append(Move(member, chosen, when, prop, VISIBLE[chosen]))
        return self.props_in_use(key, plan, out)

    def props_in_use(self, key: str, plan: BeatPlan, moves: list[Move]) -> list[Move]:
        """The props the idea implies, held and used where the action uses them: the story's thing as its use
        is seen ("holds the umbrella up over both of them"), and the hero's trade in hand: a violinist lifts
        the violin at the opening, and plays it at the midpoint and the climax of a goal the violin is for
        ("plays for the whales") when the story has no other thing to hold."""
        p, lead = self.p, self.p.hero.lead
        them = "both of them" if len(plan.present) == 2 else "all of them" if len(plan.present) > 2 else \
            f"{lead.possessive} head"
        use = lexicon.PROP_USES.get(p.thing_noun or "") or lexicon.PROP_USES.get((p.thing_noun or "").split(" ")[-1])
        for move in moves:
            if use and move.prop == p.thing_noun and move.gesture == "hold_up":
                move.shown = use.replace("{them}", them)
        prop = lead.prop
        if not prop or lead not in plan.present or prop == p.thing_noun:
            return moves
        holdable = bool(p.thing_noun and not p.thing_is_place)
        own = p.verb in lexicon.PROP_VERBS.get(prop, set()) \
            or (p.phrase or "").split(" ")[0] in lexicon.PROP_VERBS.get(prop, ())
        if key == "opening" or (key in ("midpoint", "climax") and own and not holdable):
            shown = lexicon.PROP_USES.get(prop, "holds up {prop}").replace("{them}", them) \
                .replace("{prop}", f"the {prop}")
            first = next((m for m in moves if m.member is lead), None)
            played = Move(lead, "hold_up", first.at if first else 0.5, prop, shown)
            moves = [played if m is first else m for m in moves] if first else [played, *moves]
        return moves

    def write(self, index: int, plan: BeatPlan, next_location: Location, scene: int) -> Segment:
        fill = self.fill(plan, next_location)
        narration = self.narration(plan.key, plan, fill)
        if len(narration.split()) > self.budget:
            hero = self.p.hero
            short = [sentence(f"{hero.name} {hero.verb(third_person('go'))} on"),
                     sentence(f"{hero.name} {hero.verb('waits')}"), sentence(hero.name)]
            if self.tongue is not None:
                short = [self.say([o], plan, fill) for o in self.tongue.special["short"]] + [sentence(hero.name)]
            narration = next((n for n in short if len(n.split()) <= self.budget), short[-1])
        lines = self.dialogue(plan.key, plan, fill, self.budget - len(narration.split()))
        moves = self.moves(plan.key, plan)
        spot = self.rng.choice(plan.location.profile.spots)
        if plan.key == "crisis" and self.p.hero.kind == "person":
            self.injured.setdefault(self.p.hero.lead.name, "a grazed left hand wrapped in a strip of cloth")
        return Segment(
            index=index,
            title=self.tongue.beats[plan.key] if self.tongue else capitalise(plan.key.replace("_", " "))
            if plan.key not in ("opening", "final") else {"opening": "Opening image", "final": "Final image"}[plan.key],
            narration=narration,
            action=self.action(plan, moves, fill, spot),
            dialogue=lines,
            characters=[m.name for m in plan.present],
            setting=spot,
            location=plan.location.id,
            scene=scene,
            motion=self.motion(plan, moves),
            beats=[ActionBeat(character=m.member.name, gesture=m.gesture, at=m.at, prop=m.prop) for m in moves][:8],
        )

    # -- the script's language (French, Spanish): the same story in the language's own templates

    def say(self, options: list[str], plan: BeatPlan, fill: dict[str, str]) -> str:
        text = _say(self.rng, options, self.numbers(plan), **fill)
        return languages.tidy(text, self.tongue.code) if self.tongue else text

    @property
    def local_tongue(self) -> languages.Tongue:
        """The script's tongue, for the local_* methods: only a script in another language than English calls them."""
        if self.tongue is None:
            raise RuntimeError("an English script has no local tongue")
        return self.tongue

    def local_thing(self) -> str:
        """The story's thing in the idea's own words, made definite: 'la boulangerie', "l'umbrella"."""
        p, tongue = self.p, self.local_tongue
        if p.thing_written:
            return languages.definite_phrase(p.thing_written, tongue.code)
        if p.thing == "a way home" or not p.thing:
            return tongue.abstract["way home"]
        return p.visible or p.thing

    def local_goal(self) -> tuple[str, str, str, str, str]:
        """The goal in the script's language: (singular, plural, infinitive, done singular, done plural)."""
        p, tongue = self.p, self.local_tongue
        if p.then:
            link = tongue.verbs.get(f"{p.verb} to") or tongue.verbs["learn to"]
            then = tongue.verbs.get(p.then)
            then_inf = then.infinitive if then else p.then
            forms = (f"{link.singular} {then_inf}", f"{link.plural} {then_inf}", f"{link.infinitive} {then_inf}")
            return (*forms, *((then.singular, then.plural) if then else forms[:2]))
        verb = tongue.verbs.get(p.verb) or tongue.verbs[tongue.sort_verbs.get(p.sort, "find")]
        finds = p.sort in ("find", "deliver", "make", "rescue") and p.thing
        target = self.local_thing() if finds or not p.other else p.other.name
        if p.other and target == p.other.name and tongue.code == "es":
            target = f"a {target}"  # "conoce a Lucía": the a before someone
        to = f" {'à' if tongue.code == 'fr' else 'a'} {p.recipient.name}" \
            if p.recipient and p.recipient is not p.other else ""
        tail = f" {target}{to}" if target else to
        singular, plural, infinitive = (languages.tidy(f"{v}{tail}", tongue.code)
                                        for v in (verb.singular, verb.plural, verb.infinitive))
        if p.seeking:  # "busca a su perro" ... at last "encuentra al Perro"
            found = tongue.verbs["find"]
            return (singular, plural, infinitive, languages.tidy(f"{found.singular}{tail}", tongue.code),
                    languages.tidy(f"{found.plural}{tail}", tongue.code))
        return (singular, plural, infinitive, singular, plural)

    def local_role(self, party: Party | None) -> str:
        """Who someone is, in the idea's words: 'un ours', 'deux robots'."""
        if party is None:
            return ""
        if party.plural:
            return party.local_label.split(" ", 1)[-1]
        actor = party.actor
        return actor.phrase if actor is not None and actor.phrase and actor.phrase != party.name else party.name

    def local_fill(self, plan: BeatPlan, next_location: Location) -> dict[str, str]:
        p, tongue, location = self.p, self.local_tongue, plan.location
        allies = self.allies_in(plan)
        ally = allies[0] if allies else None
        place, following = location.local or location.name, next_location.local or next_location.name
        singular, plural, infinitive, done, done_plural = self.local_goal()
        thing = self.local_thing() if p.thing else (p.other.name if p.other else tongue.words["way"])
        routine = tongue.routines.get(p.hero.noun) \
            if plan.key == "opening" and p.hero.kind == "person" and _at_work(p.hero, location) \
            else None
        routine = routine or tongue.routines[p.hero.kind if p.hero.kind != "person" else location.set]
        recipient = p.recipient.name if p.recipient else tongue.words["owner"]
        at_place = languages.at(place, location.set, tongue)
        group = p.hero.local_label.split(" ", 1)[-1] if p.hero.plural else ""
        return {
            "hero": p.hero.name, "ally": ally.name if ally else p.hero.name, "ally_role": self.local_role(ally),
            "other": p.other.name if p.other else tongue.words["unknown"], "thing": thing,
            "thing_cap": capitalise(thing),
            "thing_or_other": p.other.name if p.other else thing, "recipient": recipient,
            "recipient_or_next": capitalise(recipient if p.recipient else following),
            "place": place, "place_cap": capitalise(place), "at_place": at_place, "at_place_cap": capitalise(at_place),
            "next": following, "obstacle": tongue.obstacles[location.set], "routine": routine,
            "goal": plural if p.hero.plural else singular, "goal_inf": infinitive, "then": self.local_then(),
            "achieve": done_plural if p.hero.plural else done, "group": group, "group_cap": capitalise(group),
            "obj_other": languages.tidy(f"a {p.other.name}", tongue.code) if p.other and tongue.code == "es" else
            (p.other.name if p.other else thing),  # Spanish: "encuentra al Perro", someone is met with a
        }

    def local_then(self) -> str:
        then = self.local_tongue.verbs.get(self.p.then or "fly")
        return then.infinitive if then else (self.p.then or "")

    def local_narration(self, key: str, plan: BeatPlan, fill: dict[str, str]) -> str:
        p, tongue = self.p, self.local_tongue
        options = {"catalyst": tongue.catalyst[p.story_sort], "midpoint": tongue.midpoint[p.story_sort],
                   "climax": tongue.climax}.get(key) or tongue.narration[key]
        if key == "midpoint" and p.thing_is_place:
            options = tongue.special["place_midpoint"]
        if key == "catalyst" and p.other is None and p.sort in ("bond", "contest", "rescue"):
            options = tongue.special["thing_appears"]
        if key == "catalyst" and p.sort == "deliver" and p.thing is None and p.other:
            options = tongue.special["other_lost"]
        if key == "midpoint" and p.sort == "bond" and p.other is None:
            options = tongue.special["thing_close"]
        if key == "opening" and p.hero.plural:
            options = tongue.special["group_opening"]
        return self.say(options, plan, fill)

    def scene(self, index: int, plans: list[BeatPlan], continuity: Continuity) -> Scene:
        """The scene of these beats; its title and goal in the script's language."""
        made = make_scene(index, plans, self.p, continuity)
        if self.tongue is None:
            return made
        first = plans[0]
        fill = self.fill(first, first.location)
        goal = self.tongue.scene_goals.get(first.key, self.tongue.scene_goals["other"])
        return made.model_copy(update={
            "title": f"{fill['place_cap']}, {self.tongue.times[first.time]}",
            "goal": capitalise(languages.tidy(agree(goal, self.numbers(first)).format(**fill), self.tongue.code))})

    def acts(self, plans: list[BeatPlan]) -> list[Act]:
        if self.tongue is None:
            return acts(self.p)
        fill = self.fill(plans[0], plans[0].location)
        return [Act(index=i, title=title, summary=sentence(languages.tidy(agree(summary, self.numbers(plans[0]))
                                                                  .format(**fill), self.tongue.code)))
                for i, (title, summary) in enumerate(self.tongue.acts)]

    def together(self, moves: list[Move]) -> list[tuple[list[CastMember], str]]:
        """The moves in order, a group's same move told once: ([Bolt, Rivet], 'looks around')."""
        told: list[tuple[list[CastMember], str]] = []
        for move in sorted(moves, key=lambda m: m.at):
            last = told[-1] if told else None
            same_party = last is not None and self.party_of.get(id(last[0][0])) is self.party_of.get(id(move.member))
            if last is not None and same_party and last[1] == move.shown and move.member not in last[0]:
                last[0].append(move.member)
            else:
                told.append(([move.member], move.shown))
        return told

    def _subject(self, members: list[CastMember], named: bool, seen: set[str]) -> tuple[str, bool]:
        """Who does it, by name (action) or as the camera sees them (motion); and whether that is plural."""
        party = self.party_of.get(id(members[0]))
        whole = party is not None and party.plural and len(members) == len(party.members)
        if named:  # the action is English (it reads like the motion): a group by its English label
            by_label = party is not None and whole and party.by_label
            text = party.label if party is not None and by_label else join([m.name for m in members])
            return text, len(members) > 1
        if all(m.name in seen for m in members):
            text = "they" if len(members) > 1 else members[0].pronoun
        elif whole and party is not None:
            text = party.handle
        else:
            text = join([m.handle for m in members])
        seen.update(m.name for m in members)
        return text, len(members) > 1

    def action(self, plan: BeatPlan, moves: list[Move], fill: dict[str, str], spot: str) -> str:
        """What the camera sees, concrete: each character's gestures in order, where they happen."""
        done: dict[str, tuple[bool, list[str]]] = {}
        for members, shown in self.together(moves):
            subject, many = self._subject(members, True, set())
            done.setdefault(subject, (many, []))[1].append(shown.format(prop=self.p.seen))
        parts = [f"{name} {join([_plural_shown(v) if many else v for v in verbs])}"
                 for name, (many, verbs) in done.items()]
        if plan.key in ("departure", "journey"):
            movers = [m.name for m in plan.present]
            parts.append(f"{join(movers)} {'walk' if len(movers) > 1 else 'walks'} on toward {fill['next']}")
        if not parts:
            movers = [m.name for m in plan.present]
            parts.append(f"{join(movers)} {'stand' if len(movers) > 1 else 'stands'} still")
        return fix_articles(sentence("; ".join(parts) + f", at {spot}"))

    def motion(self, plan: BeatPlan, moves: list[Move]) -> str:
        """What the camera sees move, in order, in plain visual words (no names, no narration)."""
        shot = SHOTS[plan.key]
        camera = self.rng.choice(CAMERA[shot])
        steps: list[str] = []
        seen: set[str] = set()
        thing = self.p.visible or (self.p.thing_noun and f"the {self.p.thing_noun}") or "something small"
        for members, shown in self.together(moves):
            subject, many = self._subject(members, False, seen)
            shown = shown.format(prop=thing)
            steps.append(f"{subject} {_plural_shown(shown) if many else shown}")
        if plan.key in ("departure", "journey", "trial"):
            party = self.p.hero
            movers = [m for m in party.members if m in plan.present] or plan.present[:1]
            subject, many = self._subject(movers, False, seen)
            steps.append(f"{subject} {'walk' if many or subject == 'they' else 'walks'} steadily to the right")
        text = f"{camera}. {capitalise('; then '.join(steps)) if steps else ''}"
        text = text.rstrip() + ("." if steps else "") + f" {capitalise(plan.location.profile.motion)}."
        return fix_articles(" ".join(text.split()))[:1200]


def _plural_shown(shown: str) -> str:
    """'braces and shivers' -> 'brace and shiver': each verb of a visible action, for a group."""
    parts = shown.split(" and ")
    return " and ".join(plural_verb(part) if i == 0 or part.split()[:1] and part.split()[0].endswith("s") and
                        part.split()[0] in {v.split()[0] for v in VISIBLE.values()} | {"shivers", "turns"}
                        else part for i, part in enumerate(parts))


def _at_work(hero: Party, location: Location) -> bool:
    """Whether the hero's trade works here, so its own routine is done: a baker who opens her bakery only at
    the end does not knead dough in the street. A hero with no trade's home is at work anywhere."""
    return ROLE_HOMES.get(hero.noun) in (None, location.set)


def _fit(member: CastMember, gesture: Gesture) -> Gesture:
    """A gesture the character's body can make (a cloud does not kneel, a lantern does not wave)."""
    if member.kind in ("element", "sea_creature") and gesture in ("kneel", "sit", "pick_up", "jump"):
        return "swim" if member.kind == "sea_creature" else "dance"
    if member.kind == "object" and gesture in ("wave", "hug", "pick_up", "give", "point"):
        return "jump"
    if member.kind == "bird" and gesture in ("wave", "kneel", "pick_up"):
        return "fly" if gesture == "wave" else "nod"
    return gesture


# --------------------------------------------------------------------------- acts and scenes


def act_titles(p: Premise) -> list[tuple[str, str]]:
    thing = p.thing or (p.other.name if p.other else "the journey")
    return [
        ("The call", (f"{capitalise(p.locations[0].at)}, {p.hero.name} {p.hero.verb('meets')} {thing} and everything "
                     "changes.")),
        ("The road", f"{p.hero.name} {p.hero.verb('sets')} out to {p.goal('base')}, and the world pushes back."),
        ("The return", f"At the last moment, {p.hero.name} {p.goal('3sg')}."),
    ]


def scene_goal(plan: BeatPlan, p: Premise) -> str:
    goals = {
        "opening": f"show {p.hero.name}'s ordinary day {plan.location.at}",
        "catalyst": f"{p.hero.name} {p.hero.verb('meets')} {p.thing or (p.other.name if p.other else 'the unknown')}",
        "meeting": "the friends join up", "departure": f"leave {plan.location.name}",
        "trial": f"get past {plan.location.profile.obstacle}", "midpoint": "the first real success",
        "crisis": f"{p.hero.name} {p.hero.verb('loses')} everything", "climax": f"{p.hero.name} must {p.goal('base')}",
        "final": "the world, changed",
    }
    return capitalise(goals.get(plan.key, f"press on through {plan.location.name}"))


def group_scenes(plans: list[BeatPlan]) -> list[int]:
    """Scene index of each beat: a new scene where the place, act or time changes, or after five segments."""
    owner: list[int] = []
    for i, plan in enumerate(plans):
        previous = plans[i - 1] if i else None
        run = owner.count(owner[-1]) if owner else 0
        new = previous is None or previous.location is not plan.location or previous.act != plan.act \
            or previous.time != plan.time or run >= 5
        owner.append(owner[-1] + 1 if owner and new else (owner[-1] if owner else 0))
    return owner


def make_scene(index: int, plans: list[BeatPlan], p: Premise, ledger: Continuity) -> Scene:
    first = plans[0]
    present = list(dict.fromkeys(m.name for plan in plans for m in plan.present))
    return Scene(
        index=index, act=first.act, title=f"{capitalise(first.location.name)}, {first.time}",
        location=first.location.id, time_of_day=first.time, present=present[:12],
        goal=scene_goal(first, p), continuity=ledger,
    )


def acts(p: Premise) -> list[Act]:
    return [Act(index=i, title=title, summary=summary) for i, (title, summary) in enumerate(act_titles(p))]


def ledger(p: Premise, present: list[str], props: list[str], injuries: dict[str, str]) -> Continuity:
    """The continuity ledger of a scene: what everyone wears, the props in play, visible marks."""
    by_name = {m.name: m for m in p.cast}
    return Continuity(
        wardrobe={name: by_name[name].outfit for name in present if name in by_name},
        props=props[:12],
        injuries={name: mark for name, mark in injuries.items() if name in present},
    )


__all__ = [
    "WORDS_PER_SECOND",
    "BeatPlan",
    "BeatWriter",
    "Premise",
    "acts",
    "group_scenes",
    "ledger",
    "make_scene",
    "plan_beats",
    "premise",
]
