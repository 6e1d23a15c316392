#!/usr/bin/env bash
# The lint lane: ruff over the repository, mypy over the package. scripts/test.sh --fast (and so .ci/run) runs it.
# Rules and settings: [tool.ruff] and [tool.mypy] in pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
python3 -m ruff check --quiet --output-format concise . || status=1

# mypy must see flows/, tasks/, deployments/ and modal_workers/ as subpackages of filmstitch, as the wheel has
# them (package-dir in pyproject.toml). In a checkout filmstitch/__init__.py finds them at run time, which mypy
# cannot follow, so it reads a tree of links in that layout; its messages are turned back into the real paths.
tree=.lint/tree
rm -rf "$tree"
mkdir -p "$tree/filmstitch"
for entry in filmstitch/*; do ln -s "$PWD/$entry" "$tree/filmstitch/"; done
for sub in flows tasks deployments modal_workers; do ln -s "$PWD/$sub" "$tree/filmstitch/$sub"; done
(cd "$tree" && python3 -m mypy --config-file ../../pyproject.toml --cache-dir ../mypy-cache -p filmstitch) \
  | sed -E 's#^filmstitch/(flows|tasks|deployments|modal_workers)/#\1/#' || status=1
exit "$status"
