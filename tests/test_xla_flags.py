"""The XLA flags the engine sets before JAX starts (`engine.XLA_FLAGS`): added to the environment's
own, never overriding a flag it names, and known to this JAX (XLA aborts a process whose
`XLA_FLAGS` names a flag it does not know, so a JAX upgrade that drops one fails here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import engine

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("given, expected", [
    ("", "--xla_cpu_use_fusion_emitters=false"),
    ("--xla_force_host_platform_device_count=2",
     "--xla_force_host_platform_device_count=2 --xla_cpu_use_fusion_emitters=false"),
    ("  --xla_cpu_use_fusion_emitters=true ", "--xla_cpu_use_fusion_emitters=true"),
])
def test_the_engines_flags_are_added_unless_named(given, expected):
    assert engine.with_engine_flags(given) == expected


def test_a_process_that_imports_the_engine_compiles_with_its_flags():
    env = {key: value for key, value in os.environ.items() if key != "XLA_FLAGS"}
    env.update(JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    code = ("import os, engine, jax, jax.numpy as jnp\n"
            "print(float(jax.jit(lambda x: jnp.sin(x) * 2)(jnp.arange(3.0)).sum()))\n"
            "print(os.environ['XLA_FLAGS'])\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    total, flags = done.stdout.split("\n")[:2]
    assert abs(float(total) - 2 * (0 + 0.8414709848078965 + 0.9092974268256817)) < 1e-12
    assert flags.split() == list(engine.XLA_FLAGS)
