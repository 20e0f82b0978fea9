"""Imports flow one way (shared/STYLE.md): the engine never imports the UI, pages never import JAX.

Checked on the source with `ast`, so a forbidden import fails here even inside a function or an
`if` that the tests never reach; and at run time, so a forbidden module pulled in through another
package fails too.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE_FILES = sorted((ROOT / "engine").rglob("*.py"))
PAGE_FILES = [ROOT / "app.py", *sorted((ROOT / "app_pages").rglob("*.py")),
              *sorted((ROOT / "ui").rglob("*.py")), *sorted((ROOT / "figures").rglob("*.py"))]
"""The UI side: app, pages, the shell (`ui/`) and the figure builders (`figures/`)."""
FIGURE_FILES = sorted((ROOT / "figures").rglob("*.py"))

UI_PACKAGES = {"streamlit", "plotly"}
"""The engine returns arrays; drawing and widgets belong to figures and pages."""

JAX_PACKAGES = {"jax", "jaxlib", "optax", "flax", "equinox"}
"""Pages never compute: they call one cached engine function and get numpy arrays back."""


def _imported_packages(path: Path) -> dict:
    """Top-level package of every absolute import in `path`, mapped to the first line it is on."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: dict = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            found.setdefault(name.split(".")[0], node.lineno)
    return found


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_files_are_found():
    assert ROOT / "engine" / "specs.py" in ENGINE_FILES
    assert ROOT / "app_pages" / "eigenstructure.py" in PAGE_FILES
    assert ROOT / "figures" / "eigenstructure.py" in FIGURE_FILES
    assert (ROOT / "app.py").is_file()


@pytest.mark.parametrize("path", ENGINE_FILES, ids=_rel)
def test_engine_does_not_import_ui(path):
    bad = {pkg: line for pkg, line in _imported_packages(path).items() if pkg in UI_PACKAGES}
    assert not bad, (f"{_rel(path)} imports {bad} (package: line); the engine must not import "
                     "Streamlit or Plotly: return arrays and draw them in figures/pages.")


@pytest.mark.parametrize("path", PAGE_FILES, ids=_rel)
def test_pages_do_not_import_jax(path):
    bad = {pkg: line for pkg, line in _imported_packages(path).items() if pkg in JAX_PACKAGES}
    assert not bad, (f"{_rel(path)} imports {bad} (package: line); pages must not import JAX: "
                     "call an engine function instead.")


@pytest.mark.parametrize("path", FIGURE_FILES, ids=_rel)
def test_figures_do_not_import_streamlit(path):
    bad = {pkg: line for pkg, line in _imported_packages(path).items() if pkg == "streamlit"}
    assert not bad, (f"{_rel(path)} imports Streamlit on line {bad}; figures return Plotly figures "
                     "and tables, and pages draw them.")


def test_checker_sees_nested_and_from_imports(tmp_path):
    source = tmp_path / "example.py"
    source.write_text("import os\n"
                      "def f():\n"
                      "    from streamlit.testing import v1\n"
                      "    import plotly.graph_objects as go, jax.numpy\n"
                      "from . import sibling\n")
    assert _imported_packages(source) == {"os": 1, "streamlit": 3, "plotly": 4, "jax": 4}


def test_importing_the_engine_loads_no_ui():
    # In a fresh interpreter: import every engine module, then look at what got loaded.
    modules = [".".join(path.relative_to(ROOT).with_suffix("").parts) for path in ENGINE_FILES]
    modules = [name.removesuffix(".__init__") for name in modules]
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            f"print(sorted(p for p in {sorted(UI_PACKAGES)!r} if p in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"engine modules loaded {result.stdout.strip()}"


# --- Floors of the engine ------------------------------------------------------------------------

ENGINE_FLOORS = {
    # ground: facts and checks that need nothing else of the engine, and the stored form of results
    "engine.specs": 0, "engine.activations": 0, "engine.guard": 0, "engine.backend": 0,
    "engine.tasks": 0, "engine.eigenlearning": 0, "engine.presets": 0,
    "engine.training.checks": 0, "engine.codec": 0, "engine.slots": 0, "engine.threads": 0,
    "engine.redis_store": 0, "engine.load": 0, "engine.jobs": 1,
    # the package (x64 on, the constructors); the two readings of an architecture (kernels,
    # networks); the hypercube's Walsh basis; the input laws
    "engine": 1, "engine.kernels": 1, "engine.networks": 1, "engine.walsh": 1, "engine.radial": 1,
    "engine.training.spec": 1,
    # the cache (keyed on the package's version); what is built on a kernel, a network or the
    # Walsh basis
    "engine.cache": 2, "engine.spectra": 2, "engine.locality": 2, "engine.regression": 2,
    "engine.training.head": 2, "engine.training.params": 2,
    "engine.training.plan": 3, "engine.training.program": 3,
    "engine.training.sweep": 4,
    "engine.training": 5,
    # one module per page's views, then the package that lists them and the command line
    "engine.experiments.eigenstructure": 6, "engine.experiments.universality": 6,
    "engine.experiments.separation": 6,
    "engine.experiments.kernel_theory": 7, "engine.experiments.depth_locality": 7,
    "engine.experiments.live": 8,
    "engine.experiments": 9,
    "engine.worker": 10,
    "engine.__main__": 11,
}
"""Every engine module on its floor: a module imports only from lower floors, so there is no cycle
and a reader can learn the engine from the ground up. A new module must be placed here."""


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _engine_imports(path: Path) -> set:
    """The engine modules `path` imports (`from engine.x import y` counts `engine.x.y` when that
    is a module, else `engine.x`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] == "engine":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in ENGINE_FLOORS else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "engine"}
    return found


def test_every_engine_module_has_a_floor():
    assert {_module_name(path) for path in ENGINE_FILES} == set(ENGINE_FLOORS)


@pytest.mark.parametrize("path", ENGINE_FILES, ids=_rel)
def test_engine_modules_import_only_from_lower_floors(path):
    name = _module_name(path)
    floor = ENGINE_FLOORS[name]
    upward = sorted(m for m in _engine_imports(path) - {name}
                    if ENGINE_FLOORS.get(m, 99) >= floor)
    assert not upward, (f"{name} (floor {floor}) imports {upward}, on its floor or above; move the "
                        "shared piece down a floor, or the module up (ENGINE_FLOORS).")


def test_the_floor_checker_sees_package_and_module_imports(tmp_path):
    source = tmp_path / "example.py"
    source.write_text("import engine.kernels\n"
                      "from engine.training import plan\n"
                      "from engine.training.spec import TrainSpec\n"
                      "def f():\n"
                      "    from engine import guard\n")
    assert _engine_imports(source) == {"engine.kernels", "engine.training.plan",
                                       "engine.training.spec", "engine.guard"}
