#!/usr/bin/env bash
# CI step: build the sdist and the wheel, then check their metadata with twine.
# Usage: .ci/build_check.sh [PYTHON] [OUTDIR]   (needs the `build` and `twine` packages)
# Builds without isolation so that nothing is downloaded: the build backend
# (setuptools) comes from the environment running this script.
set -euo pipefail
PYTHON="${1:-python}"
OUT="${2:-dist}"
cd "$(dirname "$0")/.."
rm -rf "$OUT"
"$PYTHON" -m build --no-isolation --sdist --wheel --outdir "$OUT" .
"$PYTHON" -m twine check --strict "$OUT"/*
ls -l "$OUT"
