"""Modal apps: ``film_gpu.py`` runs FilmStitch's FLUX.1-dev and LTX-Video engines on Modal GPUs."""
