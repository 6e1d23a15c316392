"""The film's world: one Environment per location, from the idea's places.

Each kind of set (models.SetKind) has a profile: how it looks at each time of day, what it is
made of, its props, what it sounds like, the spots a scene can happen at, what pushes back
there (the obstacle a story meets) and what someone does there every day. A location is a
profile plus the idea's own name for the place and the things the story brings there.
"""

from __future__ import annotations

from dataclasses import dataclass

from filmstitch.models import Ambience, Environment, SetKind, TimeOfDay, slugify
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


PROFILES: dict[SetKind, SetProfile] = {
    "moon": SetProfile(
        "{name}: an airless grey plain of fine regolith under a black sky, the blue Earth hanging low on the "
        "horizon, jagged crater rims, scattered boulders and long hard shadows.",
        "{light}, pitch-black shadows and a faint blue earthshine fill", "powdery grey regolith, pitted basalt, "
        "scratched metal and gold foil", "silent, vast and lonely", ("#05070d", "#2b3a55", "#8c8f96", "#c9c6bf",
                                                                      "#3fa34d"),
        ("a landing craft", "boulders", "a planted flag", "footprints in the dust"), ("space",),
        "near silence: a low hum of the suit, slow breathing, the crunch of boots on dust",
        ("the landing site", "the crater rim", "the boulder field", "a shadowed rille", "a hidden hollow"), "day",
        "a dust storm of static-charged grit", "check the oxygen gauge and walk the empty plain",
        "fine dust lifts and settles slowly in the low gravity",
        (("the crater rim", "moon"), ("the boulder field", "moon"), ("a hidden hollow", "moon"))),
    "space": SetProfile(
        "{name}: a field of hard white stars around a curving blue planet, a small station turning slowly "
        "with its solar panels catching the light.", "{light} against deep black", "white panels, steel, glass "
        "and gold foil", "weightless and silent", ("#03040a", "#10183a", "#2a2f45", "#d8b040", "#6fb6e8"),
        ("a space station", "solar panels", "a tether line"), ("space", "machine"),
        "the hum of air pumps and the click of magnetic boots", ("the airlock", "the observation window",
                                                                 "the outer hull"), "night",
        "a shower of tiny meteoroids", "float along the handrails checking the panels",
        "the planet turns slowly below; tiny lights blink on the station",
        (("the moon", "moon"), ("the outer hull", "space"))),
    "forest": SetProfile(
        "{name}: a deep old forest of mossy trunks, ferns and shafts of light, a slow stream winding through a "
        "clearing.", "{light} filtering through the canopy in dappled pools", "moss, bark, wet stone, ferns and "
        "loam", "hushed and alive", ("#1d3b2a", "#4f7f3f", "#2a2119", "#9cc46a", "#f2d06b"),
        ("mossy trunks", "ferns", "a fallen log", "mushrooms"), ("forest", "birds", "stream"),
        "birdsong, rustling leaves and a trickling stream", ("the forest edge", "a mossy clearing",
                                                             "the stream crossing", "the hollow oak"), "day",
        "a tangle of thorns and a darkening path", "gather mushrooms along the path",
        "leaves drift down through beams of light; ferns sway",
        (("a mossy clearing", "forest"), ("the river", "plains"), ("the hollow oak", "forest"))),
    "coast": SetProfile(
        "{name}: a windswept coast of dark rocks and pale sand facing a restless sea, a rocky headland and "
        "gulls wheeling overhead.", "{light} over the water", "wet rock, pale sand, "
        "salt-bleached wood and rope", "restless and wide open", ("#6d8ca8", "#d9e2e8", "#d8c39a", "#2a4d6b",
                                                                   "#f2b04a"),
        ("rocks", "a rowing boat", "coiled rope", "driftwood"), ("surf", "wind", "birds"),
        "waves breaking on rocks, wind and the cries of gulls", ("the shoreline", "the tide pools",
                                                                  "the old pier", "the lighthouse steps",
                                                                  "the headland"), "day",
        "a rising gale and towering waves", "walk the tideline and check the boats",
        "waves roll in and break into foam; the lighthouse beam sweeps",
        (("the headland", "coast"), ("the open sea", "ship"), ("the harbour", "coast"))),
    "underwater": SetProfile(
        "{name}: green-blue water full of drifting motes, a sandy seabed with swaying kelp and coral, the "
        "broken hull of an old ship half buried in the silt.", "{light} falling in rippling shafts from the "
        "surface", "silt, coral, barnacled timber and rusted iron", "muffled, dreamlike and deep",
        ("#0b3a4a", "#1f6f7a", "#c2b48a", "#f07060", "#5fd3c0"),
        ("the broken hull", "kelp", "coral", "an old anchor"), ("underwater",),
        "muffled water, rising bubbles and the creak of old timber", ("the broken hull", "the kelp forest",
                                                                       "the coral garden", "the open water"),
        "day", "a cold current and darkness below", "swim slow circles over the seabed",
        "bubbles rise; kelp sways; motes of silt drift through shafts of light",
        (("the open sea", "ship"), ("the coral reef", "underwater"), ("the harbour", "coast"))),
    "ship": SetProfile(
        "{name}: the deck of a weathered wooden ship on open water, a tall mast with patched sails, coiled "
        "ropes and a lantern swinging by the wheel.", "{light} on the water", "tarred planks, canvas, rope and "
        "brass", "rolling and free", ("#7fa6c4", "#d6e4ec", "#8a6a48", "#2a4d6b", "#f2b04a"),
        ("a ship's wheel", "coiled rope", "a swinging lantern", "barrels"), ("surf", "wind"),
        "creaking timber, flapping sails and the slap of waves on the hull", ("the deck", "the bow",
                                                                              "the wheel"), "day",
        "a squall that heels the ship over", "coil ropes and check the sails",
        "the deck rolls gently; sails fill and flap; spray flies",
        (("the harbour", "coast"), ("the sunken ship", "underwater"))),
    "city": SetProfile(
        "{name}: a tall city of lit windows, rooftop water tanks and neon signs above rain-slick streets, a "
        "skyline stretching to the horizon.", "{light}, neon pinks and warm window light", "wet asphalt, brick, "
        "glass, steel and neon tubing", "busy and electric", ("#2a2f5a", "#6a5a8f", "#3b3b45", "#ff4fa3",
                                                               "#36d6e7"),
        ("street lamps", "neon signs", "rooftop water tanks"), ("city",),
        "distant traffic, footsteps, a tram bell and a buzzing neon sign", ("a rainy street", "the rooftops",
                                                                            "the tram stop"), "dusk",
        "crowds and traffic that will not stop", "hurry along the crowded pavement",
        "traffic lights change; people pass; steam rises from a grate",
        (("the rooftops", "city"), ("the market", "street"))),
    "street": SetProfile(
        "{name}: a narrow old street of wooden houses with paper lanterns and tiled roofs, a small shop front "
        "glowing, potted plants by the doors.", "{light} and the glow of lanterns", "dark timber, paper screens, "
        "stone paving and roof tiles", "quiet and homely", ("#8fb0d0", "#f0dcc0", "#8a7f72", "#d94f3a",
                                                             "#f2c230"),
        ("paper lanterns", "potted plants", "a bicycle", "shop signs"), ("city", "birds"),
        "footsteps on stone, a bicycle bell, distant voices", ("the street corner", "the shop front",
                                                               "the little bridge"), "day",
        "a steep tangle of alleys", "sweep the step and open the shutters",
        "lanterns sway; a cat crosses; leaves skitter over the stones",
        (("the rooftops", "city"), ("the sky", "sky"), ("the market", "street"))),
    "desert": SetProfile(
        "{name}: endless wind-carved dunes and red sandstone canyons under a bleached sky, a few cacti, an "
        "oasis hidden beyond the ridge.", "{light}", "rippled sand, cracked clay, sandstone and sun-bleached "
        "cloth", "parched and immense", ("#e9d8b4", "#d99a5b", "#c88a52", "#5a3a2a", "#2f7a46"),
        ("dunes", "cacti", "a stone arch"), ("wind",), "hot wind hissing over sand and a distant hawk",
        ("the dune sea", "a canyon mouth", "the stone arch", "the oasis"), "day", "a roaring sandstorm",
        "check the water skins and read the dunes", "sand streams off the dune crests in the wind",
        (("a canyon mouth", "desert"), ("the oasis", "desert"))),
    "snow": SetProfile(
        "{name}: blue glaciers and snowfields below jagged peaks, a small wooden hut half buried in drifts, "
        "snow falling softly.", "{light} on the snow", "powder snow, blue ice, weathered wood and wool",
        "biting, quiet and clean", ("#cfe3f2", "#8fb4d6", "#eef3f8", "#3a4a63", "#e8a0b0"),
        ("snowdrifts", "a wooden hut", "ice crystals", "pine trees"), ("wind",),
        "wind over snow, creaking ice and muffled footsteps", ("the snowfield", "the glacier tongue",
                                                               "the ridge", "the wooden hut"), "day",
        "a blizzard and a hidden crevasse", "dig out the path to the hut", "snow drifts sideways in the wind",
        (("the ice ridge", "snow"), ("the mountain pass", "mountains"))),
    "mountains": SetProfile(
        "{name}: steep grey peaks streaked with snow above green valleys, a winding path of switchbacks and a "
        "stone cairn on the pass.", "{light} on the peaks", "granite, scree, alpine grass and snow",
        "thin-aired and grand", ("#9cc3e6", "#e4eef6", "#7c8a6a", "#4a5a6a", "#f2f2f0"),
        ("a stone cairn", "pine trees", "boulders"), ("wind", "birds"), "wind on rock, a distant eagle",
        ("the path", "the pass", "the summit"), "day", "a rockslide and a narrow ledge",
        "tighten the straps and climb the path", "clouds drift across the peaks",
        (("the pass", "mountains"), ("the summit", "mountains"))),
    "plains": SetProfile(
        "{name}: a wide green valley of rolling hills, a winding road, a river bend and a lone tree under a "
        "big sky.", "{light} with long soft shadows", "grass, dirt road, weathered stone walls and wood",
        "open and gentle", ("#8fc1e3", "#f3d9a4", "#6c9a45", "#3b5a2a", "#e8743b"),
        ("a lone tree", "a stone wall", "wildflowers"), ("wind", "birds", "insects"),
        "wind in the grass, birdsong and insects", ("the road", "the lone tree", "the river bend",
                                                    "the hilltop"), "day", "a sudden downpour and a flooded ford",
        "walk the road to the next village", "grass ripples in waves; clouds drift",
        (("the river bend", "plains"), ("the hilltop", "plains"))),
    "salt_flats": SetProfile(
        "{name}: a blinding white plain of cracked salt hexagons to every horizon, a thin sheet of water "
        "mirroring the sky.", "{light}, mirrored in the wet salt", "crusted salt, brine and sun-bleached "
        "canvas", "vast, bright and strange", ("#9fd0f0", "#eef6fa", "#f2f0ea", "#5a7a9a", "#e8743b"),
        ("salt hexagons", "a mirror of water"), ("wind",), "a dry wind and the crunch of salt underfoot",
        ("the white edge", "the mirror flats", "the far horizon"), "day", "a mirage and a cracking crust",
        "walk the white crust and measure the horizon", "heat shimmers; the mirrored sky ripples",
        (("the mirror flats", "salt_flats"),)),
    "sky": SetProfile(
        "{name}: open sky above a sea of clouds, sunlight on their tops, the roofs of the world far below.",
        "{light} on the clouds", "cloud, wind and light", "weightless and free", ("#6fb6e8", "#e8f4fc",
                                                                                   "#f4f6f8", "#f2c230",
                                                                                   "#e88ab0"),
        ("clouds", "birds in flight"), ("wind", "birds"), "rushing wind and distant birds",
        ("above the clouds", "the high wind", "the cloud bank"), "day", "a gust that tumbles everything",
        "ride the wind", "clouds slide past below; birds wheel",
        (("above the clouds", "sky"),)),
    "interior": SetProfile(
        "{name}: a warm room of worn wooden floors, a window onto the weather, shelves of books and jars and a "
        "table under a hanging lamp.", "{light} through the window and a warm lamp", "worn wood, plaster, "
        "brass and cloth", "close and warm", ("#c8b89a", "#e6d8bc", "#8a6a48", "#b3223b", "#f2c230"),
        ("a hanging lamp", "shelves", "a table", "a window"), ("room",), "a ticking clock and rain on the glass",
        ("the table", "the window", "the doorway"), "day", "a locked door and a failing light",
        "tidy the shelves and set the table", "dust floats in the lamplight; curtains stir",
        (("the street outside", "street"),)),
    "bakery": SetProfile(
        "{name}: a small bakery with a brick oven glowing orange, shelves of round loaves, a flour-dusted "
        "counter and a window onto the street.", "{light} through the window and the glow of the oven",
        "brick, flour-dusted wood, copper pans and warm bread", "warm, floury and homely",
        ("#d9b48a", "#f2e2c4", "#9a6a44", "#e8743b", "#f2c230"),
        ("a brick oven", "shelves of loaves", "a flour-dusted counter", "copper pans"), ("room", "fire"),
        "the crackle of the oven, a ticking clock and the bell over the door", ("the counter", "the oven",
                                                                                "the doorway"), "dawn",
        "a cold oven and an empty flour sack", "knead the dough and light the oven",
        "flour dust floats in the light; the oven fire flickers",
        (("the street outside", "street"), ("the rooftops", "city"), ("the sky", "sky"))),
    "cave": SetProfile(
        "{name}: a vaulted cave of dark stone, dripping stalactites, pools of still water and veins of "
        "glowing crystal.", "{light}, cool and dim, with glints from the crystals", "wet stone, crystal, "
        "mineral water and old roots", "echoing and secret", ("#1a1c24", "#3a3f52", "#4a4640", "#7ad0e0",
                                                              "#b07ad8"),
        ("stalactites", "glowing crystals", "a still pool"), ("stream",), "dripping water and echoes",
        ("the mouth", "the crystal chamber", "the underground lake"), "night", "a flood of black water",
        "light a torch and follow the drip", "water drips; crystals pulse faintly",
        (("the crystal chamber", "cave"),)),
    "castle": SetProfile(
        "{name}: a grey stone castle of high walls and round towers crowned with battlements, banners on the "
        "turrets, a great arched gate with its portcullis raised and a courtyard of worn flagstones.",
        "{light} and the flicker of torches on stone", "grey stone, oak beams, black iron and candle wax",
        "old, proud and watchful", ("#5a6a8a", "#c8b8a0", "#8a8478", "#6a3a8a", "#f2c230"),
        ("battlements", "a great gate", "banners", "torches"), ("wind",),
        "wind round the towers, a creaking gate, a crackling torch and footsteps on stone",
        ("the gate", "the courtyard", "the battlements", "the tower stair"), "dusk",
        "a gate that will not open and a long dark stair", "walk the walls and light the torches",
        "banners ripple on the towers; torch flames flicker",
        (("the courtyard", "castle"), ("the battlements", "castle"), ("the forest", "forest"))),
}
LIGHT: dict[TimeOfDay, str] = {"dawn": "soft pink dawn light", "day": "clear daylight",
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
        lighting=profile.lighting.format(light=LIGHT[time]),
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
