"""The structure shows the architecture: layers, one home per idea, small modules.

The rules are read off the source with ``ast``, so a change that breaks one fails here:

* ``models`` never imports ``sim``; ``models.estimation`` imports nothing from
  ``models.consumer`` or ``models.market``, and ``models.consumer`` nothing from the other two;
* ``sim.figures`` and ``sim.report`` read a run only through the run directory
  (``sim.rundir``), the estimator registry and the config: they import no compute stage and
  open no file themselves;
* an estimator's name is spelled in one library file, the registry;
* no production module is over 500 lines, and no two modules share a file name.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

from sim.estimators import ESTIMATORS
from tests.conftest import ROOT

PACKAGES = ("models", "sim")
OUTPUT_PACKAGES = ("sim.figures", "sim.report")
OUTPUT_MAY_IMPORT = {
    "sim.rundir",  # the run directory's files and their readers
    "sim.estimators",  # labels, colours and markers
    "sim.config",  # the [figures] settings
    "sim.costs",  # the cost summary of a stored projection
    "sim.formatting",  # how numbers are written
    "sim.store",  # atomic writes
    "sim.owned_directory",  # the folder the figures go into, claimed and locked
    "sim.version",
    "sim.figures",  # the report embeds the figures
    "sim.report",
}
FILE_READERS = {"load_dataset", "open_dataset", "read_csv", "read_parquet", "read_text", "open"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported |= {f"{node.module}.{alias.name}" for alias in node.names}
    return imported


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _violations(importer: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{module} imports {name}"
        for module, path in MODULES.items()
        if _within(module, importer)
        for name in sorted(_imports(path))
        if any(_within(name, f) for f in forbidden)
    ]


def test_models_never_imports_sim():
    assert _violations("models", ("sim",)) == []


def test_the_estimation_domain_imports_no_other_domain():
    assert _violations("models.estimation", ("models.consumer", "models.market")) == []
    assert _violations("models.consumer", ("models.estimation", "models.market")) == []


@pytest.mark.parametrize("package", OUTPUT_PACKAGES)
def test_figures_and_report_read_only_through_the_run_directory(package):
    reached = []
    for module, path in MODULES.items():
        if not _within(module, package):
            continue
        for name in _imports(path):
            if _within(name, "sim") and not any(_within(name, ok) for ok in OUTPUT_MAY_IMPORT):
                reached.append(f"{module} imports {name}")
        for node in ast.walk(ast.parse(path.read_text())):
            called = node.func if isinstance(node, ast.Call) else None
            name = getattr(called, "attr", getattr(called, "id", None))
            if name in FILE_READERS:
                reached.append(f"{module} calls {name} (line {node.lineno})")
    assert reached == []


def _string_constants(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    ]


def test_an_estimators_name_is_spelled_in_the_registry_only():
    spelled = {
        module
        for module, path in MODULES.items()
        for value in _string_constants(path)
        if any(name in value.split() or value == name for name in ESTIMATORS)
    }
    assert spelled == {"sim.estimators"}


def test_no_production_module_is_over_500_lines():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 500}
    assert long == {}


def test_no_two_modules_share_a_file_name():
    names = [
        path.name
        for folder in (*PACKAGES, "tests", "benchmarks")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "__init__.py"
    ]
    assert [name for name, count in Counter(names).items() if count > 1] == []
