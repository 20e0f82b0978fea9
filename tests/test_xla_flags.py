"""The test run's XLA flags (`tests/conftest.py`: XLA's CPU loop emitters and LLVM's optimisation
level 1, which compile the engine's programs faster) are in effect and known to this JAX (XLA
aborts a process whose `XLA_FLAGS` names a flag it does not know, so a JAX upgrade that drops one
fails here); and since the dashboard keeps XLA's defaults, reference kernels of every layer kind
are checked under those too."""

from __future__ import annotations

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
