"""Imports flow one way: api -> domain -> db; domain -> bdl_core; bdl_core and the SDK stand alone."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(package: str) -> dict[Path, set[str]]:
    """Absolute module names imported by each file of a package directory."""
    found: dict[Path, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[path] = names
    return found


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path, names in imported_modules(package).items():
        for name in names:
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    return bad


def test_bdl_core_never_imports_service():
    assert offenders("bdl_core", ("service",)) == []


def test_db_imports_no_domain_or_api():
    assert offenders("service/db", ("service.api", "service.studies", "service.optimizers", "service.space",
                                    "service.jobs", "service.datasets", "service.workers")) == []


def test_domain_never_imports_api():
    for package in ("service/studies", "service/optimizers", "service/space", "service/stopping"):
        assert offenders(package, ("service.api", "fastapi")) == [], package


def test_policies_do_not_touch_the_database():
    assert offenders("service/optimizers", ("service.db", "service.studies", "sqlalchemy")) == []
    assert offenders("service/space", ("service.db", "service.studies", "service.optimizers", "sqlalchemy")) == []
    assert offenders("service/stopping", ("service.db", "service.studies", "sqlalchemy")) == []


def test_sdk_imports_nothing_from_the_server():
    # pandas: the client distribution's optional extra, imported only inside trials_dataframe()
    allowed_roots = {"httpx", "pydantic", "tqdm", "pandas", "bdlopt_client"}
    sdk_files = imported_modules("clients/python/bdlopt_client")
    assert len(sdk_files) >= 5
    for path, names in sdk_files.items():
        for name in names:
            import sys
            assert name.split(".")[0] in allowed_roots or name.split(".")[0] in sys.stdlib_module_names, \
                f"{path} imports {name}"
    # service/sdk is only the re-export of the client distribution under its historical name
    assert imported_modules("service/sdk")[ROOT / "service/sdk/__init__.py"] <= {"bdlopt_client", "importlib", "sys"}


def test_no_source_file_is_past_400_lines():
    """One concept per file: a file past ~400 lines is asking to be split."""
    long_files = []
    for package in ("bdl_core", "service", "benchmarks", "tests", "clients"):
        for path in (ROOT / package).rglob("*.py"):
            n_lines = len(path.read_text().splitlines())
            if n_lines > 400:
                long_files.append(f"{path.relative_to(ROOT)}: {n_lines}")
    assert not long_files, long_files
