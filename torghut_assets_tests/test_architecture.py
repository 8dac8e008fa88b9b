"""Layering rules (docs/architecture.md): the domain stays pure, SQL lives in the ledger, use cases in
services, Dagster wiring in defs; nothing connects at import time."""

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
# OS randomness, happens in the CLI) (docs/approvals.md). pandera is allowed in signal_frame alone: the
# signal frame's schema is declared with it, a pure validation of an in-memory frame.
ALLOWED_IN_DOMAIN = frozenset({"torghut_assets", "numpy", "pandas"})
ALLOWED_IN_DOMAIN_MODULE = {
    "market_calendar.py": frozenset({"exchange_calendars"}),
    "signed_approvals.py": frozenset({"cryptography"}),
    "approvers_file.py": frozenset({"cryptography"}),  # split from signed_approvals: key validation
    "signal_frame.py": frozenset({"pandera"}),
}
# A defs module may name a connection's type (a resource hands one out), never build or run a statement.
SQL_CALLS = frozenset({"execute", "exec_driver_sql"})
ADAPTERS = "torghut_assets.adapters"
DEFS = "torghut_assets.defs"
# The code location loads every module under defs/: importing it is importing defs.
CODE_LOCATION = "torghut_assets.definitions"


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth of the file (function-level imports included)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def _modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


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


def _sql_in_defs(path: Path) -> list[str]:
    found = []
    for module in sorted(_imported_modules(path)):
        if module.startswith("sqlalchemy") and not module.startswith("sqlalchemy.engine"):
            found.append(module)
        if module.startswith("torghut_assets.ledger.schema"):
            found.append(module)
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        if call and node.func.attr in SQL_CALLS:  # type: ignore[attr-defined]
            found.append(f"line {node.lineno}: .{node.func.attr}()")
    return found


def test_defs_issue_no_sql_statements() -> None:
    offenders = {str(p.relative_to(PACKAGE)): found for p in _modules("defs") if (found := _sql_in_defs(p))}
    assert offenders == {}


def test_the_ledger_imports_no_adapter() -> None:
    offenders = {
        str(p.relative_to(PACKAGE)): sorted(m for m in _imported_modules(p) if m.startswith(ADAPTERS))
        for p in _modules("ledger")
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def _defs_reached(path: Path) -> list[str]:
    return sorted(m for m in _imported_modules(path) if m.startswith((DEFS, CODE_LOCATION)))


def test_the_cli_imports_nothing_from_defs() -> None:
    """Neither a defs module nor the code location, which loads them all."""
    assert _defs_reached(PACKAGE / "cli.py") == []


def test_services_import_neither_dagster_nor_defs() -> None:
    offenders = {
        str(p.relative_to(PACKAGE)): sorted(
            m for m in _imported_modules(p) if m.split(".")[0] == "dagster" or m.startswith(DEFS)
        )
        for p in _modules("services")
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_the_domain_imports_no_other_layer_of_the_package() -> None:
    outer = ("torghut_assets.ledger", ADAPTERS, "torghut_assets.services", DEFS)
    offenders = {
        p.name: sorted(m for m in _imported_modules(p) if m.startswith(outer)) for p in _modules("domain")
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_each_rule_catches_the_breach_it_names(tmp_path: Path) -> None:
    """The rules above are only worth something if they can fail: each one, fed a breaching module."""
    breach = tmp_path / "breach.py"
    breach.write_text(
        "import sqlalchemy as sa\n"
        "def f(conn):\n"
        "    from torghut_assets.defs.lane_window import partitions\n"
        "    from torghut_assets.adapters.execution_venue import OrderReport\n"
        "    from torghut_assets.definitions import market_data_resource\n"
        "    return conn.execute(sa.text('select 1'))\n"
    )
    assert _sql_in_defs(breach) == ["sqlalchemy", "line 6: .execute()"]
    assert _defs_reached(breach) == [
        "torghut_assets.definitions",
        "torghut_assets.definitions.market_data_resource",
        "torghut_assets.defs.lane_window",
        "torghut_assets.defs.lane_window.partitions",
    ]
    imported = _imported_modules(breach)
    assert "torghut_assets.defs.lane_window.partitions" in imported
    assert "torghut_assets.adapters.execution_venue.OrderReport" in imported


def test_dg_check_defs_passes_on_the_defs_folder(tmp_path: Path) -> None:
    """The Dagster 1.13 project shape: `dg` finds the project in pyproject.toml and every definition under
    `defs/` loads and resolves with its resources."""
    dg_cli = Path(sys.executable).parent / "dg"
    env = {"DAGSTER_HOME": str(tmp_path), "PATH": f"{dg_cli.parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    command = [str(dg_cli), "check", "defs"]
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=PACKAGE.parent, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "All definitions loaded successfully" in out.stdout + out.stderr
