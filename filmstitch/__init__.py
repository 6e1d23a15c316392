"""FilmStitch: a one-sentence film idea in, a short film out.

The package's layers, top to bottom (each imports only the ones below it):

    filmstitch.app, filmstitch.deployments   entry points: CLI, REST client, local servers, serving
    filmstitch.flows                         Prefect flows: the process, orchestration only
    filmstitch.tasks                         Prefect tasks: one step each, thin
    filmstitch.*                             the domain: models, settings, storage, writers, renderers,
                                             engines, sound, checkpoints, reuse keys
    filmstitch.modal_workers                 the Modal GPU apps (they run the engines remotely)

flows/, tasks/, deployments/ and modal_workers/ sit at the top of the repository (the project's
layout) but are subpackages of `filmstitch`, so nothing generic such as `tasks` is installed at the top
of site-packages. A wheel puts them inside filmstitch/ (package-dir in pyproject.toml); in a source
checkout the lines below let Python find them where they are.
"""

from pathlib import Path

__version__ = "0.1.0"

_checkout = Path(__file__).resolve().parent.parent
if (_checkout / "flows" / "make_film.py").is_file() and (_checkout / "pyproject.toml").is_file():
    __path__.append(str(_checkout))  # a package's __path__; finds filmstitch.flows in ./flows
