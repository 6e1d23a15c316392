#!/usr/bin/env bash
# Install everything the tests need on a fresh machine, then run them. Extra arguments go to pytest.
#   bash scripts/test.sh            the lint lane, then the whole suite (tests/unit, integration, reliability, ui)
#   bash scripts/test.sh --fast     the lint lane, then the fast lane: tests/unit (no Prefect server, no browser,
#                                   no S3 server)
# The lint lane (scripts/lint.sh): ruff over the repository, mypy over the package.
set -euo pipefail
cd "$(dirname "$0")/.."

# From Debian: ffprobe (independent check of the films), Chromium (UI tests), Ceph's RADOS Gateway
# with one monitor and one OSD (a real S3 server for the storage tests, started by them), and
# PostgreSQL (the studio tests run `filmstitch server` on it; filmstitch/testing/postgres.py starts it).
missing=()
command -v ffprobe >/dev/null || missing+=(ffmpeg)
command -v chromium >/dev/null || missing+=(chromium)
for tool in radosgw ceph-mon ceph-osd ceph; do
  command -v "$tool" >/dev/null || { missing+=(radosgw ceph-mon ceph-osd ceph-common); break; }
done
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# From npm, into .test-servers/ (git ignores it): s3rver, the S3 look-alike that ignores
# conditional writes, which the tests show being refused.
if [ ! -x .test-servers/node_modules/.bin/s3rver ]; then
  npm install --prefix .test-servers --no-audit --no-fund --loglevel=error s3rver@3.7.1 >/dev/null
fi
# The CPU build of torch lies on this machine's disk; pin it so pip never pulls a 5 GB CUDA build.
python3 -m pip install -q --disable-pip-version-check torch==2.13.0
python3 -m pip install -q --disable-pip-version-check -e '.[test,gpu,modal,voice]'

export PREFECT_SERVER_ANALYTICS_ENABLED=false
bash scripts/lint.sh
if [ "${1:-}" = "--fast" ]; then
  shift
  exec python3 -m pytest tests/unit "$@"
fi
# The 40 slowest tests at the end: where the suite's time goes (goal: about 40 minutes on 2 cores).
python3 -m pytest --durations=40 "$@"
