"""The words the story engine understands, and what each one is.

Everything the idea reader knows lives in these tables: who can act (people, animals, birds,
sea creatures, creatures, robots, objects with a face, weather and forces), where a story can
happen (each place word names the kind of set it is drawn as), which things are props, and the
verbs a goal is made of. Words of a few other languages map to the English word they mean, so
an idea in French or German still finds its baker, its cat and its lighthouse.
"""

from __future__ import annotations

from dataclasses import dataclass

from filmstitch.models import CharacterKind, SetKind, VoiceAge


@dataclass(frozen=True)
class ActorWord:
    """A noun that can be a character: how to draw and voice it."""

    kind: CharacterKind
    species: str | None = None  # what it is, when not a person
    gender: str | None = None  # "f", "m" or None (unknown: the engine picks, seeded)
    age: VoiceAge | None = None


def _people(words: str, gender: str | None = None, age: VoiceAge | None = None) -> dict[str, ActorWord]:
    return {w.replace("_", " "): ActorWord("person", None, gender, age) for w in words.split()}


def _beings(kind: CharacterKind, words: str) -> dict[str, ActorWord]:
    return {w.replace("_", " "): ActorWord(kind, w.replace("_", " ")) for w in words.split()}


#: Nouns of characters. Multi-word keys (underscores in the lists) are matched before their parts.
ACTORS: dict[str, ActorWord] = {
    **_people("astronaut cosmonaut diver keeper baker explorer traveller traveler wanderer detective scientist "
              "sailor pilot farmer painter musician violinist dancer student teacher doctor nurse inventor "
              "engineer mechanic chef cook gardener poet writer photographer archaeologist miner blacksmith "
              "tailor clockmaker toymaker beekeeper ranger firefighter orphan stranger friend hunter shepherd "
              "pirate captain soldier thief courier librarian mapmaker cartographer lighthouse_keeper postman "
              "mail_carrier fisher climber surfer skater runner gymnast singer drummer carpenter potter weaver "
              "botanist astronomer geologist biologist marine_biologist zookeeper vet veterinarian janitor "
              "cleaner driver taxi_driver conductor guard knight wizard mage sorcerer alchemist monk healer "
              "herbalist merchant peddler tinker jester clown acrobat magician puppeteer cyclist hiker "
              "mountaineer diver nomad refugee survivor caretaker villager townsperson child kid teenager "
              "person hero heroine adventurer scout prospector smuggler spy agent officer sheriff ranger "
              "programmer hacker pianist composer sculptor fiddler guitarist flautist drummer harpist twins"),
    **_people("girl woman mother mom mum grandmother grandma granny aunt sister daughter queen princess "
              "witch nun widow lady heroine empress duchess bride waitress actress priestess fisherwoman "
              "policewoman sorceress baroness", "f"),
    **_people("boy man father dad grandfather grandpa grandad uncle brother son king prince monk widower "
              "lord emperor duke groom waiter actor priest fisherman policeman postman gentleman", "m"),
    **_beings("animal", "cat kitten dog puppy fox wolf bear rabbit bunny hare mouse rat raccoon squirrel otter "
                        "deer horse pony donkey goat sheep lamb cow pig lion tiger elephant giraffe monkey badger "
                        "hedgehog frog toad tortoise lizard snake camel yak panda koala kangaroo beaver mole "
                        "moose bull ox leopard cheetah zebra hippo rhino gorilla chameleon ferret weasel lynx "
                        "cub calf foal bat snail slug ant bee bumblebee butterfly moth beetle ladybug ladybird "
                        "caterpillar spider grasshopper cricket dragonfly firefly worm"),
    **_beings("bird", "bird crow raven heron owl eagle hawk falcon sparrow robin parrot gull seagull penguin swan "
                      "duck duckling goose hen chicken rooster pigeon dove crane hummingbird magpie albatross "
                      "pelican flamingo kingfisher stork wren finch canary peacock puffin toucan vulture "
                      "nightingale lark cockatoo chick"),
    **_beings("sea_creature", "octopus squid fish whale dolphin shark jellyfish crab lobster seal starfish "
                              "seahorse eel manta stingray walrus narwhal orca shrimp clam sea_turtle turtle "
                              "goldfish koi salmon pufferfish anglerfish otter_pup"),
    **_beings("creature", "dragon ghost spirit troll goblin fairy elf giant yeti unicorn mermaid merman monster "
                          "golem phoenix griffin sprite imp genie djinn vampire werewolf alien dinosaur ogre "
                          "gnome dwarf pixie kraken sea_serpent sea_monster demon angel centaur minotaur "
                          "kitsune tanuki kappa yokai banshee wisp will-o'-the-wisp"),
    **_beings("robot", "robot android droid automaton cyborg machine"),
    **_beings("object", "lantern lamp teapot kettle clock umbrella book candle mirror puppet doll teddy_bear "
                        "toy kite piano radio chair hat shoe boot balloon snowman scarecrow statue sock cup "
                        "suitcase typewriter telephone bicycle car train tugboat boat music_box compass "
                        "television computer toaster broom spoon pencil"),
    **_beings("element", "storm thunderstorm wind breeze cloud rain fire flame lightning thunder fog mist "
                         "tornado hurricane blizzard frost shadow northern_lights aurora sun star comet river "
                         "wave volcano sea ocean moon snowstorm sandstorm rainbow tide"),
}
#: Words that count the actor after them, in several languages ("two robots", "deux ours", "a pair of").
COUNTS: dict[str, int] = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "both": 2,
    "pair": 2, "couple": 2, "twin": 2,
    "twins": 2, "several": 3, "many": 4, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "zwei": 2, "drei": 3,
    "vier": 4, "beide": 2, "dos": 2, "tres": 3, "cuatro": 4, "ambos": 2, "ambas": 2, "due": 2, "tre": 3,
    "dois": 2, "duas": 2, "três": 3, "twee": 2, "drie": 3,
}
#: Nouns for a group of animals or people: "a pod of whales", "a flock of gulls".
COLLECTIVES = set("pod flock pack herd school family group band crew swarm colony troupe gang".split())
#: Determiners that make the noun after them plural (languages whose plural noun may look singular).
PLURAL_DETERMINERS = set("these those les des ces mes tes ses nos vos leurs los las unos unas".split())
#: How many characters a plural the idea does not count becomes ("the whales": a pod of three), and the most
#: one group of the idea becomes (the frame holds six characters in all).
GROUP = 3
GROUP_MAX = 4

