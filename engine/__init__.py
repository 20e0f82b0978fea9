"""Inductive Bias Lab's engine: infinite-width kernels, finite networks, spectra and training.

Pure functions, spec in and arrays out; nothing here imports Streamlit. Importing the package turns
on JAX's float64 mode (`jax_enable_x64`), because kernels and spectra are computed in float64;
training code asks for float32 explicitly where it wants it.
"""

import jax

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
