"""The sound engines as clients of the deployed Modal app (``modal_workers/sound_gpu.py``).

Each call goes to a GPU container; the flow's tasks (one per segment, one per location) call at once, so
Modal fans them out. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from filmstitch.models import VoiceCasting
from filmstitch.sound.audio import from_wav
from filmstitch.sound.settings import SoundSettings
from filmstitch.sound.voices import SHAPING_VERSION, RawSpeech, SoundEngine, SpeechError


def _worker(settings: SoundSettings, name: str):
    import modal

    return modal.Cls.from_name(settings.modal_app, name)()


class ModalVoiceEngine(SoundEngine):
    """SpeechT5 on Modal (``VoiceWorker``)."""

    name = "speecht5-modal"

    def __init__(self, settings: SoundSettings | None = None, worker: object | None = None) -> None:
        self.settings = settings or SoundSettings()
        self.worker = worker or _worker(self.settings, "VoiceWorker")
        self._voices: list[str] | None = None
        self.code_version = f"speecht5-modal-{SHAPING_VERSION}"

    def voices(self) -> list[str]:
        if self._voices is None:
            self._voices = list(self.worker.voices.remote())
        return self._voices

    def synthesize(self, lines: Sequence[tuple[str, VoiceCasting]]) -> list[RawSpeech]:
        try:
            wavs = self.worker.synthesize.remote([(text, casting.voice or "") for text, casting in lines])
        except Exception as exc:  # noqa: BLE001 - Modal raises its own types; the stage reports the message
            raise SpeechError(f"the Modal voice worker failed: {type(exc).__name__}: {str(exc)[:200]}", 0) from None
        return [RawSpeech(*from_wav(wav, "Modal voice output")) for wav in wavs]


class ModalAmbienceEngine:
    """Stable Audio 3 on Modal (``AmbienceWorker``)."""

    name = "stable-audio-3-modal"
    code_version = "sa3-modal-1"

    def __init__(self, settings: SoundSettings | None = None, worker: object | None = None) -> None:
        self.settings = settings or SoundSettings()
        self.worker = worker or _worker(self.settings, "AmbienceWorker")

    def bed(self, prompt: str, samples: int, seed: int) -> np.ndarray:
        samples_out, _ = from_wav(self.worker.bed.remote(prompt, samples, seed), "Modal ambience output")
        return samples_out
