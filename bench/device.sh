#!/usr/bin/env bash
# The GPU checks of the issue on live views in one run, made for the `device` tool's machine (an
# NVIDIA H100 or H200 with JAX's CUDA build, pytest and hypothesis, but no Streamlit, no diskcache
# and no network). A machine is lent for 15 minutes in all, so everything is prepared here:
#
#   make device-wheels       # here: diskcache's wheel (the one engine package the machine lacks)
#   bash bench/device.sh     # there, carrying .whl (run's carry: [".whl"]); at most 9.5 minutes
#
# It writes to $OUT (the device tool's folder; bench/results/device when unset):
#   device.txt  nvidia-smi and JAX's devices;
#   tests.txt   the engine's tests that import no Streamlit, on the GPU: kernels against the stored
#               neural-tangents references and closed forms, the GPU block plan against the CPU's,
#               spectra against dense eigendecompositions, then training;
#   gpu.md      bench/gpu.py's table (kernels, spectra, a training sweep, every default view from
#               empty caches; compile time and programs apart), for the README's GPU table, and
#               gpu_rows.txt its rows as each one ends (kept if the time limit cuts the table off).
# The parts' time limits add up to 570 s, inside the tool's 600 s a command.
# Arguments go to bench/gpu.py (`--scale 0.25` or `--only NAME ...` for a quick check on a CPU).
# The exit status is the first failed part's; every part runs whatever the one before did.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/results/device}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
status=0
exec 3>&1  # the console, for the parts' headers whatever their output goes to
# part NAME SECONDS COMMAND...: run with a time limit, log the outcome, keep the first failure.
part() {
    local name=$1 limit=$2 rc
    shift 2
    echo "== $name (at most $limit s)" >&3
    SECONDS=0
    timeout "$limit" "$@"
    rc=$?
    echo "== $name: exit $rc after $SECONDS s" >&3
    if [[ $rc -ne 0 && $status -eq 0 ]]; then status=$rc; fi
}

{
    nvidia-smi || echo "no nvidia-smi"
    "$PYTHON" -c "import jax; print('jax', jax.__version__, jax.devices())"
} > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"

if ! "$PYTHON" -c "import diskcache" 2>/dev/null; then
    part "install diskcache from .whl" 120 "$PYTHON" -m pip install -q --no-index \
        --find-links .whl "$(grep '^diskcache==' requirements.txt)"
fi
# The engine's own imports first, so a missing package reads as one sentence, not a test error.
if ! "$PYTHON" -c "import engine, engine.cache, engine.experiments" 2>"$OUT/imports.txt"; then
    echo "bench/device.sh: the engine does not import here ($(tail -1 "$OUT/imports.txt")); bring" \
         "the missing package's wheel in .whl (make device-wheels fetches diskcache's)."
    exit 1
fi

# --noconftest: tests/conftest.py sets up Streamlit's AppTest and the CPU suite's XLA flags, and
# none of these files uses its fixtures (importing `engine` turns float64 on).
part "reference tests" 120 "$PYTHON" -m pytest -q --noconftest -p no:cacheprovider \
    tests/test_kernels_reference.py tests/test_kernels.py tests/test_spectra.py \
    > "$OUT/tests.txt" 2>&1
tail -3 "$OUT/tests.txt"
part "device bench" 330 "$PYTHON" bench/gpu.py --markdown "$@" \
    > "$OUT/gpu.md" 2> "$OUT/gpu_rows.txt"
cat "$OUT/gpu_rows.txt" "$OUT/gpu.md"
part "training tests" 120 "$PYTHON" -m pytest -q --noconftest -p no:cacheprovider \
    tests/test_training.py >> "$OUT/tests.txt" 2>&1
tail -3 "$OUT/tests.txt"
exit $status
