"""The film's world: one Environment per location, from the idea's places.

Each kind of set (models.SetKind) has a profile (data/sets.toml): how it looks at each time of day, what it is
made of, its props, what it sounds like, the spots a scene can happen at, what pushes back
there (the obstacle a story meets) and what someone does there every day. A location is a
profile plus the idea's own name for the place and the things the story brings there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast, get_args

from filmstitch.models import Ambience, Environment, SetKind, TimeOfDay, slugify
from filmstitch.writers.offline.data_files import load
from filmstitch.writers.offline.english import capitalise


@dataclass(frozen=True)
class SetProfile:
    description: str  # "{name}" is the place's name
    lighting: str  # "{light}" is the time of day's light
    materials: str
    atmosphere: str
    palette: tuple[str, str, str, str, str]  # sky, horizon, ground, accent, accent (in daylight)
    props: tuple[str, ...]
    ambience: tuple[Ambience, ...]
    sound: str
    spots: tuple[str, ...]
    time: TimeOfDay
    obstacle: str  # a noun phrase: what pushes back here
    routine: str  # what someone does here: a verb phrase in the base form
    motion: str  # what moves here on its own, for the video prompt
    nearby: tuple[tuple[str, SetKind], ...]  # where a story goes next from here


def _profile(facts: dict[str, Any]) -> SetProfile:
    """A set of data/sets.toml (TOML has lists, the profile tuples)."""
    return SetProfile(**{**facts, **{name: tuple(facts[name]) for name in ("palette", "props", "ambience", "spots")},
                         "nearby": tuple((place, kind) for place, kind in facts["nearby"])})


def _profiles() -> dict[SetKind, SetProfile]:
    """Every set of data/sets.toml, each of them a SetKind (a typo would be a set nothing can draw)."""
    table = load("sets")
    unknown = set(table) - set(get_args(SetKind))
    if unknown:
        raise ValueError(f"data/sets.toml: not kinds of set of filmstitch.models.SetKind: {sorted(unknown)}")
    return {cast(SetKind, kind): _profile(facts) for kind, facts in table.items()}


PROFILES: dict[SetKind, SetProfile] = _profiles()
LIGHT_WORDS: dict[TimeOfDay, str] = {"dawn": "soft pink dawn light", "day": "clear daylight",
                               "dusk": "warm amber dusk light", "night": "cool blue moonlight"}
TIME_TINT: dict[TimeOfDay, tuple[tuple[float, float, float], float]] = {
    "dawn": ((1.0, 0.78, 0.72), 0.3), "day": ((1.0, 1.0, 1.0), 0.0), "dusk": ((1.0, 0.62, 0.38), 0.38),
    "night": ((0.18, 0.24, 0.45), 0.6),
}
#: How a place of a set is named after a preposition, when the idea does not say.
PREPOSITIONS: dict[SetKind, str] = {"moon": "on", "coast": "on", "ship": "aboard", "salt_flats": "on",
                                    "snow": "on", "desert": "in", "sky": "in", "plains": "in", "street": "in",
                                    "city": "in", "mountains": "in", "space": "in"}
PLACE_AMBIENCE: dict[TimeOfDay, Ambience] = {"night": "night"}


#: Where a trade works: its home set (a baker's bakery), where its story starts and its daily routine is done.
ROLE_HOMES: dict[str, SetKind] = {"lighthouse keeper": "coast", "keeper": "coast", "baker": "bakery",
                                  "astronaut": "moon", "diver": "underwater", "sailor": "ship", "fisherman": "coast",
                                  "pirate": "ship", "farmer": "plains", "librarian": "interior", "detective": "city",
                                  "knight": "castle", "pilot": "sky", "chef": "interior", "inventor": "interior"}


@dataclass
class Location:
    id: str
    name: str
    set: SetKind
    time: TimeOfDay
    props: list[str]
    from_idea: bool
    preposition: str = "in"
    local: str = ""  # its name in the script's language when that is not English ("la boulangerie")

    @property
    def at(self) -> str:
        """'on the moon', 'in the sunken ship', 'aboard the open sea'."""
        return f"{self.preposition} {self.name}"

    @property
    def profile(self) -> SetProfile:
        return PROFILES[self.set]


def tint(hex_colour: str, time: TimeOfDay) -> str:
    """A daylight colour as seen at another time of day (mixed towards the time's light)."""
    (r_t, g_t, b_t), amount = TIME_TINT[time]
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    mixed = (round(r * (1 - amount) + r * r_t * amount), round(g * (1 - amount) + g * g_t * amount),
             round(b * (1 - amount) + b * b_t * amount))
    return "#" + "".join(f"{min(255, max(0, c)):02x}" for c in mixed)


def environment(location: Location, weather: list[str]) -> Environment:
    """The Environment (one location of the world) a location is described as."""
    profile = location.profile
    time = location.time
    ambience = list(dict.fromkeys([*profile.ambience, *(["storm"] if "storm" in weather or "thunderstorm" in
                                                          weather else []),
                                   *(["rain"] if "rain" in weather else []), *([PLACE_AMBIENCE[time]]
                                                                               if time in PLACE_AMBIENCE else [])]))
    weather_words = f" {capitalise(', '.join(weather))} in the air." if weather else ""
    return Environment(
        id=location.id,
        name=location.name,
        description=capitalise(profile.description.format(name=location.name)) + weather_words,
        lighting=profile.lighting.format(light=LIGHT_WORDS[time]),
        materials=profile.materials,
        atmosphere=profile.atmosphere + (", storm-charged" if "storm" in weather else ""),
        palette=[tint(c, time) for c in profile.palette],
        set=location.set,
        time_of_day=time,
        props=list(dict.fromkeys(location.props))[:8],
        ambience=ambience[:4],
        sound=f"{capitalise(profile.sound)}" + (", with thunder rolling far off" if "storm" in weather else ""),
    )


def location_id(name: str, taken: set[str]) -> str:
    base = slugify(name.removeprefix("the ").removeprefix("a "), 32)
    ident, n = base, 2
    while ident in taken:
        ident, n = f"{base}_{n}", n + 1
    return ident
