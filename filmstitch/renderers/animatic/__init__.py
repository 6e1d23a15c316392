"""The animatic renderer: storyboard pictures and clips drawn on the CPU from the plan's structured data.

    looks.py     a character's or location's look, from its kind, species, palette, garments, set, time of day
    pen.py       figure-unit shapes (capsules, ellipses, polygons, boxes) drawn onto a sprite
    figures.py   every kind of character as its own posable, turnable silhouette
    props.py     props in hand (an umbrella over the head, a violin under the chin, a sword, a candle...)
    scenery.py   one pre-drawn set per location (backdrop, terrain, dressing, landmark)
    weather.py   rain, storm and snow falling over a set, drawn on every frame
    motion.py    keyframe states and the motion between them (walks, gestures, turns, location changes)
    text.py      the chapter chip and sheet labels (no subtitles: the picture stays clean)
    renderer.py  AnimaticRenderer: reference sheets, keyframe variants, clips
"""

from filmstitch.renderers.animatic.renderer import AnimaticError, AnimaticRenderer

__all__ = ["AnimaticError", "AnimaticRenderer"]
