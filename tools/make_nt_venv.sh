#!/usr/bin/env bash
# Create a throwaway virtual environment with neural-tangents (NT) 0.6.5, used only to regenerate
# the reference kernels in tests/data/ (tools/make_reference.py). NT is never a dependency of the
# project: its last release pins an old jax (0.4.23), which cannot live beside the project's jax.
#
#   bash tools/make_nt_venv.sh [VENV_DIR]      # default: .nt-venv in the repository root
#   VENV_DIR/bin/python tools/make_reference.py --out tests/data
#
# Idempotent: if VENV_DIR already imports the pinned versions, nothing is installed.
# Set PYTHON to choose the interpreter (3.9-3.12; jax 0.4.23 has no wheels for newer ones).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$repo_root/.nt-venv}"
python="${PYTHON:-python3}"

# neural-tangents 0.6.5 imports tensorflow and tf2jax at import time (neural_tangents.experimental),
# so those are pinned too, to the versions the reference data was made with.
pins=(
  "jax==0.4.23"
  "jaxlib==0.4.23"
  "neural-tangents==0.6.5"
  "numpy<2"
  "scipy<1.13"
  "tensorflow==2.21.0"
  "tf2jax==0.3.6"
)

check() {
  # Quiet the TensorFlow start-up chatter; print the versions on success.
  TF_CPP_MIN_LOG_LEVEL=3 "$venv/bin/python" - <<'EOF'
import jax, jaxlib, numpy, scipy
import neural_tangents as nt
from neural_tangents import stax
assert jax.__version__ == "0.4.23", jax.__version__
assert jaxlib.__version__ == "0.4.23", jaxlib.__version__
assert nt.__version__ == "0.6.5", nt.__version__
assert int(numpy.__version__.split(".")[0]) < 2, numpy.__version__
print(f"neural-tangents {nt.__version__}, jax {jax.__version__}, jaxlib {jaxlib.__version__}, "
      f"numpy {numpy.__version__}, scipy {scipy.__version__}")
EOF
}

if [ -x "$venv/bin/python" ] && check >/dev/null 2>&1; then
  echo "make_nt_venv: $venv already has the pinned versions; nothing to do."
  check 2>/dev/null
  exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "make_nt_venv: creating $venv with $("$python" --version 2>&1)"
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "${pins[@]}"

if ! check 2>/dev/null; then
  echo "make_nt_venv: $venv does not import the pinned versions after installing; see above." >&2
  check  # run again, showing the error
  exit 1
fi
echo "make_nt_venv: ready: $venv/bin/python"