#: Objects and forces are characters only when the idea makes them act (they speak, move, are named...).
PASSIVE_KINDS = {"object", "element"}
#: Words in front of an object or force that make it a character: "a talking teapot".
ANIMATING = set("talking speaking singing living walking dancing sentient enchanted magic magical friendly "
                "grumpy lonely shy curious angry kind brave wise chatty sleepy laughing crying whispering greedy "
                "giant little old young mischievous cheerful sad playful clockwork mechanical".split())
#: Verbs after which the object is someone (you befriend or race someone, you find something).
SOCIAL_VERBS = set("befriend meet help race outrun fight defeat chase tame follow rescue save free teach join "
                   "love adopt visit marry challenge battle trick fool comfort calm wake awaken face confront "
                   "escape outwit hide_from talk argue dance play sing".split())
#: Words that mark the next word(s) as a name, in several languages.
NAME_MARKERS = set("named called nicknamed nommé nommée nommés nommées appelé appelée appelés appelées surnommé "
                   "surnommée surnommés surnommées llamado llamada llamados llamadas genannt namens chiamato chiamata "
                   "chiamati chiamate chamado chamada chamados chamadas heet genaamd".split())

#: Nouns of places -> the set they are drawn as.
PLACES: dict[str, SetKind] = {
    "moon": "moon", "lunar surface": "moon", "crater": "moon", "mars": "moon", "asteroid": "moon",
    "planet": "moon", "space": "space", "space station": "space", "spaceship": "space", "orbit": "space",
    "forest": "forest", "woods": "forest", "wood": "forest", "jungle": "forest", "grove": "forest",
    "rainforest": "forest", "swamp": "forest", "marsh": "forest", "garden": "forest", "orchard": "forest",
    "park": "forest", "coast": "coast", "beach": "coast", "shore": "coast", "seashore": "coast", "cliff": "coast",
    "cliffs": "coast", "lighthouse": "coast", "harbour": "coast", "harbor": "coast", "port": "coast",
    "island": "coast", "bay": "coast", "pier": "coast", "lake": "coast", "sea": "coast", "ocean": "coast",
    "underwater": "underwater", "reef": "underwater", "coral reef": "underwater", "seabed": "underwater",
    "sea floor": "underwater", "ocean floor": "underwater", "depths": "underwater", "deep": "underwater",
    "sunken ship": "underwater", "shipwreck": "underwater", "wreck": "underwater", "sunken city": "underwater",
    "ship": "ship", "boat": "ship", "deck": "ship", "galleon": "ship", "raft": "ship", "ferry": "ship",
    "city": "city", "metropolis": "city", "rooftop": "city", "rooftops": "city", "skyline": "city",
    "town": "street", "village": "street", "street": "street", "alley": "street", "market": "street",
    "square": "street", "neighbourhood": "street", "neighborhood": "street", "station": "street",
    "desert": "desert", "dune": "desert", "dunes": "desert", "canyon": "desert", "oasis": "desert",
    "snow": "snow", "arctic": "snow", "antarctic": "snow", "antarctica": "snow", "tundra": "snow",
    "glacier": "snow", "north pole": "snow", "south pole": "snow", "ice": "snow", "iceberg": "snow",
    "mountain": "mountains", "mountains": "mountains", "peak": "mountains", "summit": "mountains",
    "volcano": "mountains", "hills": "plains", "hill": "plains", "valley": "plains", "meadow": "plains",
    "field": "plains", "fields": "plains", "farm": "plains", "prairie": "plains", "plain": "plains",
    "plains": "plains", "steppe": "plains", "countryside": "plains", "river": "plains", "riverbank": "plains",
    "salt flats": "salt_flats", "salt flat": "salt_flats", "salt pan": "salt_flats", "sky": "sky",
    "clouds": "sky", "air": "sky", "stratosphere": "sky", "bakery": "bakery", "patisserie": "bakery",
    "house": "interior", "home": "interior", "room": "interior", "kitchen": "interior", "library": "interior",
    "school": "interior", "classroom": "interior", "museum": "interior", "attic": "interior",
    "workshop": "interior", "hospital": "interior", "castle": "castle", "palace": "castle",
    "temple": "interior", "church": "interior", "tower": "castle", "factory": "interior", "lab": "interior",
    "laboratory": "interior", "shop": "interior", "store": "interior", "cafe": "interior", "café": "interior",
    "restaurant": "interior", "theatre": "interior", "theater": "interior", "cottage": "interior",
    "cabin": "interior", "hut": "interior", "apartment": "interior", "flat": "interior", "inn": "interior",
    "tavern": "interior", "studio": "interior", "observatory": "interior", "greenhouse": "interior",
    "cave": "cave", "cavern": "cave", "tunnel": "cave", "mine": "cave", "underground": "cave",
    "catacombs": "cave", "sewer": "cave",
    "fortress": "castle", "fort": "castle", "citadel": "castle", "château": "castle", "chateau": "castle",
    "castillo": "castle", "castello": "castle", "castelo": "castle", "burg": "castle", "schloss": "castle",
    "festung": "castle", "kasteel": "castle", "城": "castle",
}
#: Proper names of places (capitalised in ideas) and what they are drawn as.
PLACE_NAMES: dict[str, SetKind] = {
    "kyoto": "street", "tokyo": "city", "paris": "city", "london": "city", "venice": "street",
    "new york": "city", "berlin": "city", "rome": "street", "lisbon": "street", "cairo": "desert",
    "sahara": "desert", "gobi": "desert", "atacama": "desert", "mars": "moon", "moon": "moon",
    "venus": "moon", "jupiter": "space", "saturn": "space", "himalaya": "mountains", "himalayas": "mountains",
    "everest": "mountains", "alps": "mountains", "andes": "mountains", "antarctica": "snow", "arctic": "snow",
    "greenland": "snow", "iceland": "snow", "amazon": "forest", "bolivia": "salt_flats", "uyuni": "salt_flats",
    "atlantic": "coast", "pacific": "coast", "mumbai": "city", "shanghai": "city", "seoul": "city",
    "istanbul": "street", "marrakesh": "street", "havana": "street", "sydney": "city", "mexico": "city",
    "earth": "plains", "osaka": "city", "nara": "street", "hokkaido": "snow", "bretagne": "coast",
    "brittany": "coast", "provence": "plains", "sicily": "coast", "scotland": "mountains", "lyon": "street",
    "marseille": "coast", "bordeaux": "street", "toulouse": "street", "nice": "coast", "madrid": "city",
    "barcelona": "city", "sevilla": "street", "seville": "street", "valencia": "coast", "buenos aires": "city",
}
#: Prepositions (several languages) that put what follows in a place.
PLACE_PREPOSITIONS = set("in on at inside near across through into beneath under above over onto within "
                         "around along to from toward towards beyond behind aboard atop among "
                         "à au aux en dans sur sous vers chez près "
                         "im in auf unter über nach bei am zum zur "
                         "en sobre bajo hacia cerca "
                         "a in su sotto verso presso nel nella sul sulla "
                         "em no na sob para".split())
