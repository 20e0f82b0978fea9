"""Strict JAX for every test: float64 on, implicit rank promotion raises, and a PRNG key fixture;
and a result cache of the test run's own.

Strictness finds broadcasting bugs that would otherwise give plausible numbers (`x[:, None] - y`
must be written out, never left to broadcasting by rank).
"""

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path

# Results and JAX's compiled programs go to a cache private to this test run, never the user's:
# set before anything reads it (engine.cache reads the variable on each call).
os.environ["IBL_CACHE_DIR"] = tempfile.mkdtemp(prefix="ibl-test-cache-")
atexit.register(shutil.rmtree, os.environ["IBL_CACHE_DIR"], True)

# Time estimates as the views declare them, not calibrated by what earlier tests measured on this
# machine (tests/test_cache.py turns calibration on where it tests it); inherited by the servers.
os.environ["IBL_CALIBRATE"] = "0"

# JAX's compiled programs: one persistent cache for the whole run, made by the first pytest process
# and inherited by its xdist workers and every server the browser tests start, so a program one
# process compiled is read, not compiled again, by the others (`engine.cache.enable_compilation_cache`
# keeps this directory). Compilation is most of the time of a small training view on a CPU.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="ibl-test-jax-")
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    atexit.register(shutil.rmtree, os.environ["JAX_COMPILATION_CACHE_DIR"], True)

# XLA flags that compile faster, for the test run only, inherited by every process it starts: XLA's
# CPU loop emitters instead of its fusion emitters, and LLVM's optimisation level 1 instead of 2.
# The suite is mostly compilation, which they make much faster (with the emitters flag alone the
# kernel reference and network tests took 150 s and 129 s -> 94 s and 87 s on 2 cores; the level
# then took the training, kernel and Universality page tests from 121 s to 92 s), while the
# programs run slower, so the dashboard keeps XLA's default (README, "make test";
# tests/test_xla_flags.py checks reference kernels under the default too). A flag the environment
# names is kept.
SUITE_XLA_FLAGS = ("--xla_cpu_use_fusion_emitters=false", "--xla_backend_optimization_level=1")
_GIVEN_XLA_FLAGS = os.environ.get("XLA_FLAGS", "")
os.environ["XLA_FLAGS"] = " ".join([_GIVEN_XLA_FLAGS] + [
    flag for flag in SUITE_XLA_FLAGS if flag.split("=")[0] not in _GIVEN_XLA_FLAGS]).strip()

import functools  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402
from streamlit.components.v2 import manifest_scanner  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

# Streamlit's AppTest reads the metadata of every installed distribution, looking for custom
# components, each time an AppTest is made: about 0.1-0.3 s, as long as the rest of a page's run.
# The installed packages do not change while the tests run, so each process scans them once.
manifest_scanner.scan_component_manifests = functools.cache(
    manifest_scanner.scan_component_manifests)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A result cache of the test's own (`IBL_CACHE_DIR`), empty."""
    monkeypatch.setenv("IBL_CACHE_DIR", str(tmp_path / "c"))
    return tmp_path / "c"


@pytest.fixture
def key():
    """A fixed PRNG key; split it for independent draws."""
    return jax.random.PRNGKey(0)


TESTS = Path(__file__).resolve().parent
SHARED_FIXTURE_FILES = {f"tests/{path.name}" for path in TESTS.glob("test_*.py")
                        if re.search(r"@pytest\.fixture\(scope=[\"'](module|session)",
                                     path.read_text(encoding="utf-8"))}
"""Test modules with a module-scoped fixture (a computed view, measured peaks): built once per
worker that runs one of their tests."""


def pytest_xdist_make_scheduler(config, log):
    """How `make test`'s two workers (pytest-xdist) share the tests: the browser tests go to one
    worker, so one server per run serves them and computes their views once; the tests of a module
    in `SHARED_FIXTURE_FILES` go to one worker, so its fixture is built once; every other test goes
    to whichever worker is free. (xdist's own `--dist loadgroup` cannot do this with pytest 9: it
    renames test ids through an attribute pytest 9 no longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    class Grouped(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            if path.startswith("tests/browser/"):
                return "tests/browser"
            return path if path in SHARED_FIXTURE_FILES else nodeid

    return Grouped(config, log)


def pytest_configure(config):
    # CI runs every test (`python -m pytest -q -n 2 tests`), the load test included; the marker
    # lets a developer leave it out locally with `-m "not load"`.
    config.addinivalue_line("markers", "load: the lecture-hall load test (ten browser sessions on "
                                       "the heaviest page, several minutes on two cores)")
