#!/usr/bin/env bash
# The device bench in one command (bench/gpu.py): kernels, spectra, training and every default view
# from empty caches, one table. Runs with the engine alone (no Streamlit), on a GPU or a CPU:
#   bash bench/gpu.sh [--markdown] [--only NAME ...] [--scale 0.25]
# PYTHON picks the interpreter (default: the project's .venv when there is one, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
exec "$PYTHON" bench/gpu.py "$@"
