"""FilmStitch: a one-sentence film idea in, a short film out."""

__version__ = "0.1.0"