#: Nouns that are things (props), when nobody makes them act. Multi-word keys first.
PROPS = set("pearl glowing_pearl letter map key egg dragon_egg book lantern kite bread loaf cake shell crown "
            "compass bottle message message_in_a_bottle box chest treasure treasure_chest ring necklace seed "
            "seeds flower flowers rose umbrella violin guitar flute drum camera telescope sword shield "
            "wand staff feather stone gem crystal diamond coin coins scroll clock watch hat scarf coat boots "
            "ball balloon bell candle lamp torch rope ladder net basket bucket kettle teapot cup mirror "
            "photograph photo painting paintbrush brush paint song melody recipe potion medicine apple "
            "orange fruit honey jar mask helmet parcel package gift present postcard envelope ticket "
            "notebook diary journal pen pencil blanket quilt kite toy doll puppet bicycle bike sled boat "
            "oar anchor flag banner radio phone telephone light star seashell fossil bone acorn leaf "
            "leaves plant sapling tree nature life water fire".split())
#: What a trade holds and uses (the prop is drawn in the hand; the story uses it): role -> prop noun.
ROLE_PROPS: dict[str, str] = {
    "violinist": "violin", "fiddler": "violin", "musician": "violin", "knight": "sword", "pirate": "sword",
    "baker": "loaf", "painter": "brush", "fisherman": "fishing rod", "fisher": "fishing rod",
    "fisherwoman": "fishing rod", "lighthouse keeper": "lantern", "keeper": "lantern", "miner": "lantern",
    "postman": "letter", "mail carrier": "letter", "courier": "letter", "librarian": "book",
    "explorer": "map", "mapmaker": "map", "cartographer": "map", "monk": "candle", "nun": "candle",
}
#: Verbs of each prop's own use: a story whose goal is one of them ends with the prop in use.
PROP_VERBS: dict[str, set[str]] = {
    "violin": {"play", "serenade", "sing", "perform", "comfort", "calm", "wake", "befriend"},
    "sword": {"fight", "defend", "guard", "protect", "battle", "defeat", "face", "confront", "challenge", "save"},
    "loaf": {"bake", "make", "share", "give", "open", "feed"}, "brush": {"paint", "draw"},
    "fishing rod": {"fish", "catch"}, "lantern": {"light", "guide", "lead", "find", "search", "guard"},
    "letter": {"deliver", "send", "post", "bring", "carry"}, "book": {"read", "teach", "learn"},
    "map": {"find", "search", "explore", "cross", "reach"}, "candle": {"light", "guard", "guide"},
}
#: How the camera sees a prop in use (3rd person singular; {prop} is the prop, {them} who it covers).
PROP_USES: dict[str, str] = {
    "violin": "lifts {prop} and plays", "sword": "raises {prop} high", "loaf": "holds out {prop}",
    "brush": "paints a long stroke with {prop}", "fishing rod": "casts {prop} out", "lantern": "holds {prop} up high",
    "letter": "holds up {prop}", "book": "opens {prop}", "map": "unrolls {prop}",
    "candle": "shields the flame of {prop}",
    "umbrella": "holds {prop} up over {them}", "kite": "lifts {prop} into the wind",
}
ABSTRACT_GOALS = {"nature": "the first green shoots", "life": "a living seedling", "love": "a keepsake",
                  "home": "the way home", "courage": "a brave heart", "hope": "a small light",
                  "friendship": "a shared gift", "freedom": "an open sky", "magic": "a spark of magic"}

