"""The layers go one way: entry points → flows/ → tasks/ → marsad/ (docs/decisions.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENTRY_POINTS = {"marsad/cli.py", "marsad/serve.py", "marsad/demo.py"}
MAX_LINES = 400


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _py(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", _py("marsad"), ids=_rel)
def test_stage_logic_never_imports_tasks_or_flows(path: Path) -> None:
    if _rel(path) in ENTRY_POINTS:
        return
    bad = {m for m in _imports(path) if m.startswith(("marsad.tasks", "marsad.flows"))}
    assert not bad, f"{_rel(path)} imports the orchestration layer: {sorted(bad)}"


@pytest.mark.parametrize("path", _py("tasks"), ids=_rel)
def test_tasks_are_thin_wrappers(path: Path) -> None:
    imports = _imports(path)
    assert not {m for m in imports if m.startswith(("marsad.tasks", "marsad.flows"))}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            decorated = any(
                isinstance(d, ast.Call) and getattr(d.func, "id", "") == "task"
                for d in node.decorator_list
            )
            assert decorated, f"{_rel(path)}: {node.name} is logic, not a task wrapper"
            body = [n for n in node.body if not isinstance(n, ast.Expr)]  # docstrings aside
            assert len(body) <= 3, f"{_rel(path)}: {node.name} holds logic ({len(body)} lines)"
    assert "noqa: E402" not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", _py("flows"), ids=_rel)
def test_flows_never_import_private_names_of_each_other(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("marsad.flows"):
            private = [a.name for a in node.names if a.name.startswith("_")]
            assert not private, f"{_rel(path)} imports {private} from {node.module}"


def test_no_module_is_over_400_lines() -> None:
    sizes = {
        _rel(p): len(p.read_text(encoding="utf-8").splitlines())
        for folder in ("marsad", "tasks", "flows", "tests", "bench", "deployments")
        for p in _py(folder)
    }
    big = {name: n for name, n in sizes.items() if n >= MAX_LINES}
    assert not big, f"modules of {MAX_LINES}+ lines: {big}"


def test_nothing_in_the_package_points_outside_the_repository() -> None:
    for path in _py("marsad"):
        text = path.read_text(encoding="utf-8")
        assert '"shared"' not in text and "../shared" not in text, _rel(path)
