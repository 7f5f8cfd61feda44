"""The SDK imports only the standard library, httpx, pydantic, tqdm and itself: never the server."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import bdlopt_client

SDK_DIR = Path(bdlopt_client.__file__).parent
# pandas: the client distribution's optional extra, imported only inside trials_dataframe()
ALLOWED_THIRD_PARTY = {"httpx", "pydantic", "tqdm", "pandas"}


def _package_of(path: Path) -> str:
    """The package a file of the SDK belongs to (what a level-1 relative import refers to)."""
    parts = ("bdlopt_client", *path.relative_to(SDK_DIR).parent.parts)
    return ".".join(parts)


def _imported_modules(source: str, package: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``; relative imports resolved."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                found.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
            else:
                found.append((node.lineno, node.module or ""))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__"):
            found.append((node.lineno, "<dynamic import>"))
    return found


def _allowed(module: str) -> bool:
    top = module.split(".")[0]
    return top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY or top == "bdlopt_client"


def test_sdk_files_import_only_stdlib_httpx_pydantic_tqdm_and_itself() -> None:
    files = sorted(SDK_DIR.rglob("*.py"))
    assert {f.name for f in files} >= {"__init__.py", "client.py", "errors.py", "models.py"}
    offending = [f"{f.name}:{line} imports {module}" for f in files
                 for line, module in _imported_modules(f.read_text(), _package_of(f)) if not _allowed(module)]
    assert offending == []


def test_boundary_checker_flags_server_imports() -> None:
    source = ("import json\nfrom . import errors\nfrom .models import Trial\nfrom ..api import app\n"
              "from service.db import engine\nimport torch\nimport importlib\nimportlib.import_module('x')\n")
    modules = _imported_modules(source, "bdlopt_client.sub")
    assert modules == [(1, "json"), (2, "bdlopt_client.sub"), (3, "bdlopt_client.sub.models"),
                       (4, "bdlopt_client.api"), (5, "service.db"), (6, "torch"), (7, "importlib"),
                       (8, "<dynamic import>")]
    assert [_allowed(m) for _, m in modules] == [True, True, True, True, False, False, True, False]
    assert not _allowed("service") and not _allowed("service.sdk") and _allowed("bdlopt_client.errors")


def test_importing_the_sdk_loads_no_server_module_and_no_torch() -> None:
    code = ("import sys, service.sdk; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('service', 'torch', 'bdl_core', "
            "'fastapi', 'sqlalchemy') and m != 'service' and not m.startswith('service.sdk')))")
    root = SDK_DIR.parents[2]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert result.stdout.strip() == "[]"
