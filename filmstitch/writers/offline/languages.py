"""The story engine's own words in French and Spanish: titles, narration, dialogue, act and beat names.

An idea in French or Spanish is told in its language: the names and nouns come from the idea as it
is written ("une boulangerie", "l'Ours", "月"), the rest from the templates below. What the image
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

#: Languages the engine writes in besides English.
SUPPORTED = ("fr", "es")

VOWELS = "aeiouàâäéèêëîïôöûüœæAEIOUÀÂÄÉÈÊËÎÏÔÖÛÜŒÆ"  # y is a consonant here: "de Yuki"


@dataclass(frozen=True)
class Verb:
    infinitive: str
    singular: str  # 3rd person singular present
    plural: str  # 3rd person plural present


def _verbs(table: str) -> dict[str, Verb]:
    """'open:ouvrir,ouvre,ouvrent; ...' -> {English verb: Verb}."""
    found = {}
    for entry in table.split(";"):
        english, _, forms = entry.strip().partition(":")
        infinitive, singular, plural = (f.strip() for f in forms.split(","))
        found[english.strip()] = Verb(infinitive, singular, plural)
    return found


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
    special: dict[str, list[str]]  # narrations for particular premises (see story.Writer.narration)
    climax: list[str]
    lines: dict[str, dict[str, list[str]]]
    places: dict[str, str]  # the engine's English place names -> this language's
    obstacles: dict[str, str]  # set kind -> what pushes back there
    routines: dict[str, str]  # set kind, trade or kind of being -> what they do every day (infinitive)
    abstract: dict[str, str]  # what the camera sees of an abstract goal
    words: dict[str, str]  # small words of titles and loglines: and, with, helped by...


# --------------------------------------------------------------------------- French

FRENCH = Tongue(
    code="fr",
    verbs=_verbs(
        "open: ouvrir, ouvre, ouvrent; find: trouver, trouve, trouvent; search: chercher, cherche, cherchent;"
        "look: chercher, cherche, cherchent; meet: rencontrer, rencontre, rencontrent;"
        "help: aider, aide, aident; learn: apprendre, apprend, apprennent; share: partager, partage, partagent;"
        "save: sauver, sauve, sauvent; rescue: sauver, sauve, sauvent; build: construire, construit, construisent;"
        "deliver: livrer, livre, livrent; return: rapporter, rapporte, rapportent; fly: voler, vole, volent;"
        "swim: nager, nage, nagent; play: jouer, joue, jouent; repair: réparer, répare, réparent;"
        "fix: réparer, répare, réparent; paint: peindre, peint, peignent; bake: cuire, cuit, cuisent;"
        "make: faire, fait, font; protect: protéger, protège, protègent; guard: garder, garde, gardent;"
        "defend: défendre, défend, défendent; cross: traverser, traverse, traversent;"
        "explore: explorer, explore, explorent; catch: attraper, attrape, attrapent;"
        "follow: suivre, suit, suivent; befriend: apprivoiser, apprivoise, apprivoisent;"
        "race: défier, défie, défient; bring: apporter, apporte, apportent; carry: porter, porte, portent;"
        "sing: chanter, chante, chantent; dance: danser, danse, dansent; go: partir, part, partent;"
        "visit: visiter, visite, visitent; escape: fuir, fuit, fuient; climb: grimper, grimpe, grimpent;"
        "reach: atteindre, atteint, atteignent; free: libérer, libère, libèrent; plant: planter, plante, plantent;"
        "write: écrire, écrit, écrivent; light: allumer, allume, allument; see: voir, voit, voient;"
        "steal: voler, vole, volent; grow: faire pousser, fait pousser, font pousser;"
        " cook: cuisiner, cuisine, cuisinent;"
        "learn to: apprendre à, apprend à, apprennent à; want to: vouloir, veut, veulent;"
        "dream to: rêver de, rêve de, rêvent de; try to: essayer de, essaie de, essaient de;"
        "be brave: trouver le courage, trouve le courage, trouvent le courage"),
    sort_verbs={"find": "find", "deliver": "bring", "bond": "meet", "contest": "race", "rescue": "save",
                "make": "make", "learn": "learn", "journey": "go"},
    numbers={2: "deux", 3: "trois", 4: "quatre"},
    beats={"opening": "Image d'ouverture", "routine": "Le quotidien", "catalyst": "L'élément déclencheur",
           "reaction": "La réaction", "meeting": "La rencontre", "departure": "Le départ", "journey": "Le voyage",
           "trial": "L'épreuve", "rest": "La halte", "discovery": "La découverte", "midpoint": "Le tournant",
           "crisis": "La crise", "rally": "Le sursaut", "climax": "Le point culminant", "final": "Image finale"},
    times={"dawn": "aube", "day": "jour", "dusk": "crépuscule", "night": "nuit"},
    acts=(("L'appel", "{at_place_cap}, tout commence pour {hero}."),
          ("La route", "{hero} <part|partent> pour {goal_inf}, et le monde résiste."),
          ("Le retour", "Au dernier moment, {hero} {achieve}.")),
    scene_goals={"opening": "le quotidien de {hero} {at_place}", "catalyst": "{hero} <découvre|découvrent> {thing}",
                 "meeting": "les amis se retrouvent", "departure": "quitter {place}", "trial": "surmonter {obstacle}",
                 "midpoint": "un premier vrai succès", "crisis": "{hero} <perd|perdent> tout",
                 "climax": "{hero} <doit|doivent> {goal_inf}", "final": "le monde a changé",
                 "other": "avancer à travers {place}"},
    narration={
        "opening": ["{place_cap}. Comme chaque jour, {hero} <commence|commencent> par {routine}.",
                    "{at_place_cap}, {hero} <prend|prennent> le temps de {routine}.",
                    "Tous les jours, {hero} <doit|doivent> {routine}. Aujourd'hui sera différent."],
        "routine": ["{hero} <aime|aiment> {routine} en regardant la lumière changer.",
                    "Rien n'a changé {at_place} depuis des années.",
                    "{hero} <connaît|connaissent> chaque recoin de {place}."],
        "reaction": ["{hero} <hésite|hésitent>. Plus rien ne sera comme avant.",
                     "Un long moment, {hero} ne <bouge|bougent> plus.",
                     "{hero} <regarde|regardent> encore, pour y croire."],
        "meeting": ["{ally} <arrive|arrivent> juste à temps.", "{ally}, {ally_role}, <vient|viennent> aider.",
                    "{ally} <rejoint|rejoignent> {hero}, sans hésiter."],
        "departure": ["{hero} <quitte|quittent> {place} et <part|partent> vers {next}.",
                      "{hero} <part|partent> pour {next}.",
                      "{hero} <part|partent> pour {next}, sans se retourner."],
        "journey": ["Le chemin vers {next} est plus long que prévu.", "{hero} <avance|avancent>, pas à pas.",
                    "Le chemin n'en finit pas."],
        "trial": ["{at_place_cap}, {hero} <affronte|affrontent> {obstacle}.", "{hero} <tombe|tombent> sur {obstacle}.",
                  "Ici, {obstacle} barre la route."],
        "rest": ["{hero} se <repose|reposent> et <pense|pensent> à la maison.",
                 "Un moment calme {at_place}, avant le plus dur.",
                 "La nuit tombe. Pour une fois, personne n'est pressé."],
        "discovery": ["Ici, tout cache quelque chose.", "Quelque chose attendait {at_place}.",
                      "{hero} <remarque|remarquent> ce que personne n'a vu."],
        "crisis": ["Puis {obstacle} frappe, et tout bascule.",
                   "{hero} <tombe|tombent>, et un instant tout semble perdu.",
                   "Tout ce que {hero} <a|ont> fait semble vain."],
        "rally": ["{hero} se <relève|relèvent>. Il est encore temps.", "{hero} <essaie|essaient> encore une fois.",
                  "{hero} se <souvient|souviennent> de ce qui compte."],
        "final": ["Le calme revient, mais {hero} <a|ont> changé.",
                  "Quand la lumière revient, {hero} <sourit|sourient> encore.",
                  "{hero} <rentre|rentrent>, et le monde est un peu plus grand."],
    },
    catalyst={
        "find": ["Puis, {at_place}, {hero} <découvre|découvrent> {thing}.",
                 "Et là, {at_place}, {hero} <aperçoit|aperçoivent> {thing}."],
        "deliver": ["Puis {hero} <reçoit|reçoivent> {thing}, et une mission avec.",
                    "Puis {hero} <découvre|découvrent> {thing}."],
        "bond": ["Puis {other} <arrive|arrivent>.", "Puis {hero} <rencontre|rencontrent> {other}."],
        "contest": ["Puis {other} <apparaît|apparaissent>, et le défi est lancé.",
                    "Puis {other} <surgit|surgissent>, plus vite que tout."],
        "rescue": ["Puis la nouvelle arrive : {other} <est|sont> en danger.",
                   "Puis {hero} <comprend|comprennent> : {thing_or_other} <a|ont> besoin d'aide."],
        "make": ["Puis {hero} <décide|décident> de {goal_inf}.", "Puis {hero} <voit|voient> ce qui manque."],
        "learn": ["Puis {hero} <sent|sentent> le vent et <décide|décident> de {then}.",
                  "Puis {hero} <rêve|rêvent> d'apprendre à {then}."],
        "journey": ["Puis {hero} <voit|voient> le chemin vers {next}.", "Puis la route vers {next} s'ouvre."],
    },
    midpoint={
        "find": ["{thing_cap} brille plus fort, comme pour montrer le chemin.",
                 "Maintenant, {hero} <comprend|comprennent> ce qu'est {thing}."],
        "deliver": ["{recipient_or_next} n'est plus très loin.", "{hero} <serre|serrent> {thing} bien fort."],
        "bond": ["{other} <écoute|écoutent> et <commence|commencent> à faire confiance à {hero}.",
                 "{other} et {hero} commencent à se comprendre."],
        "contest": ["Un instant, {hero} <devance|devancent> {other}.",
                    "{hero} <apprend|apprennent> comment {other} <bouge|bougent>."],
        "rescue": ["{hero} <retrouve|retrouvent> {thing_or_other}, encore là.",
                   "{hero} <est|sont> tout près de {thing_or_other} maintenant."],
        "make": ["Pièce par pièce, tout prend forme.", "Ça marche presque."],
        "learn": ["Le temps d'un souffle, {hero} <quitte|quittent> le sol.",
                  "{hero} <tombe|tombent>, se <relève|relèvent> et <recommence|recommencent>."],
        "journey": ["Rien ici ne ressemble aux cartes.", "À mi-chemin, {hero} se <retourne|retournent> une fois."],
    },
    special={"place_midpoint": ["{thing_cap} est en vue.", "{hero} <voit|voient> enfin {thing}."],
             "thing_appears": ["Puis {thing} apparaît.", "Puis {hero} <remarque|remarquent> {thing}."],
             "other_lost": ["Puis {other} <arrive|arrivent>, sans savoir où aller.",
                            "Puis {hero} <rencontre|rencontrent> {other}."],
             "other_arrives": ["Puis {other} <arrive|arrivent>."],
             "thing_close": ["{hero} <garde|gardent> {thing} tout près.", "Peu à peu, {thing} change tout."],
             "group_opening": [
                 "{place_cap}. {group_cap}, {hero}, <commence|commencent> par {routine}, comme chaque jour.",
                 "Chaque jour, {group}, {hero}, <doit|doivent> {routine}. Aujourd'hui sera différent."],
             "short": ["{hero} <continue|continuent>.", "{hero} <attend|attendent>."]},
    climax=["Enfin, {hero} {achieve}.", "Dans un dernier effort, {hero} {achieve}.", "{hero} {achieve}."],
    lines={
        "reaction": {
            "find": ["D'où viens-tu ?", "Personne ne va me croire.", "Qu'est-ce que c'est ?"],
            "deliver": ["Il faut le rapporter.", "Quelqu'un attend ça.", "Je dois le rendre."],
            "bond": ["Qui es-tu ?", "Tu... me parles ?", "N'aie pas peur de moi."],
            "contest": ["Je peux te battre.", "D'accord, allons-y.", "Pas cette fois."],
            "rescue": ["Je dois aider.", "Tiens bon, j'arrive.", "Personne d'autre n'ira."],
            "make": ["Je peux y arriver.", "Encore un peu.", "Il faut que ce soit parfait."],
            "learn": ["Un jour, je saurai.", "Pourquoi pas moi ?", "Rien qu'une fois, je veux essayer."],
            "journey": ["C'est maintenant ou jamais.", "Encore un peu plus loin.", "Je dois le voir."],
            "share": ["Il y a de la place pour deux.", "Viens là-dessous.", "Tiens, on partage."]},
        "meeting": {"ally": ["Tu vas avoir besoin d'aide.", "Pas sans moi.", "On va où ?",
                             "On m'a dit que tu cherchais de l'aide."],
                    "hero": ["Reste près de moi.", "Alors viens avec moi.", "Je suis content que tu sois là."]},
        "trial": {"any": ["Tiens bon !", "Continue !", "Ne lâche pas !", "Par ici !", "Attention !"]},
        "midpoint": {"any": ["Regarde ça.", "Ça marche.", "On y est presque.", "Tu as vu ça ?"]},
        "crisis": {"hero": ["Je n'y arriverai pas sans aide.", "Non... pas maintenant.", "Pas comme ça."],
                   "together": ["On ne s'arrête pas maintenant.", "Ne me lâche pas.", "Reste près de moi."],
                   "answer": ["Je suis là.", "Ensemble, alors.", "Accroche-toi à moi."]},
        "rally": {"ally": ["Ce n'est pas fini.", "Debout. On termine ça.", "Je suis là."]},
        "climax": {"find": ["Te voilà.", "Je t'ai trouvé."], "deliver": ["C'est à toi.", "Je te l'ai rapporté."],
                   "bond": ["Je n'ai pas peur de toi.", "Amis, alors ?"],
                   "contest": ["Maintenant !", "Pas cette fois !"],
                   "rescue": ["Prends ma main !", "Je te tiens."], "make": ["C'est fini.", "Ça marche."],
                   "learn": ["Maintenant !", "J'y arrive !"], "journey": ["On y est.", "Le voilà."],
                   "share": ["Il y a de la place.", "Reste près de moi, à l'abri."]},
        "final": {"any": ["Merci.", "On a réussi.", "À demain, même heure ?", "Enfin à la maison."]},
        "rest": {"any": ["Parle-moi de chez toi.", "Tu as peur, parfois ?", "Dors un peu."]},
    },
    places={"a canyon mouth": "l'entrée du canyon", "a hidden hollow": "un creux caché",
            "a mossy clearing": "une clairière moussue", "a rainy street": "une rue sous la pluie",
            "above the clouds": "au-dessus des nuages", "the airlock": "le sas", "the bakery": "la boulangerie",
            "the boulder field": "le champ de rochers", "the broken hull": "la coque brisée", "the city": "la ville",
            "the coral reef": "le récif de corail", "the counter": "le comptoir",
            "the crater rim": "le bord du cratère",
            "the crystal chamber": "la salle de cristal", "the deck": "le pont", "the dune sea": "la mer de dunes",
            "the farm": "la ferme", "the forest": "la forêt", "the forest edge": "l'orée de la forêt",
            "the harbour": "le port", "the headland": "le cap", "the hilltop": "le sommet de la colline",
            "the hollow oak": "le chêne creux", "the ice ridge": "la crête de glace",
            "the landing site": "le site d'alunissage", "the lighthouse": "le phare", "the market": "le marché",
            "the mirror flats": "le miroir de sel", "the moon": "la lune", "the mountain pass": "le col",
            "the mouth": "l'entrée de la grotte", "the oasis": "l'oasis", "the open sea": "la haute mer",
            "the outer hull": "la coque extérieure", "the pass": "le col", "the path": "le sentier",
            "the reef": "le récif", "the river": "la rivière", "the river bend": "le méandre de la rivière",
            "the road": "la route", "the rooftops": "les toits", "the ship": "le navire", "the shoreline": "le rivage",
            "the sky": "le ciel", "the snowfield": "le champ de neige", "the street corner": "le coin de la rue",
            "the street outside": "la rue", "the summit": "le sommet", "the sunken ship": "l'épave",
            "the table": "la table", "the white edge": "la lisière blanche", "the workshop": "l'atelier",
            "the open sky": "le ciel ouvert", "the castle": "le château"},
    obstacles={"moon": "une tempête de poussière", "space": "une pluie de météorites", "forest": "un mur de ronces",
               "coast": "un coup de vent et des vagues immenses", "underwater": "un courant glacé",
               "ship": "une bourrasque qui couche le navire", "city": "la foule et la circulation",
               "street": "un dédale de ruelles", "desert": "une tempête de sable", "snow": "une tempête de neige",
               "mountains": "un éboulement", "plains": "une averse soudaine", "salt_flats": "un mirage",
               "sky": "une rafale qui emporte tout", "interior": "une porte fermée à clé",
               "bakery": "un four éteint et un sac de farine vide", "cave": "une crue d'eau noire",
               "castle": "une porte de fer fermée et un couloir sans lumière"},
    routines={"moon": "vérifier l'oxygène et marcher dans la plaine vide", "space": "vérifier les panneaux",
              "forest": "ramasser des champignons le long du sentier",
              "coast": "longer la plage et vérifier les barques",
              "underwater": "nager en cercles au-dessus du fond",
              "ship": "enrouler les cordages et vérifier les voiles",
              "city": "se presser sur le trottoir", "street": "balayer le seuil et ouvrir les volets",
              "desert": "vérifier les gourdes et lire les dunes", "snow": "dégager le chemin de la cabane",
              "mountains": "serrer les sangles et grimper le sentier", "plains": "suivre la route jusqu'au village",
              "salt_flats": "marcher sur la croûte blanche", "sky": "suivre le vent",
              "interior": "ranger les étagères et mettre la table", "bakery": "pétrir la pâte et allumer le four",
              "cave": "allumer une torche et suivre l'eau qui goutte",
              "castle": "faire le tour des remparts et allumer les torches",
              "baker": "pétrir la pâte et allumer le four", "diver": "plonger dans l'eau verte",
              "keeper": "monter l'escalier et polir la grande lampe",
              "lighthouse keeper": "monter l'escalier du phare et polir la grande lampe",
              "astronaut": "vérifier l'oxygène et marcher dans la plaine vide", "fisherman": "réparer les filets",
              "farmer": "nourrir les bêtes", "librarian": "ranger les livres rendus", "postman": "trier les lettres",
              "courier": "trier les lettres", "gardener": "arroser les semis", "painter": "mélanger les couleurs",
              "sailor": "enrouler les cordages", "violinist": "accorder son violon", "knight": "fourbir son épée",
              "animal": "suivre le sentier habituel", "bird": "tourner dans le ciel et se poser au même endroit",
              "sea_creature": "nager en cercles lents", "creature": "errer aux bords de l'endroit",
              "robot": "faire les vérifications du matin", "object": "attendre au même endroit et regarder",
              "element": "flotter au-dessus de tout"},
    abstract={"nature": "les premières pousses vertes", "life": "une jeune pousse", "home": "le chemin du retour",
              "way home": "le chemin du retour", "love": "un souvenir", "courage": "le courage",
              "hope": "une petite lumière", "friendship": "l'amitié", "freedom": "la liberté", "magic": "la magie"},
    words={"and": "et", "helped": "avec l'aide de", "way": "le chemin", "unknown": "l'inconnu",
           "owner": "son propriétaire",
           "over": "au-dessus de", "court": "la cour de", "of": "de"},
)


# --------------------------------------------------------------------------- Spanish

SPANISH = Tongue(
    code="es",
    verbs=_verbs(
        "open: abrir, abre, abren; find: encontrar, encuentra, encuentran; search: buscar, busca, buscan;"
        "look: buscar, busca, buscan; meet: conocer, conoce, conocen; help: ayudar, ayuda, ayudan;"
        "learn: aprender, aprende, aprenden; share: compartir, comparte, comparten; save: salvar, salva, salvan;"
        "rescue: rescatar, rescata, rescatan; build: construir, construye, construyen;"
        "deliver: entregar, entrega, entregan; return: devolver, devuelve, devuelven; fly: volar, vuela, vuelan;"
        "swim: nadar, nada, nadan; play: tocar, toca, tocan; repair: reparar, repara, reparan;"
        "fix: arreglar, arregla, arreglan; paint: pintar, pinta, pintan; bake: hornear, hornea, hornean;"
        "make: hacer, hace, hacen; protect: proteger, protege, protegen; guard: vigilar, vigila, vigilan;"
        "defend: defender, defiende, defienden; cross: cruzar, cruza, cruzan; explore: explorar, explora, exploran;"
        "catch: atrapar, atrapa, atrapan; follow: seguir, sigue, siguen;"
        " befriend: hacerse amigo de, se hace amigo de, se hacen amigos de;"
        "race: desafiar, desafía, desafían; bring: llevar, lleva, llevan; carry: llevar, lleva, llevan;"
        "sing: cantar, canta, cantan; dance: bailar, baila, bailan; go: partir, parte, parten;"
        "visit: visitar, visita, visitan; escape: escapar, escapa, escapan; climb: escalar, escala, escalan;"
        "reach: alcanzar, alcanza, alcanzan; free: liberar, libera, liberan; plant: plantar, planta, plantan;"
        "write: escribir, escribe, escriben; light: encender, enciende, encienden; see: ver, ve, ven;"
        "steal: robar, roba, roban; grow: cultivar, cultiva, cultivan; cook: cocinar, cocina, cocinan;"
        "learn to: aprender a, aprende a, aprenden a; want to: querer, quiere, quieren;"
        "dream to: soñar con, sueña con, sueñan con; try to: intentar, intenta, intentan;"
        "be brave: encontrar el valor, encuentra el valor, encuentran el valor"),
    sort_verbs={"find": "find", "deliver": "bring", "bond": "meet", "contest": "race", "rescue": "save",
                "make": "make", "learn": "learn", "journey": "go"},
    numbers={2: "dos", 3: "tres", 4: "cuatro"},
    beats={"opening": "Imagen inicial", "routine": "Lo de cada día", "catalyst": "El detonante",
           "reaction": "La reacción", "meeting": "El encuentro", "departure": "La partida", "journey": "El viaje",
           "trial": "La prueba", "rest": "El descanso", "discovery": "El hallazgo", "midpoint": "El giro",
           "crisis": "La crisis", "rally": "El nuevo impulso", "climax": "El clímax", "final": "Imagen final"},
    times={"dawn": "amanecer", "day": "día", "dusk": "atardecer", "night": "noche"},
    acts=(("La llamada", "{at_place_cap}, todo empieza para {hero}."),
          ("El camino", "{hero} <parte|parten> para {goal_inf}, y el mundo se resiste."),
          ("El regreso", "En el último momento, {hero} {achieve}.")),
    scene_goals={"opening": "un día cualquiera de {hero} {at_place}",
                 "catalyst": "{hero} <encuentra|encuentran> {thing}",
                 "meeting": "los amigos se reúnen", "departure": "dejar {place}", "trial": "superar {obstacle}",
                 "midpoint": "el primer éxito de verdad", "crisis": "{hero} lo <pierde|pierden> todo",
                 "climax": "{hero} <debe|deben> {goal_inf}", "final": "el mundo ha cambiado",
                 "other": "avanzar por {place}"},
    narration={
        "opening": ["{place_cap}. Como cada día, {hero} <empieza|empiezan> por {routine}.",
                    "{at_place_cap}, {hero} se <toma|toman> su tiempo para {routine}.",
                    "Todos los días, {hero} <debe|deben> {routine}. Hoy será distinto."],
        "routine": ["{hero} <sabe|saben> {routine} con los ojos cerrados.",
                    "Nada ha cambiado {at_place} en años.", "{hero} <conoce|conocen> cada rincón de {place}."],
        "reaction": ["{hero} <duda|dudan>. Nada volverá a ser igual.",
                     "Durante un largo momento, {hero} no se <mueve|mueven>.",
                     "{hero} <mira|miran> otra vez, para creerlo."],
        "meeting": ["{ally} <llega|llegan> justo a tiempo.", "{ally}, {ally_role}, <viene|vienen> a ayudar.",
                    "{ally} se <une|unen> a {hero}, sin dudarlo."],
        "departure": ["{hero} <deja|dejan> {place} y <parte|parten> hacia {next}.", "{hero} <sale|salen> hacia {next}.",
                      "{hero} <sale|salen> hacia {next}, sin mirar atrás."],
        "journey": ["El camino hasta {next} es más largo de lo que parecía.", "{hero} <avanza|avanzan>, paso a paso.",
                    "El camino no se acaba nunca."],
        "trial": ["{at_place_cap}, {hero} se <enfrenta|enfrentan> a {obstacle}.", "{hero} <topa|topan> con {obstacle}.",
                  "Aquí, {obstacle} cierra el paso."],
        "rest": ["{hero} <descansa|descansan> y <piensa|piensan> en casa.",
                 "Un momento de calma {at_place}, antes de lo más difícil.",
                 "Cae la noche. Por una vez, nadie tiene prisa."],
        "discovery": ["Aquí, todo esconde algo.", "Algo esperaba {at_place}.",
                      "{hero} <ve|ven> lo que nadie ha visto."],
        "crisis": ["Entonces llega {obstacle}, y todo se tuerce.",
                   "{hero} <cae|caen>, y por un momento todo parece perdido.",
                   "Todo lo que {hero} <ha|han> hecho parece en vano."],
        "rally": ["{hero} se <levanta|levantan>. Todavía hay tiempo.", "{hero} lo <intenta|intentan> una vez más.",
                  "{hero} <recuerda|recuerdan> lo que importa."],
        "final": ["Vuelve la calma, pero {hero} ya no <es|son> igual.",
                  "Cuando vuelve la luz, {hero} <sigue|siguen> sonriendo.",
                  "{hero} <vuelve|vuelven> a casa, y el mundo es un poco más grande."],
    },
    catalyst={
        "find": ["Entonces, {at_place}, {hero} <descubre|descubren> {thing}.",
                 "Y allí, {at_place}, {hero} <ve|ven> {thing}."],
        "deliver": ["Entonces {hero} <recibe|reciben> {thing}, y con ello una misión.",
                    "Entonces {hero} <descubre|descubren> {thing}."],
        "bond": ["Entonces {other} <llega|llegan>.", "Entonces {hero} <conoce|conocen> a {other}."],
        "contest": ["Entonces {other} <aparece|aparecen>, y empieza el desafío.",
                    "Entonces {other} <surge|surgen>, más rápido que nada."],
        "rescue": ["Entonces llega la noticia: {other} <está|están> en peligro.",
                   "Entonces {hero} lo <comprende|comprenden>: {thing_or_other} <necesita|necesitan> ayuda."],
        "make": ["Entonces {hero} <decide|deciden> {goal_inf}.", "Entonces {hero} <ve|ven> lo que falta."],
        "learn": ["Entonces {hero} <siente|sienten> el viento y <decide|deciden> {then}.",
                  "Entonces {hero} <sueña|sueñan> con aprender a {then}."],
        "journey": ["Entonces {hero} <ve|ven> el camino hacia {next}.", "Entonces se abre el camino hacia {next}."],
    },
    midpoint={
        "find": ["{thing_cap} brilla con más fuerza, como para mostrar el camino.",
                 "Ahora {hero} <entiende|entienden> qué es {thing}."],
        "deliver": ["{recipient_or_next} ya no está lejos.", "{hero} <aprieta|aprietan> {thing} con fuerza."],
        "bond": ["{other} <escucha|escuchan> y <empieza|empiezan> a confiar en {hero}.",
                 "{other} y {hero} empiezan a entenderse."],
        "contest": ["Por un momento, {hero} <va|van> por delante de {other}.",
                    "{hero} <aprende|aprenden> cómo {other} se <mueve|mueven>."],
        "rescue": ["{hero} <encuentra|encuentran> {obj_other}, todavía allí.",
                   "{hero} <está|están> muy cerca de {thing_or_other}."],
        "make": ["Pieza a pieza, todo toma forma.", "Casi funciona."],
        "learn": ["Durante un suspiro, {hero} se <eleva|elevan> del suelo.",
                  "{hero} se <cae|caen>, se <levanta|levantan> y lo <intenta|intentan> otra vez."],
        "journey": ["Nada aquí se parece a los mapas.", "A mitad de camino, {hero} <mira|miran> atrás una vez."],
    },
    special={"place_midpoint": ["{thing_cap} ya está a la vista.", "{hero} por fin <ve|ven> {thing}."],
             "thing_appears": ["Entonces aparece {thing}.", "Entonces {hero} <ve|ven> {thing}."],
             "other_lost": ["Entonces {other} <llega|llegan>, sin rumbo.",
                            "Entonces {hero} <conoce|conocen> a {other}."],
             "other_arrives": ["Entonces {other} <llega|llegan>."],
             "thing_close": ["{hero} <guarda|guardan> {thing} muy cerca.", "Poco a poco, {thing} lo cambia todo."],
             "group_opening": ["{place_cap}. {group_cap}, {hero}, <empieza|empiezan> por {routine}, como cada día.",
                               "Cada día, {group}, {hero}, <debe|deben> {routine}. Hoy será distinto."],
             "short": ["{hero} <sigue|siguen>.", "{hero} <espera|esperan>."]},
    climax=["Por fin, {hero} {achieve}.", "Con un último esfuerzo, {hero} {achieve}.", "{hero} {achieve}."],
    lines={
        "reaction": {
            "find": ["¿De dónde sales?", "Nadie me va a creer.", "¿Qué es esto?"],
            "deliver": ["Hay que devolverlo.", "Alguien espera esto.", "Tengo que llevarlo."],
            "bond": ["¿Quién eres?", "¿Me... hablas a mí?", "No me tengas miedo."],
            "contest": ["Puedo ganarte.", "Vale, vamos.", "Esta vez no."],
            "rescue": ["Tengo que ayudar.", "Aguanta, ya voy.", "Nadie más irá."],
            "make": ["Puedo conseguirlo.", "Un poco más.", "Tiene que salir perfecto."],
            "learn": ["Algún día lo lograré.", "¿Por qué no yo?", "Solo una vez, quiero intentarlo."],
            "journey": ["Ahora o nunca.", "Un poco más lejos.", "Tengo que verlo."],
            "share": ["Hay sitio para dos.", "Ven aquí debajo.", "Toma, lo compartimos."]},
        "meeting": {"ally": ["Vas a necesitar ayuda.", "No sin mí.", "¿Adónde vamos?",
                             "Me dijeron que buscabas ayuda."],
                    "hero": ["Quédate cerca.", "Entonces ven conmigo.", "Me alegro de que hayas venido."]},
        "trial": {"any": ["¡Aguanta!", "¡Sigue!", "¡No te sueltes!", "¡Por aquí!", "¡Cuidado!"]},
        "midpoint": {"any": ["Mira eso.", "Funciona.", "Ya casi estamos.", "¿Has visto eso?"]},
        "crisis": {"hero": ["No puedo hacerlo sin ayuda.", "No... ahora no.", "Así no."],
                   "together": ["No podemos parar ahora.", "No me sueltes.", "Quédate cerca."],
                   "answer": ["Sigo aquí.", "Juntos, entonces.", "Agárrate a mí."]},
        "rally": {"ally": ["Esto no ha terminado.", "Arriba. Vamos a acabarlo.", "Estoy aquí."]},
        "climax": {"find": ["Ahí estás.", "Te encontré."], "deliver": ["Esto es tuyo.", "Te lo he traído."],
                   "bond": ["No te tengo miedo.", "¿Amigos, entonces?"], "contest": ["¡Ahora!", "¡Esta vez no!"],
                   "rescue": ["¡Dame la mano!", "Te tengo."], "make": ["Ya está.", "Ahora funciona."],
                   "learn": ["¡Ahora!", "¡Lo estoy haciendo!"], "journey": ["Lo logramos.", "Ahí está."],
                   "share": ["Hay sitio de sobra.", "Quédate cerca, a cubierto."]},
        "final": {"any": ["Gracias.", "Lo hicimos.", "¿Mañana a la misma hora?", "Por fin en casa."]},
        "rest": {"any": ["Háblame de tu casa.", "¿Tienes miedo a veces?", "Duerme un poco."]},
    },
    places={"a canyon mouth": "la boca del cañón", "a hidden hollow": "una hondonada escondida",
            "a mossy clearing": "un claro de musgo", "a rainy street": "una calle bajo la lluvia",
            "above the clouds": "encima de las nubes", "the airlock": "la esclusa", "the bakery": "la panadería",
            "the boulder field": "el campo de rocas", "the broken hull": "el casco roto", "the city": "la ciudad",
            "the coral reef": "el arrecife de coral", "the counter": "el mostrador",
            "the crater rim": "el borde del cráter",
            "the crystal chamber": "la sala de cristal", "the deck": "la cubierta", "the dune sea": "el mar de dunas",
            "the farm": "la granja", "the forest": "el bosque", "the forest edge": "la linde del bosque",
            "the harbour": "el puerto", "the headland": "el cabo", "the hilltop": "la cima de la colina",
            "the hollow oak": "el roble hueco", "the ice ridge": "la cresta de hielo",
            "the landing site": "el lugar del alunizaje", "the lighthouse": "el faro", "the market": "el mercado",
            "the mirror flats": "el espejo de sal", "the moon": "la luna", "the mountain pass": "el puerto de montaña",
            "the mouth": "la boca de la cueva", "the oasis": "el oasis", "the open sea": "alta mar",
            "the outer hull": "el casco exterior", "the pass": "el paso", "the path": "el sendero",
            "the reef": "el arrecife", "the river": "el río", "the river bend": "el recodo del río",
            "the road": "el camino", "the rooftops": "los tejados", "the ship": "el barco",
            "the shoreline": "la orilla",
            "the sky": "el cielo", "the snowfield": "el campo de nieve", "the street corner": "la esquina",
            "the street outside": "la calle", "the summit": "la cumbre", "the sunken ship": "el barco hundido",
            "the table": "la mesa", "the white edge": "el borde blanco", "the workshop": "el taller",
            "the open sky": "el cielo abierto", "the castle": "el castillo"},
    obstacles={"moon": "una tormenta de polvo", "space": "una lluvia de meteoritos", "forest": "una maraña de espinas",
               "coast": "un vendaval y olas enormes", "underwater": "una corriente helada",
               "ship": "una borrasca que tumba el barco", "city": "la multitud y el tráfico",
               "street": "un laberinto de callejones", "desert": "una tormenta de arena", "snow": "una ventisca",
               "mountains": "un desprendimiento de rocas", "plains": "un aguacero repentino",
               "salt_flats": "un espejismo",
               "sky": "una ráfaga que lo arrastra todo", "interior": "una puerta cerrada con llave",
               "bakery": "un horno frío y un saco de harina vacío", "cave": "una crecida de agua negra",
               "castle": "una puerta de hierro cerrada y un pasillo sin luz"},
    routines={"moon": "revisar el oxígeno y caminar por la llanura vacía", "space": "revisar los paneles",
              "forest": "recoger setas por el sendero", "coast": "recorrer la orilla y revisar las barcas",
              "underwater": "nadar en círculos sobre el fondo", "ship": "enrollar los cabos y revisar las velas",
              "city": "abrirse paso por la acera", "street": "barrer la entrada y abrir las persianas",
              "desert": "revisar los odres y leer las dunas", "snow": "despejar el camino hasta la cabaña",
              "mountains": "ajustar las correas y subir el sendero", "plains": "seguir el camino hasta el pueblo",
              "salt_flats": "caminar sobre la costra blanca", "sky": "seguir el viento",
              "interior": "ordenar los estantes y poner la mesa", "bakery": "amasar la masa y encender el horno",
              "cave": "encender una antorcha y seguir el goteo",
              "castle": "recorrer las murallas y encender las antorchas",
              "baker": "amasar la masa y encender el horno", "diver": "bajar nadando por el agua verde",
              "keeper": "subir la escalera y pulir la gran lámpara",
              "lighthouse keeper": "subir la escalera del faro y pulir la gran lámpara",
              "astronaut": "revisar el oxígeno y caminar por la llanura vacía", "fisherman": "remendar las redes",
              "farmer": "dar de comer a los animales", "librarian": "colocar los libros devueltos",
              "postman": "clasificar las cartas", "courier": "clasificar las cartas",
              "gardener": "regar los semilleros",
              "painter": "mezclar los colores", "sailor": "enrollar los cabos", "violinist": "afinar el violín",
              "knight": "pulir la espada",
              "animal": "seguir el sendero de siempre", "bird": "dar vueltas en el cielo y posarse en el mismo sitio",
              "sea_creature": "nadar en círculos lentos", "creature": "rondar por los bordes del lugar",
              "robot": "hacer las revisiones de la mañana", "object": "esperar en el mismo sitio y mirar",
              "element": "flotar sobre todo"},
    abstract={"nature": "los primeros brotes verdes", "life": "un brote", "home": "el camino a casa",
              "way home": "el camino a casa", "love": "un recuerdo", "courage": "el valor", "hope": "una lucecita",
              "friendship": "la amistad", "freedom": "la libertad", "magic": "la magia"},
    words={"and": "y", "helped": "con la ayuda de", "way": "el camino", "unknown": "lo desconocido",
           "owner": "su dueño",
           "over": "sobre", "court": "la corte de", "of": "de"},
)

TONGUES: dict[str, Tongue] = {"fr": FRENCH, "es": SPANISH}


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
