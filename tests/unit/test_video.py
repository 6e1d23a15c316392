"""The shared ffmpeg helpers: one encoder for every renderer, fed frame by frame or as one clip array."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from filmstitch.video import VideoError, decode_frames, encode_frames, encode_mp4, probe


def gradient_clip(frames: int = 12, height: int = 64, width: int = 96) -> np.ndarray:
    """A moving gradient: smooth content that H.264 keeps close to the source."""
    y, x = np.mgrid[0:height, 0:width]
    clip = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        clip[t, ..., 0] = (x * 2 + t * 8) % 256
        clip[t, ..., 1] = (y * 3) % 256
        clip[t, ..., 2] = 128 + t
    return clip


def test_a_clip_array_and_its_frames_encode_to_the_same_bytes() -> None:
    clip = gradient_clip()
    assert encode_mp4(clip, 24) == encode_mp4(iter(list(clip)), 24)


def test_an_encoded_clip_has_every_frame_and_stays_close_to_the_source(tmp_path: Path) -> None:
    clip = gradient_clip()
    path = tmp_path / "clip.mp4"
    encode_frames(clip, path, 24)
    info = probe(path, count_frames=True)
    assert (info.width, info.height, info.frames, info.codec) == (96, 64, 12, "h264")
    decoded = decode_frames(path)
    assert decoded.shape == clip.shape
    # yuv420p + CRF 18 is lossy but close: mean error of a few levels, not garbage.
    assert np.abs(decoded.astype(int) - clip.astype(int)).mean() < 6


def test_a_non_contiguous_array_is_encoded_as_its_values(tmp_path: Path) -> None:
    clip = gradient_clip()
    flipped = clip[:, ::-1]  # a view with negative strides
    assert not flipped.flags.c_contiguous
    assert encode_mp4(flipped, 24) == encode_mp4(np.ascontiguousarray(flipped), 24)


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (iter([]), "no frames"),
        (np.zeros((0, 8, 8, 3), np.uint8), r"\(F, H, W, 3\)"),
        (np.zeros((2, 8, 8), np.uint8), r"\(F, H, W, 3\)"),
        (iter([np.zeros((16, 16, 3), np.uint8), np.zeros((16, 32, 3), np.uint8)]), "frame size changed"),
    ],
)
def test_bad_frames_get_a_clear_error(frames: object, message: str) -> None:
    with pytest.raises(VideoError, match=message):
        encode_mp4(frames, 24)  # type: ignore[arg-type]
