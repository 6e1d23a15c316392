#!/usr/bin/env bash
# Install everything the tests need on a fresh machine, then run them. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# ffprobe (independent check of the films) and Chromium (UI tests) come from Debian.
if ! command -v ffprobe >/dev/null || ! command -v chromium >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg chromium >/dev/null
fi
# The CPU build of torch lies on this machine's disk; pin it so pip never pulls a 5 GB CUDA build.
python3 -m pip install -q --disable-pip-version-check torch==2.13.0
python3 -m pip install -q --disable-pip-version-check -e '.[test,gpu,modal]'

export PREFECT_SERVER_ANALYTICS_ENABLED=false
python3 -m pytest "$@"
