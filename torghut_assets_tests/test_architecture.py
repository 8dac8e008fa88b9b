"""Layering rules: the domain stays pure, nothing connects at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import torghut_assets

PACKAGE = Path(torghut_assets.__file__).parent
FORBIDDEN_IN_DOMAIN = (
    "dagster",
    "sqlalchemy",
    "alembic",
    "requests",
    "httpx",
    "alpaca",
    "psycopg2",
    "urllib3",
)
# Beyond the standard library the domain may use only these. exchange_calendars is allowed in the market
# calendar alone: it is a pure, deterministic, offline data library (NYSE holiday rules and dates in
# code; no I/O, network or clock once start/end are given), so the domain stays replayable
# (docs/market-calendar.md). cryptography is allowed in signed_approvals alone: Ed25519 signing and
# verification are pure, deterministic functions of key and bytes (no I/O; key generation, which draws
# OS randomness, happens in the CLI) (docs/approvals.md).
ALLOWED_IN_DOMAIN = frozenset({"torghut_assets", "numpy", "pandas", "pandera"})
ALLOWED_IN_DOMAIN_MODULE = {
    "market_calendar.py": frozenset({"exchange_calendars"}),
    "signed_approvals.py": frozenset({"cryptography"}),
}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_domain_modules_import_no_framework_database_or_network_library() -> None:
    offenders = {
        path.name: sorted(_imported_roots(path) & set(FORBIDDEN_IN_DOMAIN))
        for path in (PACKAGE / "domain").glob("*.py")
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_domain_modules_import_only_the_standard_library_and_allowed_data_libraries() -> None:
    offenders = {}
    for path in (PACKAGE / "domain").glob("*.py"):
        allowed = ALLOWED_IN_DOMAIN | ALLOWED_IN_DOMAIN_MODULE.get(path.name, frozenset())
        bad = sorted(r for r in _imported_roots(path) - allowed if r not in sys.stdlib_module_names)
        if bad:
            offenders[path.name] = bad
    assert offenders == {}


def test_importing_the_domain_loads_neither_dagster_nor_sqlalchemy() -> None:
    modules = sorted(p.stem for p in (PACKAGE / "domain").glob("*.py") if p.stem != "__init__")
    code = (
        "import sys\n"
        + "".join(f"import torghut_assets.domain.{m}\n" for m in modules)
        + "print(sorted({m.split('.')[0] for m in sys.modules} & {'dagster', 'sqlalchemy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_adapters_and_ledger_do_not_import_dagster() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for folder in ("adapters", "ledger")
        for path in (PACKAGE / folder).rglob("*.py")
        if "dagster" in _imported_roots(path)
    ]
    assert offenders == []


def test_loading_the_code_location_opens_no_connection_and_reads_no_ledger_url(tmp_path: Path) -> None:
    code = (
        "import os\n"
        "os.environ['TORGHUT_DATABASE_URL'] = 'postgresql+psycopg2://nobody@203.0.113.1:1/none'\n"
        "import sqlalchemy\n"
        "created = []\n"
        "real = sqlalchemy.create_engine\n"
        "sqlalchemy.create_engine = lambda *a, **k: created.append(a) or real(*a, **k)\n"
        "from torghut_assets.definitions import defs\n"
        "defs.resolve_all_job_defs()\n"
        "print(len(created))\n"
    )
    env = {"DAGSTER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "0"


def test_loading_the_code_location_does_not_import_the_calendar_library(tmp_path: Path) -> None:
    """exchange_calendars costs ~0.1 s to import and ~0.25 s to build a table: paid on the first session
    lookup, not when Dagster loads the code location."""
    code = (
        "import sys\n"
        "from torghut_assets.definitions import defs\n"
        "defs.resolve_all_job_defs()\n"
        "print('exchange_calendars' in sys.modules)\n"
    )
    env = {"DAGSTER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "False"
