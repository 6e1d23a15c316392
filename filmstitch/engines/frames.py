"""A clip's frames in time: how many LTX-Video makes, how conditioning frames look, how the rest are filled.

No torch here (numpy and the ffmpeg binary only), so the renderers can check a request before any GPU work.

**The frame contract.** A film of N segments at F frames per segment (``FilmRequest.frames_per_clip``, 192
for 8 s at 24 fps) has N + 1 keyframes. Segment ``i`` spans F frame *intervals*, from keyframe ``i`` at
t = 0 to keyframe ``i + 1`` at t = F / fps, so a clip has F + 1 frames from keyframe to keyframe. The
engine makes all F + 1 (:meth:`LtxVideoEngine.clip_frames`); the clip that goes into the film keeps its
opening keyframe and drops its closing one, which is the next clip's first frame; only the last segment's
clip keeps its closing keyframe too (``closing_frame=True``). So every boundary frame appears once, clip
``i`` starts exactly at ``i * F / fps`` (where the sound is laid), and the film has ``N * F + 1`` frames.

**True motion.** ``native``: LTX generates the clip at the film's own rate: F + 1 frames, or the next
``8k + 1`` with the closing keyframe conditioned at frame F and the (at most 7) frames after it dropped.
192 frames at 24 fps -> 193 generated, exactly LTX's ``8k + 1``. ``interpolated`` (or a clip too long for
LTX's 257 frames): LTX generates every r-th frame at ``fps / r`` and ffmpeg's motion-compensated
interpolator (``minterpolate``: block motion estimation, overlapped-block motion compensation) makes the
frames in between. Never linear cross-fades: those are double exposures on anything that moves.

**Conditioning like training.** LTX-Video was trained on frames of compressed video; a pristine PNG as a
condition is a known cause of frozen clips. Lightricks' inference code round-trips each conditioning
image through a one-frame H.264 encode at CRF 29 (:func:`h264_round_trip`); the diffusers docs do the same
through a video export. The exact keyframe pixels are still written into the delivered boundary frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ffmpeg
import imageio_ffmpeg
import numpy as np
from PIL import Image

from filmstitch.engines import LTX_FRAME_STEP, LTX_MAX_FRAMES

#: The largest slow-down accepted for `interpolated` motion (every 4th frame generated).
MAX_RATE_DIVISOR = 4
#: Mirrored frames put before and after a clip: minterpolate needs about three frames of history before
#: it interpolates (it repeats frames until then) and holds back the stream's last frame.
PAD_FRAMES = 4


@dataclass(frozen=True)
class ClipTiming:
    """How a clip of ``span`` frame intervals is made: LTX generates ``generated`` frames at ``fps / divisor``,
    the closing keyframe sits at generated frame ``last_index`` (= span / divisor), and ``divisor - 1`` frames
    are interpolated between each pair of generated ones."""

    span: int
    divisor: int
    generated: int
    last_index: int

    @property
    def frames(self) -> int:
        """Frames from keyframe to keyframe, both included."""
        return self.span + 1

    def delivered(self, closing_frame: bool) -> int:
        """Frames of the clip that go into the film (see the module docstring)."""
        return self.span + 1 if closing_frame else self.span


def clip_timing(span: int, motion: str = "native", max_frames: int = LTX_MAX_FRAMES,
                step: int = LTX_FRAME_STEP) -> ClipTiming:
    """The cheapest way to make a clip of ``span`` intervals with true motion, or a ValueError saying why not."""
    if span < 1:
        raise ValueError(f"a clip needs at least 1 frame interval, got {span}")
    if motion not in ("native", "interpolated"):
        raise ValueError(f"video motion must be 'native' or 'interpolated', got {motion!r}")
    first_divisor = 1 if motion == "native" else 2
    for divisor in range(first_divisor, MAX_RATE_DIVISOR + 1):
        if span % divisor:
            continue
        last_index = span // divisor
        generated = math.ceil(last_index / step) * step + 1
        if generated <= max_frames:
            return ClipTiming(span=span, divisor=divisor, generated=generated, last_index=last_index)
    raise ValueError(
        f"a clip of {span} frames cannot be made with LTX-Video: at most {max_frames} generated frames and "
        f"every 2nd to {MAX_RATE_DIVISOR}th frame interpolated, with a frame count those divide "
        "(use shorter segments, or a frame rate that makes seconds x fps divisible by 2 or 4)"
    )


# ----------------------------------------------------------------------------------- ffmpeg helpers


def _raw(array: np.ndarray) -> tuple[int, int, bytes]:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    return array.shape[-2], array.shape[-3], array.tobytes()


def _run(stream: ffmpeg.nodes.OutputStream, data: bytes, what: str) -> bytes:
    try:
        out, _ = stream.global_args("-loglevel", "error", "-nostdin").run(
            cmd=imageio_ffmpeg.get_ffmpeg_exe(), input=data, capture_stdout=True, capture_stderr=True
        )
    except ffmpeg.Error as exc:
        tail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-2:]
        raise RuntimeError(f"ffmpeg failed to {what}: " + " | ".join(tail)) from None
    return out


def h264_round_trip(image: Image.Image, crf: int) -> Image.Image:
    """The image after a one-frame H.264 encode at ``crf`` (yuv420p, as video frames are) and a decode.

    ``crf`` 0 returns the image unchanged (no round trip). Sizes must be even (clip sizes are multiples of 32).
    """
    if crf == 0:
        return image
    width, height, data = _raw(np.asarray(image.convert("RGB")))
    if width % 2 or height % 2:
        raise ValueError(f"an H.264 round trip needs even sizes, got {width}x{height}")
    raw = {"format": "rawvideo", "pix_fmt": "rgb24", "s": f"{width}x{height}"}
    encoded = _run(
        ffmpeg.input("pipe:", **raw).output("pipe:", format="h264", vcodec="libx264", crf=crf, preset="medium",
                                              pix_fmt="yuv420p", frames=1),
        data, "encode a keyframe",
    )
    decoded = _run(ffmpeg.input("pipe:", format="h264").output("pipe:", **{k: v for k, v in raw.items() if k != "s"}),
                   encoded, "decode a keyframe")
    pixels = np.frombuffer(decoded, np.uint8)[: width * height * 3].reshape(height, width, 3)
    return Image.fromarray(pixels.copy())


def interpolate_frames(frames: np.ndarray, divisor: int) -> np.ndarray:
    """(M, H, W, 3) uint8 frames at rate R -> ((M - 1) * divisor + 1) frames at rate R * divisor.

    ffmpeg's ``minterpolate`` (motion-compensated: bidirectional block motion estimation, overlapped-block
    compensation, variable-size blocks) makes the in-between frames; every ``divisor``-th output frame is
    the generated frame itself, bit for bit.
    """
    if divisor == 1:
        return frames
    count, height, width, _ = frames.shape
    if count < 2:
        raise ValueError(f"interpolation needs at least 2 frames, got {count}")
    # The filter estimates motion from the frames around a gap and, at the ends of a stream, has none there
    # (it repeats frames instead). Mirrored frames in front and behind give it motion that continues smoothly.
    pad = PAD_FRAMES
    padded = np.pad(frames, ((pad, pad), (0, 0), (0, 0), (0, 0)), mode="reflect")
    _, _, data = _raw(padded)
    stream = (
        ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", framerate=1)
        .filter("minterpolate", fps=divisor, mi_mode="mci", mc_mode="aobmc", me_mode="bidir", vsbmc=1, scd="none")
        .output("pipe:", format="rawvideo", pix_fmt="rgb24")
    )
    out = np.frombuffer(_run(stream, data, "interpolate frames"), np.uint8).reshape(-1, height, width, 3)
    wanted = (count - 1) * divisor + 1
    start = pad * divisor
    if len(out) < start + wanted:
        raise RuntimeError(f"ffmpeg interpolated {len(out)} frames, {start + wanted} were needed")
    result = out[start : start + wanted].copy()
    result[::divisor] = frames  # the generated frames exactly (the filter works in YUV)
    return result
