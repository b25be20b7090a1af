"""The house's rules (docs/architecture.md), checked on the code as it is.

The direction of imports is import-linter's job, configured in pyproject.toml
([tool.importlinter]); the tests here run those contracts, prove they bite on a graph with one
bad import added, and check what import-linter cannot: every package has a layer, no private
name crosses a package, routes hold no SQL, modules stay small and folders short.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import grimp
import pytest
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
from importlinter.configuration import configure
from importlinter.contracts.layers import LayersContract

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = {c["id"]: c for c in
             tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]}
SOURCES = sorted(p for top in ("collector", "dashboard") for p in (ROOT / top).rglob("*.py"))
MAX_MODULE_LINES = 450
configure()  # import-linter's settings (its timer, its printer), as its command line sets them
MAX_MODULES_PER_FOLDER = 12


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str, path: Path | None = None) -> str:
    return module if path is not None and path.name == "__init__.py" else module.rpartition(".")[0]


# --- import-linter --------------------------------------------------------------------------

def test_the_import_contracts_are_kept():
    result = subprocess.run([sys.executable, "-c",
                             "import sys; from importlinter.cli import lint_imports; "
                             "sys.exit(lint_imports(no_cache=True))"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(r"Contracts: [1-9]\d* kept, 0 broken", result.stdout), result.stdout[-2000:]


@pytest.fixture
def graph() -> grimp.ImportGraph:
    # A fresh graph for each test: the tests add imports to it.
    return grimp.build_graph("collector", "dashboard", cache_dir=None)


def contract(cls, contract_id: str):
    options = {k: v for k, v in CONTRACTS[contract_id].items() if k not in ("id", "name", "type")}
    return cls(name=CONTRACTS[contract_id]["name"],
               session_options={"root_packages": ["collector", "dashboard"]},
               contract_options=options)


def test_the_layers_contract_refuses_an_import_upwards(graph):
    layers = contract(LayersContract, "layers")
    assert layers.check(graph, verbose=False).kept
    upwards = graph
    upwards.add_import(importer="collector.evaluation.scoring", imported="collector.api.tasks",
                       line_number=1, line_contents="from collector.api import tasks")
    assert not layers.check(upwards, verbose=False).kept


def test_the_cycle_contract_refuses_two_modules_importing_each_other(graph):
    acyclic = contract(AcyclicSiblingsContract, "no-cycles")
    assert acyclic.check(graph, verbose=False).kept
    looped = graph
    # Both imports point downwards in the layers; only the cycle is wrong.
    looped.add_import(importer="collector.evaluation.scoring", imported="collector.evaluation.year",
                      line_number=1, line_contents="from collector.evaluation import year")
    looped.add_import(importer="collector.evaluation.year", imported="collector.evaluation.scoring",
                      line_number=1, line_contents="from collector.evaluation import scoring")
    assert not acyclic.check(looped, verbose=False).kept


def test_a_lazy_import_counts_as_an_import(tmp_path, monkeypatch):
    """The contracts' promise that a function-level import cannot hide a cycle rests on this."""
    package = tmp_path / "lazy_probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text(textwrap.dedent("""
        def later():
            from lazy_probe import high
            return high
    """))
    (package / "high.py").write_text("from lazy_probe import low\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    probe = grimp.build_graph("lazy_probe", cache_dir=None)
    assert probe.direct_import_exists(importer="lazy_probe.low", imported="lazy_probe.high")


def test_every_part_of_collector_has_a_layer():
    named = {name.strip() for layer in CONTRACTS["layers"]["layers"] for name in layer.split("|")}
    parts = {f"collector.{p.stem if p.is_file() else p.name}" for p in (ROOT / "collector").iterdir()
             if (p.suffix == ".py" and p.name != "__init__.py")
             or (p.is_dir() and (p / "__init__.py").exists())}
    assert parts - named == set(), "a package of collector/ that no layer names"
    assert "dashboard" in named


# --- what import-linter cannot see ----------------------------------------------------------

def imported_private_names(source: str, me: str, my_package: str) -> list[str]:
    """`from other.package import _name` and `module._name` on a module of another package."""
    tree = ast.parse(source)
    modules: dict[str, str] = {}   # local name → module it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] in ("collector", "dashboard"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if (ROOT / Path(*candidate.split("."))).with_suffix(".py").exists() \
                        or (ROOT / Path(*candidate.split("."))).is_dir():
                    modules[alias.asname or alias.name] = candidate
                elif alias.name.startswith("_") and not alias.name.startswith("__") \
                        and package_of(node.module) != my_package:
                    found.append(f"{me} imports {node.module}.{alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in modules and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            target = modules[node.value.id]
            if package_of(target) != my_package:
                found.append(f"{me} uses {target}.{node.attr}")
    return found


def test_no_private_name_crosses_a_package():
    found = [line for path in SOURCES
             for line in imported_private_names(path.read_text(), module_name(path),
                                                package_of(module_name(path), path))]
    assert found == []


def test_the_private_name_check_finds_both_kinds():
    source = ("from collector.api import fleet\nx = fleet._hidden\n"
              "from collector.core.timeline import _secret\n"
              "from dashboard.views.paging import _own_package_is_fine\n")
    assert len(imported_private_names(source, "dashboard.views.probe", "dashboard.views")) == 2


SQL = re.compile(r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b")
ROUTES = [p for p in SOURCES if p.relative_to(ROOT).parts[:2] == ("collector", "api")
          or p.relative_to(ROOT).parts[0] == "dashboard" or p.name == "app.py"]


def sql_in(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} SQL text")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("execute", "executemany", "executescript", "query"):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.func.attr}()")
    return found


def test_routes_and_pages_hold_no_sql():
    assert ROUTES, "the routes were not found"
    assert [line for path in ROUTES for line in sql_in(path)] == []


def test_modules_stay_small():
    long = {str(p.relative_to(ROOT)): n for p in SOURCES
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_folders_stay_short():
    folders: dict[Path, int] = {}
    for path in SOURCES:
        if path.name != "__init__.py":
            folders[path.parent] = folders.get(path.parent, 0) + 1
    crowded = {str(f.relative_to(ROOT)): n for f, n in folders.items() if n > MAX_MODULES_PER_FOLDER}
    assert crowded == {}
