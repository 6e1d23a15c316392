"""Sound for a film: narration and a voice for every character, ambience per location, a loudness-normalised
mix and subtitles timed to the speech.

The modules, in the order the stage uses them:

* :mod:`~filmstitch.sound.casting` — a concrete, deterministic voice for the narrator and each character;
* :mod:`~filmstitch.sound.voices` — the :class:`SoundEngine` interface, the offline Piper engine (a separate
  process) and voice shaping (pitch, formant, tempo);
* :mod:`~filmstitch.sound.timing` — where lines sit in their segment, and how a long one is fitted;
* :mod:`~filmstitch.sound.ambience` — procedural, seeded sound beds per location;
* :mod:`~filmstitch.sound.mix` — placement by sample, ducking, EBU R128 loudness, AAC;
* :mod:`~filmstitch.sound.subtitles` — cues from the audio, SRT and WebVTT;
* :mod:`~filmstitch.sound.stage` — the functions the flow's tasks call.

GPU engines (a neural voice, text-to-audio ambience) live in :mod:`filmstitch.engines.tts` and
:mod:`filmstitch.engines.audio`.
"""
