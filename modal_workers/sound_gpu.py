"""FilmStitch's sound on Modal: SpeechT5 speaks every segment's lines, Stable Audio 3 makes every location's bed.

A film's sound is many small GPU jobs at once: ten segments of speech (one batch of lines each) and one
bed per location. Prefect fans them out (one task per segment, one per location); each task calls a
method here, so ten segments run in up to ``modal_max_containers`` containers side by side, and the
containers scale to zero when the film is done.

* ``VoiceWorker`` — SpeechT5 + HiFi-GAN with the CMU ARCTIC speaker table
  (:mod:`filmstitch.engines.tts`): ``synthesize(lines)`` returns each line as 16 kHz WAV bytes, unshaped;
  the sound stage shapes, fits and mixes them on the CPU as it does Piper's.
* ``AmbienceWorker`` — Stable Audio 3 Medium (:mod:`filmstitch.engines.audio`): ``bed(prompt, samples,
  seed)`` returns a 48 kHz stereo WAV of exactly ``samples`` samples.

Each container loads its model once, in ``@modal.enter``, from the weights Volume (read-only). Settings come
from ``FILMSTITCH_SOUND_*`` (:class:`filmstitch.sound.settings.SoundSettings`) when you deploy.

Deploy, once::

    modal secret create huggingface-secret HF_TOKEN=hf_...   # Stable Audio 3 is gated: accept its licence first
    modal run modal_workers/sound_gpu.py                       # download the weights into the Volume
    modal deploy modal_workers/sound_gpu.py
    FILMSTITCH_SOUND_ENGINE=speecht5-modal filmstitch make "..."   # (the flow's setting; see docs/sound.md)
"""

from __future__ import annotations

import modal

from filmstitch.sound.settings import SoundSettings

settings = SoundSettings()

WEIGHTS = "/weights"
#: Hugging Face repositories and the Volume folders they go to, with what to fetch (allow-lists).
WEIGHT_REPOS = {
    "speecht5/speecht5_tts": ("microsoft/speecht5_tts", ["*.json", "*.model", "*.safetensors", "*.txt"]),
    "speecht5/speecht5_hifigan": ("microsoft/speecht5_hifigan", ["*.json", "*.safetensors"]),
    "stable-audio-3-medium": ("stabilityai/stable-audio-3-medium",
                              ["model_index.json", "*/config.json", "*/*.safetensors", "*/*.json", "tokenizer/*"]),
}
#: The CMU ARCTIC x-vectors (one per utterance) averaged into speakers.npz by the download.
XVECTORS = ("Matthijs/cmu-arctic-xvectors", "spkrec-xvect.zip")

app = modal.App(settings.modal_app)

container_env = {
    "FILMSTITCH_SOUND_TTS_DIR": f"{WEIGHTS}/speecht5",
    "FILMSTITCH_SOUND_AMBIENCE_DIR": f"{WEIGHTS}/stable-audio-3-medium",
    "FILMSTITCH_SOUND_AMBIENCE_STEPS": str(settings.ambience_steps),
    "FILMSTITCH_SOUND_AMBIENCE_CHUNK_S": str(settings.ambience_chunk_s),
    "FILMSTITCH_SOUND_DEVICE": "cuda",
}

image = (
    modal.Image.debian_slim(python_version="3.11")
    .pip_install(
        "torch==2.11.0", "diffusers==0.42.1", "transformers>=5.20,<6", "accelerate>=1.0", "sentencepiece",
        "protobuf", "safetensors", "huggingface_hub", "pydantic>=2.7", "pydantic-settings>=2.3", "numpy", "scipy",
        "pillow", "ffmpeg-python", "imageio-ffmpeg", "pycountry",
    )
    .env(container_env)
    .add_local_python_source("filmstitch")
)

weights = modal.Volume.from_name(settings.modal_weights_volume, create_if_missing=True)

gpu_class = app.cls(
    image=image,
    gpu=settings.modal_gpu,
    volumes={WEIGHTS: weights.read_only()},
    timeout=settings.modal_timeout_s,
    scaledown_window=settings.modal_scaledown_s,
    max_containers=settings.modal_max_containers,
    retries=modal.Retries(max_retries=settings.modal_retries, backoff_coefficient=2.0, initial_delay=5.0),
)


@gpu_class
class VoiceWorker:
    """SpeechT5: one segment's lines per call, each in its voice id."""

    @modal.enter()
    def load(self) -> None:
        from filmstitch.engines.tts import SpeechT5Engine

        self.engine = SpeechT5Engine.load(SoundSettings())

    @modal.method()
    def voices(self) -> list[str]:
        return self.engine.voices()

    @modal.method()
    def synthesize(self, lines: list[tuple[str, str]]) -> list[bytes]:
        """(text, voice id) per line -> 16 kHz mono WAV bytes per line, unshaped."""
        from filmstitch.models import VoiceCasting
        from filmstitch.sound.audio import to_wav

        speech = self.engine.synthesize([(text, VoiceCasting(voice=voice)) for text, voice in lines])
        return [to_wav(line.samples, line.rate) for line in speech]


@gpu_class
class AmbienceWorker:
    """Stable Audio 3: one location's bed (one span) per call."""

    @modal.enter()
    def load(self) -> None:
        from filmstitch.engines.audio import StableAudioAmbienceEngine

        self.engine = StableAudioAmbienceEngine.load(SoundSettings())

    @modal.method()
    def bed(self, prompt: str, samples: int, seed: int) -> bytes:
        from filmstitch.sound.audio import to_wav

        return to_wav(self.engine.bed(prompt, samples, seed))


@app.function(image=image, volumes={WEIGHTS: weights}, secrets=[modal.Secret.from_name(settings.modal_hf_secret)],
              timeout=3600)
def download_weights() -> list[str]:
    """Fill the Volume: SpeechT5 + HiFi-GAN, Stable Audio 3 Medium (allow-listed files only), and the speaker
    table averaged from the CMU ARCTIC x-vectors."""
    import io
    import os
    import zipfile

    import numpy as np
    from huggingface_hub import hf_hub_download, snapshot_download

    from filmstitch.engines.tts import mean_xvectors

    token = os.environ["HF_TOKEN"]
    done = []
    for folder, (repo, allow) in WEIGHT_REPOS.items():
        snapshot_download(repo, local_dir=f"{WEIGHTS}/{folder}", allow_patterns=allow, token=token)
        done.append(f"{repo} -> {settings.modal_weights_volume}:/{folder}")
    archive = hf_hub_download(XVECTORS[0], XVECTORS[1], repo_type="dataset", token=token)
    vectors = {}
    with zipfile.ZipFile(archive) as bundle:
        for name in bundle.namelist():
            if name.endswith(".npy"):
                vectors[name] = np.load(io.BytesIO(bundle.read(name)))
    table = mean_xvectors(vectors)
    np.savez(f"{WEIGHTS}/speecht5/speakers.npz", **table)  # type: ignore[arg-type]  # numpy stubs: **arrays vs allow_pickle
    done.append(f"{XVECTORS[0]} -> speakers.npz ({', '.join(table)})")
    weights.commit()
    return done


@app.local_entrypoint()
def main() -> None:
    """`modal run modal_workers/sound_gpu.py`: fill the weights Volume."""
    for line in download_weights.remote():
        print(line)