#: Story verbs by what they do to the story (the beat structure follows the goal's sort).
VERB_SORTS: dict[str, str] = {
    **dict.fromkeys("find discover uncover unearth catch collect gather win get steal spot notice see hear "
                    "seek search look hunt solve".split(), "find"),
    **dict.fromkeys("deliver return bring carry take give send post mail bear smuggle guide lead".split(),
                    "deliver"),
    **dict.fromkeys("befriend meet love adopt tame teach visit marry join comfort calm wake awaken "
                    "understand sing befriends share play serenade".split(), "bond"),
    **dict.fromkeys("race outrun escape fight defeat chase beat battle challenge outwit face confront flee "
                    "survive stop".split(), "contest"),
    **dict.fromkeys("rescue save free protect heal guard shelter release defend".split(), "rescue"),
    **dict.fromkeys("build repair fix bake make paint plant grow cook sew write craft mend restore invent "
                    "brew forge knit compose draw carve light open".split(), "make"),
    **dict.fromkeys("learn try practise practice master study dream want".split(), "learn"),
    **dict.fromkeys("explore travel cross climb reach walk wander roam sail fly swim journey ride drive "
                    "dive run go leave enter follow".split(), "journey"),
    **dict.fromkeys("help".split(), "help"),
}
#: Verbs that take "to <verb>" after them: "learns to fly", "tries to reach".
INFINITIVE_VERBS = {"learn", "try", "want", "decide", "hope", "need", "dream", "plan", "set", "refuse", "promise"}
#: Common verbs that are not story goals but still verbs (they end a subject, start a clause).
OTHER_VERBS = set("be is are was has have fall falls live lives work works stand sit sits speak speaks talk talks sing "
                  "sings dance dances sleep sleeps wait waits wake wakes become becomes turn "
                  "turns keep keeps think want wants need needs hope hopes decide decides must can will "
                  "should could would may might sees hears feels knows knew loves hates watches glows shines "
                  "wanders roams lives".split())
