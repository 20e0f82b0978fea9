"""The test run's XLA flags (`tests/conftest.py`: XLA's CPU loop emitters and LLVM's optimisation
level 1, which compile the engine's programs faster) are in effect and known to this JAX (XLA
aborts a process whose `XLA_FLAGS` names a flag it does not know, so a JAX upgrade that drops one
fails here); and since the dashboard keeps XLA's defaults, reference kernels of every layer kind
are checked under those too. The dashboard's one exception, the training program's own compiler
options on a CPU (`engine.training.program.CPU_COMPILER_OPTIONS`), changes no number beyond float32
rounding: under XLA's defaults, sweeps compiled with and without them agree to a few units in the
last place (measured on the two sweeps below: the training and validation curves to the bit,
the test MSE within 2.3e-7 relative)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import SUITE_XLA_FLAGS

ROOT = Path(__file__).resolve().parent.parent
UNDER_THE_DEFAULT = [
    ("exact", "mlp_relu_L5_w0.8_b1"), ("exact", "tree_cnn_s2_d16_gap"),
    ("exact", "lcn_f3_s1_circular_gap_bias"), ("exact", "mixed_conv_relu_conv_erf_gap_mlp"),
    ("quadrature", "cnn_sigmoid_f2_s1_circular_gap")]
"""An MLP, a tree CNN, a locally connected net, a mix of layer kinds with pooling, a quadrature."""


SWEEPS_WITH_AND_WITHOUT = """
import dataclasses, json
import jax, numpy as np
import engine
from engine.training import TrainSpec, program, train_sweep
given = dict(program.CPU_COMPILER_OPTIONS)
rng = np.random.default_rng(0)
x, xv, xt = (rng.standard_normal(shape).astype(np.float32)
              for shape in [(2, 64, 8), (2, 16, 8), (32, 8)])
y, yv, yt = (np.sin(a.sum(-1)).astype(np.float32) for a in (x, xv, xt))
train = TrainSpec(steps=60, eval_every=20, patience=0, width=16)
def sweeps():
    program.program.cache_clear()
    return [train_sweep(layers, x, y, xv, yv, xt, yt, sizes=[16, 32, 64], train=train,
                        key=jax.random.PRNGKey(1))
            for layers in (engine.mlp(2), engine.tree_cnn(8, 2))]
with_options = sweeps()
program.CPU_COMPILER_OPTIONS = {}
without = sweeps()
def relative(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-30), initial=0.0))
pairs = [(getattr(a, f.name), getattr(b, f.name)) for a, b in zip(with_options, without)
         for f in dataclasses.fields(a) if isinstance(getattr(a, f.name), np.ndarray)]
print(json.dumps({"options": given, "arrays": len(pairs),
                  "finite": all(bool(np.isfinite(b).all()) for _, b in pairs),
                  "relative": max(relative(a.astype(float), b.astype(float)) for a, b in pairs)}))
"""
"""Two small sweeps (an MLP and a tree CNN) compiled with the training program's CPU options, then
with none, in one process."""


def _python(code: str, xla_flags: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, XLA_FLAGS=xla_flags, JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_the_runs_flags_are_set_and_known_to_this_jax():
    named = {flag.split("=")[0] for flag in os.environ["XLA_FLAGS"].split()}
    for flag in SUITE_XLA_FLAGS:  # the run's, or one the environment gave
        assert flag.split("=")[0] in named, os.environ["XLA_FLAGS"]
    done = _python("import jax, jax.numpy as jnp\n"
                   "print(float(jax.jit(lambda x: jnp.sin(x) * 2)(jnp.arange(3.0)).sum()))",
                   " ".join(SUITE_XLA_FLAGS))
    assert done.returncode == 0, done.stderr[-2000:]
    assert abs(float(done.stdout) - 2 * (0.8414709848078965 + 0.9092974268256817)) < 1e-6
    unknown = _python("import jax.numpy as jnp; jnp.ones(2).sum()", "--xla_no_such_flag=1")
    assert unknown.returncode != 0 and "Unknown flag" in unknown.stderr  # what a dropped one does


def test_reference_kernels_match_under_xlas_default_flags():
    checks = "".join(f"r._check(r.CASES[{name!r}], '12', r.{group.upper()}_RTOL)\n"
                     for group, name in UNDER_THE_DEFAULT)
    done = _python("import tests.test_kernels_reference as r\n" + checks + "print('matched')", "")
    assert done.returncode == 0 and done.stdout.strip() == "matched", done.stderr[-3000:]


def test_the_training_programs_cpu_options_change_no_number_under_xlas_defaults():
    done = _python(SWEEPS_WITH_AND_WITHOUT, "")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["options"] == {"xla_backend_optimization_level": 1}  # what was compared
    assert result["arrays"] >= 2 * 8 and result["finite"], result
    assert result["relative"] < 1e-6, result  # float32's unit in the last place is 6e-8 to 1.2e-7
