"""Sound settings, from ``FILMSTITCH_SOUND_*`` environment variables (or ``.env``). Torch-free, so the Modal
app can read them where no GPU libraries are installed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SoundSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FILMSTITCH_SOUND_", env_file=".env", extra="ignore")

    engine: Literal["offline", "local-gpu", "modal"] = Field(
        "offline", description="Voices and ambience: offline (Piper + procedural, CPU), local-gpu (SpeechT5 + "
        "Stable Audio 3 in-process) or modal (the same on the deployed filmstitch-sound app).")

    clip_sound: Literal["bed", "soundtrack", "off"] = Field(
        "bed", description="What the clips' own sound (video_engine=ltx-2) becomes in the mix: bed (default: it "
        "replaces the ambience under the narration, ducked and loudness-normalised: sound in sync with the "
        "picture, the story still told by the narration), soundtrack (it is the whole soundtrack, no narration "
        "voice: for prompts that carry the dialogue), off (the ambience beds, the clips' sound unused). Silent "
        "clips (LTX-Video 0.9.5, the animatic) always get the ambience beds.")

    # --- offline ---
    piper_voices_dir: str | None = Field(None, description="Extra Piper voices (*.onnx + *.onnx.json) besides joe.")
    piper_noise_scale: float = Field(0.667, ge=0.0, le=1.0, description="Piper's generator noise (its default).")
    speech_workers: int = Field(2, ge=1, le=16, description="Segments spoken at once by the local engine.")

    # --- GPU engines (weights in from_pretrained layout; docs/sound.md shows the download) ---
    tts_dir: str = Field("/weights/speecht5", description="speecht5_tts/, speecht5_hifigan/ and speakers.npz.")
    ambience_dir: str = Field("/weights/stable-audio-3-medium", description="Stable Audio 3 Medium (diffusers).")
    ambience_steps: int = Field(8, ge=1, le=200, description="Denoising steps (8 for the distilled checkpoint).")
    ambience_chunk_s: float = Field(120.0, ge=10.0, le=380.0, description="Longest bed generated in one call.")
    device: Literal["auto", "cuda", "cpu"] = "auto"
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"

    # --- Modal ---
    modal_app: str = "filmstitch-sound"
    modal_gpu: str = Field("L40S", description="Modal GPU type for the voice and ambience workers.")
    modal_timeout_s: int = Field(900, ge=60, le=86400)
    modal_max_containers: int = Field(10, ge=1, le=100)
    modal_scaledown_s: int = Field(120, ge=2, le=3600)
    modal_retries: int = Field(2, ge=0, le=10)
    modal_weights_volume: str = "filmstitch-weights"
    modal_hf_secret: str = "huggingface-secret"
