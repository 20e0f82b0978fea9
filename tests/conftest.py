"""Strict JAX for every test: float64 on, implicit rank promotion raises, and a PRNG key fixture.

Strictness finds broadcasting bugs that would otherwise give plausible numbers (`x[:, None] - y`
must be written out, never left to broadcasting by rank).
"""

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def key():
    """A fixed PRNG key; split it for independent draws."""
    return jax.random.PRNGKey(0)