ADJECTIVES = set("young old elderly little small tiny big huge giant tall short lonely lost brave shy curious "
                 "stranded sunken glowing golden silver ancient mysterious magic magical enchanted talking "
                 "clockwork mechanical wooden broken forgotten hidden secret last first retired grumpy kind "
                 "wise clever blind deaf sleepy restless quiet noisy friendly stray wild tame red orange yellow "
                 "green blue purple pink white black grey gray brown dark bright northern southern eastern "
                 "western frozen icy burning floating flying singing dancing speaking living walking "
                 "wandering abandoned haunted distant faraway strange new tired determined anxious hopeful "
                 "cheerful fearless timid stubborn rusty shiny gentle fierce playful mischievous greedy tropical snowy "
                 "burning busy rainy missing falling".split())
AGE_WORDS = {"young": "young", "little": "child", "elderly": "elder", "old": "elder", "ancient": "elder",
             "aged": "elder", "retired": "elder", "teenage": "young", "baby": "child", "tiny": "child"}
COLOUR_WORDS = {"red", "orange", "yellow", "green", "blue", "purple", "pink", "white", "black", "grey", "gray",
                "brown", "golden", "silver", "violet", "crimson", "teal", "navy"}

#: Function words of the languages the reader recognises (for telling the language and skipping them).
FUNCTION_WORDS: dict[str, set[str]] = {
    "en": set("a an the and of in on at to with who that which is are her his their it its for from by as "
              "she he they them him into one".split()),
    "fr": set("un une le la les des du de et à au aux avec qui que est sont son sa ses dans sur pour par "
              "elle il ils elles leur l d qu".split()),
    "de": set("ein eine einen einem einer der die das den dem des und mit im in auf ist sind sein seine "
              "ihr ihre zu zum zur von für".split()),
    "es": set("un una unos unas el la los las y con en de del que es son su sus para por al".split()),
    "it": set("un una uno il lo la i gli le e con in di del della che è sono suo sua per da al nel".split()),
    "pt": set("um uma o a os as e com em de do da que é são seu sua para por no na ao".split()),
    "nl": set("een de het en met in op is zijn haar zijn van voor die dat naar".split()),
}
LANGUAGE_NAMES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian",
                  "pt": "Portuguese", "nl": "Dutch", "ja": "Japanese", "zh": "Chinese", "ko": "Korean",
                  "ru": "Russian", "ar": "Arabic", "el": "Greek", "he": "Hebrew", "hi": "Hindi", "th": "Thai",
                  "uk": "Ukrainian"}

