"""Strict JAX for every test: float64 on, implicit rank promotion raises, and a PRNG key fixture;
and a result cache of the test run's own.

Strictness finds broadcasting bugs that would otherwise give plausible numbers (`x[:, None] - y`
must be written out, never left to broadcasting by rank).
"""

import atexit
import os
import shutil
import tempfile

# Results and JAX's compiled programs go to a cache private to this test run, never the user's:
# set before anything reads it (engine.cache reads the variable on each call).
os.environ["IBL_CACHE_DIR"] = tempfile.mkdtemp(prefix="ibl-test-cache-")
atexit.register(shutil.rmtree, os.environ["IBL_CACHE_DIR"], True)

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A result cache of the test's own (`IBL_CACHE_DIR`), empty."""
    monkeypatch.setenv("IBL_CACHE_DIR", str(tmp_path / "c"))
    return tmp_path / "c"


@pytest.fixture
def key():
    """A fixed PRNG key; split it for independent draws."""
    return jax.random.PRNGKey(0)


def pytest_collection_modifyitems(config, items):
    # `make test` runs two workers (pytest-xdist, `--dist loadgroup`): the browser tests share one
    # worker, so one server per run computes their views once; the tests of a module that shares a
    # fixture among them (a module- or session-scoped one: a computed view, measured peaks) run on
    # one worker, so the fixture is built once; every other test goes to whichever worker is free.
    for item in items:
        if "browser" in item.path.parts:
            item.add_marker(pytest.mark.xdist_group("browser"))
        elif any(defs and defs[-1].scope in ("module", "package", "session")
                 for defs in item._fixtureinfo.name2fixturedefs.values()):
            item.add_marker(pytest.mark.xdist_group(item.path.name))


def pytest_configure(config):
    # CI runs every test (`python -m pytest -q tests`), the load test included; the marker lets a
    # developer leave it out locally with `-m "not load"`.
    config.addinivalue_line("markers", "load: the lecture-hall load test (ten browser sessions on "
                                       "the heaviest page, several minutes on two cores)")
