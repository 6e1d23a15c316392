"""What the sound stage's steps hand each other: speech per segment, the mix and its report.

Plain pydantic models holding bytes, so Prefect can cache them and the storage layer can write them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from filmstitch.sound.subtitles import Cue


class LineSpeech(BaseModel):
    """One spoken line of a segment, synthesised, shaped and fitted.

    ``wav`` is 48 kHz mono 16-bit PCM. ``onset_s`` / ``speech_s`` locate the audible speech inside it (the
    rest is the engine's own lead-in and tail); ``pauses_s`` are the pauses inside the speech (seconds from
    the start of ``wav``). ``layout_onset_s`` is where the segment's layout puts the speech onset, seconds
    from the segment's start, and ``slot_s`` how long the line holds the floor (speech, at least 1 s).
    """

    model_config = ConfigDict(frozen=True)

    segment: int
    line: int
    speaker: str
    text: str
    wav: bytes = Field(repr=False)
    onset_s: float
    speech_s: float
    pauses_s: list[float] = Field(default_factory=list)
    layout_onset_s: float
    slot_s: float


class SegmentSpeech(BaseModel):
    """Every line of one segment (narration first, then the dialogue), with the tempo fit they got."""

    model_config = ConfigDict(frozen=True)

    segment: int
    engine: str
    code_version: str
    fit: float = Field(description="Tempo factor added to fit the segment (1 = none, at most 1.10).")
    overrun_s: float = Field(0.0, description="How far the speech still runs past the segment at that tempo.")
    lines: list[LineSpeech] = Field(default_factory=list)


class MixReport(BaseModel):
    """Measured facts of a mix (EBU R128, by ffmpeg's ebur128 on the encoded AAC)."""

    model_config = ConfigDict(frozen=True)

    integrated_lufs: float
    true_peak_dbtp: float
    loudness_range_lu: float
    duration_s: float
    samples: int
    normalisation: str = Field(description="loudnorm's mode in its second pass: 'linear' (one gain) or 'dynamic'.")
    gain_db: float = Field(description="The gain the second pass applied (the stems carry it too).")
    spills: list[str] = Field(default_factory=list, description="Lines that moved into a neighbour's silence.")


class SoundMix(BaseModel):
    """The film's sound: the mix as AAC 48 kHz in an .m4a, lossless stems, and the subtitle cues."""

    model_config = ConfigDict(frozen=True)

    m4a: bytes = Field(repr=False)
    stems: dict[str, bytes] = Field(repr=False, description="'voice' (mono) and 'ambience' (stereo) as FLAC.")
    cues: list[Cue]
    report: MixReport
