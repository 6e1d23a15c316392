"""The Claude writer: an idea in, a checked film plan out, through the Anthropic Messages API.

Modules, in reading order:

* ``writer``: :class:`ClaudeWriter`, the four writer calls and how a long film is cut into questions;
* ``conversation``: one question as a streamed request, its validation and its repair turns;
* ``catalog``: what each model accepts and costs (dated);
* ``answers``: the answer models whose JSON schemas constrain the answers;
* ``checks``: the cross-checks no schema can express;
* ``prompts``: every word said to the model;
* ``settings``: ``FILMSTITCH_CLAUDE_*`` settings and the API key.
"""

from filmstitch.writers.claude.catalog import CHECKED, DEFAULT_MODEL, FAMILIES, ModelFamily, Price, Rates, family_for
from filmstitch.writers.claude.checks import AppearanceRule, appearance_words
from filmstitch.writers.claude.conversation import STAGES, Stage
from filmstitch.writers.claude.settings import ClaudeSettings, load_settings, resolve_api_key, scrub
from filmstitch.writers.claude.writer import ClaudeWriter, chunks_of

__all__ = [
    "CHECKED", "DEFAULT_MODEL", "FAMILIES", "STAGES", "AppearanceRule", "ClaudeSettings", "ClaudeWriter",
    "ModelFamily", "Price", "Rates", "Stage", "appearance_words", "chunks_of", "family_for", "load_settings",
    "resolve_api_key", "scrub",
]
