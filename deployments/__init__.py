"""FilmStitch's Prefect deployments: `make-film`, `retake-film` and `film-batch`, declared in prefect.yaml and
served locally by `filmstitch.deployments.serve` (what `filmstitch server` runs)."""
