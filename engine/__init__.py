"""Inductive Bias Lab's engine: infinite-width kernels, finite networks, spectra and training.

Pure functions, spec in and arrays out; nothing here imports Streamlit. Importing the package turns
on JAX's float64 mode (`jax_enable_x64`), because kernels and spectra are computed in float64;
training code asks for float32 explicitly where it wants it. It also adds `XLA_FLAGS` (below)
for XLA's CPU compiler, before JAX starts.
"""

import os

XLA_FLAGS = ("--xla_cpu_use_fusion_emitters=false",)
"""XLA flags the engine sets in `XLA_FLAGS` before JAX starts, unless the environment names the flag
already (an operator's own setting wins). They only touch the CPU compiler.

`--xla_cpu_use_fusion_emitters=false`: XLA's CPU fusion emitters (its default in this JAX)
compile this engine's programs far more slowly than the loop emitters they replace, and a cold view
is mostly compilation. Measured on 2 CPU cores (JAX 0.10.2), without / with the flag: the
kernel-reference and network tests (221 tests, two workers) 150 s and 129 s / 94 s and 87 s; one
training program of the Universality sample view at d = 64 compiled in 35-37 s / 21.6 s; that whole
view cold 130.1 s / 125.3 s and 159.5 s / 145.1 s in paired runs. Kernels still match
neural-tangents' references within the tests' tolerances; training losses change in the third
digit (another order of floating-point operations)."""


def with_engine_flags(flags: str) -> str:
    """`flags` (an `XLA_FLAGS` value) with each of `XLA_FLAGS` appended whose name it lacks."""
    named = {flag.split("=", 1)[0] for flag in flags.split()}
    return " ".join([*flags.split(), *(flag for flag in XLA_FLAGS
                                       if flag.split("=", 1)[0] not in named)])


os.environ["XLA_FLAGS"] = with_engine_flags(os.environ.get("XLA_FLAGS", ""))

import jax  # noqa: E402 - after XLA_FLAGS

jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"

from engine.specs import (  # noqa: E402
    ACTIVATIONS,
    conv_net,
    mlp,
    parse_layers,
    signal_lengths,
    to_dicts,
    tree_cnn,
    tree_depth,
    tree_filters,
    tree_lcn,
)

__all__ = [
    "ACTIVATIONS",
    "conv_net",
    "mlp",
    "parse_layers",
    "signal_lengths",
    "to_dicts",
    "tree_cnn",
    "tree_depth",
    "tree_filters",
    "tree_lcn",
]
