"""Part paths come from filmstitch.storage.parts; the one other spelling (RetakeRequest.part) agrees with it."""

from __future__ import annotations

from filmstitch.models import RetakeRequest
from filmstitch.storage.parts import ambience_part, clip_part, keyframe_part, reference_part, speech_part


def test_the_parts_are_where_stored_films_keep_them() -> None:
    assert (keyframe_part(4), clip_part(6), reference_part("char_lena")) == ("keyframes/k04", "clips/c06",
                                                                            "references/char_lena")
    assert (speech_part(2), ambience_part("loc_moon")) == ("sound/speech/s02", "sound/ambience/loc_moon")


def test_a_retake_names_its_part_as_the_helpers_do() -> None:
    assert RetakeRequest(film_id="film", keyframe=12).part == keyframe_part(12)
    assert RetakeRequest(film_id="film", clip=3).part == clip_part(3)