#: Words of other languages -> the English word they mean (nouns, adjectives, a few verbs).
FOREIGN: dict[str, str] = {
    # French
    "boulangère": "baker", "boulanger": "baker", "boulangerie": "bakery", "chat": "cat", "chatte": "cat",
    "chien": "dog", "renard": "fox", "oiseau": "bird", "corbeau": "crow", "héron": "heron", "pieuvre": "octopus",
    "poulpe": "octopus", "baleine": "whale", "poisson": "fish", "fille": "girl", "garçon": "boy",
    "femme": "woman", "homme": "man", "vieille": "old", "vieux": "old", "jeune": "young", "petit": "little",
    "petite": "little", "grand-mère": "grandmother", "grand-père": "grandfather", "reine": "queen", "roi": "king",
    "pêcheur": "fisherman", "marin": "sailor", "gardien": "keeper", "gardienne": "keeper", "phare": "lighthouse",
    "mer": "sea", "forêt": "forest", "lune": "moon", "désert": "desert", "ville": "city", "montagne": "mountain",
    "tempête": "storm", "orage": "storm", "vent": "wind", "lanterne": "lantern", "lettre": "letter",
    "perle": "pearl", "navire": "ship", "bateau": "ship", "île": "island", "plage": "beach", "jardin": "garden",
    "dragon": "dragon", "robot": "robot", "étoile": "star", "neige": "snow", "grotte": "cave", "ciel": "sky",
    "voler": "fly", "nager": "swim", "trouve": "find", "cherche": "search", "rencontre": "meet", "aide": "help",
    "apprend": "learn", "ours": "bear", "ourse": "bear", "ouvre": "open", "ouvrent": "open",
    "partagent": "share", "partage": "share", "escargot": "snail", "sauve": "save", "construit": "build",
    "livre": "deliver", "rapporte": "return",
    "sorcière": "witch", "fantôme": "ghost", "astronaute": "astronaut", "clé": "key", "carte": "map",
    "trésor": "treasure",
    # German
    "bäckerin": "baker", "bäcker": "baker", "bäckerei": "bakery", "katze": "cat", "kater": "cat", "hund": "dog",
    "fuchs": "fox", "vogel": "bird", "krähe": "crow", "rabe": "raven", "reiher": "heron", "krake": "octopus",
    "oktopus": "octopus", "wal": "whale", "fisch": "fish", "mädchen": "girl", "junge": "boy", "frau": "woman",
    "mann": "man", "alte": "old", "alter": "old", "kleine": "little", "kleiner": "little",
    "großmutter": "grandmother", "großvater": "grandfather", "königin": "queen", "könig": "king",
    "fischer": "fisherman", "leuchtturmwärter": "lighthouse keeper", "leuchtturmwärterin": "lighthouse keeper",
    "leuchtturm": "lighthouse", "meer": "sea", "wald": "forest", "mond": "moon", "wüste": "desert",
    "stadt": "city", "berg": "mountain", "sturm": "storm", "gewitter": "thunderstorm", "wind": "wind",
    "laterne": "lantern", "brief": "letter", "schiff": "ship", "insel": "island",
    "drache": "dragon", "stern": "star", "schnee": "snow", "höhle": "cave", "himmel": "sky", "fliegen": "fly",
    "findet": "find", "sucht": "search", "trifft": "meet", "hilft": "help", "lernt": "learn", "rettet": "rescue",
    "baut": "build", "bringt": "bring", "hexe": "witch", "gespenst": "ghost", "schlüssel": "key",
    "karte": "map", "sprechende": "talking", "möwe": "gull",
    # Spanish
    "panadera": "baker", "panadero": "baker", "panadería": "bakery", "gato": "cat", "gata": "cat",
    "perro": "dog", "zorro": "fox", "pájaro": "bird", "cuervo": "crow", "garza": "heron", "pulpo": "octopus",
    "ballena": "whale", "pez": "fish", "niña": "girl", "niño": "boy", "mujer": "woman", "hombre": "man",
    "vieja": "old", "viejo": "old", "joven": "young", "pequeña": "little", "pequeño": "little",
    "abuela": "grandmother", "abuelo": "grandfather", "reina": "queen", "rey": "king", "pescador": "fisherman",
    "farero": "lighthouse keeper", "farera": "lighthouse keeper", "faro": "lighthouse", "mar": "sea",
    "bosque": "forest", "luna": "moon", "desierto": "desert", "ciudad": "city", "montaña": "mountain",
    "tormenta": "storm", "viento": "wind", "linterna": "lantern", "carta": "letter", "perla": "pearl",
    "barco": "ship", "isla": "island", "playa": "beach", "dragón": "dragon", "estrella": "star", "nieve": "snow",
    "cueva": "cave", "cielo": "sky", "volar": "fly", "encuentra": "find", "busca": "search", "ayuda": "help",
    "aprende": "learn", "salva": "save", "construye": "build", "lleva": "carry", "bruja": "witch",
    "fantasma": "ghost", "llave": "key", "mapa": "map", "perrita": "dog", "tesoro": "treasure",
    # Italian
    "fornaia": "baker", "fornaio": "baker", "panetteria": "bakery", "gatto": "cat", "gatta": "cat",
    "cane": "dog", "volpe": "fox", "uccello": "bird", "corvo": "crow", "airone": "heron", "polpo": "octopus",
    "balena": "whale", "pesce": "fish", "ragazza": "girl", "ragazzo": "boy", "donna": "woman", "uomo": "man",
    "vecchia": "old", "vecchio": "old", "giovane": "young", "piccola": "little", "piccolo": "little",
    "nonna": "grandmother", "nonno": "grandfather", "regina": "queen", "re": "king", "pescatore": "fisherman",
    "guardiano": "keeper", "mare": "sea", "bosco": "forest", "foresta": "forest", "deserto": "desert",
    "città": "city", "montagna": "mountain", "tempesta": "storm", "vento": "wind", "lanterna": "lantern",
    "lettera": "letter", "nave": "ship", "isola": "island", "spiaggia": "beach", "drago": "dragon",
    "stella": "star", "neve": "snow", "grotta": "cave", "volare": "fly", "trova": "find",
    "cerca": "search", "incontra": "meet", "aiuta": "help", "impara": "learn", "strega": "witch",
    "chiave": "key", "mappa": "map",
    # Portuguese
    "padeira": "baker", "padeiro": "baker", "padaria": "bakery", "cão": "dog", "cachorro": "dog",
    "raposa": "fox", "pássaro": "bird", "garça": "heron", "polvo": "octopus", "baleia": "whale",
    "peixe": "fish", "menina": "girl", "menino": "boy", "mulher": "woman", "homem": "man", "velha": "old",
    "velho": "old", "avó": "grandmother", "avô": "grandfather", "rainha": "queen", "rei": "king",
    "farol": "lighthouse", "floresta": "forest", "lua": "moon", "cidade": "city", "tempestade": "storm",
    "pérola": "pearl", "navio": "ship", "ilha": "island", "praia": "beach", "dragão": "dragon",
    "estrela": "star", "caverna": "cave", "céu": "sky", "voar": "fly", "encontra": "find", "bruxa": "witch",
    # Dutch
    "bakker": "baker", "kat": "cat", "hond": "dog", "vos": "fox", "kraai": "crow",
    "reiger": "heron", "meisje": "girl", "jongen": "boy", "oude": "old", "vuurtoren": "lighthouse",
    "zee": "sea", "bos": "forest", "maan": "moon", "storm": "storm", "lantaarn": "lantern",
}
#: Words of languages without spaces between words: matched anywhere in the idea.
CJK: dict[str, str] = {
    "パン屋": "bakery", "猫": "cat", "ねこ": "cat", "犬": "dog", "狐": "fox", "鳥": "bird", "烏": "crow",
    "鷺": "heron", "蛸": "octopus", "タコ": "octopus", "鯨": "whale", "魚": "fish", "少女": "girl",
    "少年": "boy", "祖母": "grandmother", "祖父": "grandfather", "おばあさん": "grandmother",
    "おじいさん": "grandfather", "女王": "queen", "王": "king", "灯台": "lighthouse", "海": "sea",
    "森": "forest", "砂漠": "desert", "街": "city", "町": "street", "山": "mountain", "嵐": "storm",
    "風": "wind", "提灯": "lantern", "手紙": "letter", "真珠": "pearl", "船": "ship", "島": "island",
    "竜": "dragon", "龍": "dragon", "星": "star", "雪": "snow", "洞窟": "cave", "空": "sky", "宇宙": "space",
    "ロボット": "robot", "宇宙飛行士": "astronaut", "月面": "moon", "面包店": "bakery", "狗": "dog",
    "鸟": "bird", "龙": "dragon", "灯塔": "lighthouse", "风暴": "storm", "女孩": "girl", "男孩": "boy",
    "奶奶": "grandmother", "爷爷": "grandfather", "信": "letter", "森林": "forest", "城市": "city",
    "고양이": "cat", "개": "dog", "바다": "sea", "등대": "lighthouse", "할머니": "grandmother", "소녀": "girl",
}
