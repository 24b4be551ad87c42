"""The layering, as docs/architecture.md draws it, checked on the code itself:

- the library below the command line never imports Prefect (only cli.py reaches the flows, lazily);
- the HTTP client imports no pandas, no SQLAlchemy, and no schema, resource or store module;
- no library file holds more than 600 lines;
- flow bodies only sequence: at most 60 lines each.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "src" / "dockerhub_export"
FLOWS = ROOT / "flows"


def _imports(path: Path) -> set[str]:
    """Every module a file imports, relative ones spelled with their dots (``.flows.x``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            names.add(module)
            names.update(f"{module.rstrip('.')}.{alias.name}" for alias in node.names)
    return names


def _library_files() -> list[Path]:
    return sorted(LIBRARY.rglob("*.py"))


@pytest.mark.parametrize("path", _library_files(), ids=lambda path: str(path.relative_to(LIBRARY)))
def test_the_library_below_the_command_line_never_imports_prefect(path: Path) -> None:
    imports = _imports(path)
    prefect = {name for name in imports if name == "prefect" or name.startswith("prefect.")}
    flows = {name for name in imports if ".flows" in name}
    if path.name == "cli.py":  # the command line: runs the flow, imports it only inside `run`
        return
    assert not prefect and not flows, f"{path.name} imports {sorted(prefect | flows)}"


def test_the_http_client_loads_no_pandas_sqlalchemy_schema_or_store() -> None:
    code = (
        "import sys, dockerhub_export.hub, dockerhub_export.limits, dockerhub_export.auth\n"
        "banned = ('pandas', 'sqlalchemy', 'prefect', 'dockerhub_export.store', 'dockerhub_export.schema',\n"
        "          'dockerhub_export.resources', 'dockerhub_export.transform', 'dockerhub_export.fetch')\n"
        "print(sorted(m for m in sys.modules if m.startswith(banned)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("path", _library_files(), ids=lambda path: str(path.relative_to(LIBRARY)))
def test_no_library_file_is_over_600_lines(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 600


def _flows() -> list[tuple[str, ast.FunctionDef]]:
    found = []
    for path in sorted(FLOWS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and any(
                (isinstance(d, ast.Call) and getattr(d.func, "id", None) == "flow")
                for d in node.decorator_list
            ):
                found.append((f"{path.name}:{node.name}", node))
    return found


def test_there_are_flows_to_check() -> None:
    assert {name for name, _ in _flows()} == {
        "export_repositories.py:export_repositories",
        "export_organizations.py:export_organizations",
    }


@pytest.mark.parametrize(("name", "node"), _flows(), ids=[name for name, _ in _flows()])
def test_flow_bodies_are_at_most_60_lines(name: str, node: ast.FunctionDef) -> None:
    body = node.body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):  # the docstring
        body = body[1:]
    assert body[-1].end_lineno is not None
    assert body[-1].end_lineno - body[0].lineno + 1 <= 60, name
    assert node.end_lineno is not None and node.end_lineno - node.lineno + 1 <= 80, name  # all of it
