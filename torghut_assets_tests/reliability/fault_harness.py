"""Plumbing for the fault-injection tests: a throwaway PostgreSQL server, fresh ledgers, and a comparable
picture of a ledger after a fault (rows, evidence chain, duplicate natural keys, lingering writers).

Kept out of `conftest.py` so a crashing child process (and other reliability modules) can import it
without pytest's fixture machinery; the fixtures in `conftest.py` are thin wrappers around it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.ledger.evidence_digests import live_recompute
from torghut_assets.ledger.evidence_log import ChainVerification, evidence_log, verify_chain
from torghut_assets.ledger.migrate import upgrade
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, materialize_window

LANE = "macd_rsi"
WINDOW = OPEN_WINDOW
DEFAULT_PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"

# Everything one lane-window run writes besides the evidence chain: every lane-window table (derived from
# the schema, so a new lane-window asset is covered without editing this list) and the strategy registry.
LEDGER_TABLES = (*schema.LANE_WINDOW_TABLES, "strategies")

# What the window's first three assets commit before the research stage starts.
UPSTREAM_TABLES = frozenset(
    {
        "signals",
        "signal_ingest_windows",
        "strategies",
        "trade_decisions",
        "executions",
        "execution_tca_metrics",
    }
)

# Columns compared between two databases minus these. Two clean runs of the same window on two fresh
# databases differ only here: they are wall-clock bookkeeping (server-side `now()` for the strategy
# registry row; `recorded_at`/`created_at` of chain entries, which `entry_hash` deliberately excludes),
# not evidence. Every other `created_at` is the row's logical time and is compared.
WALL_CLOCK_COLUMNS: dict[str, frozenset[str]] = {
    "strategies": frozenset({"created_at", "updated_at"}),
    "evidence_log": frozenset({"recorded_at", "created_at"}),
}

# What must be unique after any crash and re-run, whether or not the schema enforces it.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "signals": ("lane", "symbol", "event_ts", "seq"),
    "signal_ingest_windows": ("lane", "window_start"),
    "trade_decisions": ("lane", "symbol", "signal_event_ts", "signal_seq"),
    "executions": ("alpaca_account_label", "client_order_id"),
    "execution_tca_metrics": ("execution_id",),
    "strategies": ("name",),
    "research_runs": ("lane", "window_start", "run_kind"),
    "research_candidates": ("run_id", "candidate_hash"),
    "research_fold_metrics": ("candidate_id", "fold_name"),
    "research_stress_metrics": ("candidate_id", "stress_case"),
    "research_promotions": ("lane", "window_start", "approver_role", "revision"),
}

Rows = dict[str, list[tuple[Any, ...]]]


@dataclasses.dataclass(frozen=True)
class LedgerState:
    """What a ledger holds, in a form two databases of the same backend can be compared by."""

    rows: Rows  # LEDGER_TABLES by id, and "evidence_log" by seq, wall-clock columns dropped
    chain: ChainVerification  # verify_chain with live_recompute: entries must match the live rows
    current_evidence: dict[tuple[str, str], str]  # (entry_kind, subject) -> latest entry's content_hash
    repeated_evidence: int  # entries recording the same content as their subject's previous entry
    duplicate_keys: dict[str, int]  # table -> natural keys stored more than once (only non-zero kept)
    run_status: str | None  # the window's research_runs.status, None without a run row

    def nonempty_tables(self) -> set[str]:
        return {name for name in LEDGER_TABLES if self.rows[name]}


def observe(url: str) -> LedgerState:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            rows = {
                name: _dump(conn, schema.metadata.tables[name]) for name in (*LEDGER_TABLES, "evidence_log")
            }
            duplicates = {name: _duplicates(conn, name, key) for name, key in NATURAL_KEYS.items()}
            chain = verify_chain(conn, recompute=live_recompute(conn))
            status = conn.execute(sa.select(schema.research_runs.c.status)).scalar_one_or_none()
            entries = conn.execute(
                sa.select(
                    evidence_log.c.entry_kind, evidence_log.c.subject, evidence_log.c.content_hash
                ).order_by(evidence_log.c.seq)
            ).all()
    finally:
        engine.dispose()
    current: dict[tuple[str, str], str] = {}
    repeated = 0
    for kind, subject, content_hash in entries:
        repeated += current.get((kind, subject)) == content_hash
        current[(kind, subject)] = content_hash
    return LedgerState(rows, chain, current, repeated, {k: v for k, v in duplicates.items() if v}, status)


def differing_tables(actual: Rows, expected: Rows, tables: tuple[str, ...] = LEDGER_TABLES) -> dict[str, str]:
    """`{table: "n rows vs m expected"}` for each table whose rows differ; empty when all are identical."""
    return {
        name: f"{len(actual[name])} rows vs {len(expected[name])} expected"
        for name in tables
        if actual[name] != expected[name]
    }


def _dump(conn: sa.Connection, table: sa.Table) -> list[tuple[Any, ...]]:
    skip = WALL_CLOCK_COLUMNS.get(table.name, frozenset())
    order = table.c.seq if table.name == "evidence_log" else table.c.id
    columns = [c for c in table.columns if c.name not in skip]
    return [tuple(row) for row in conn.execute(sa.select(*columns).order_by(order))]


def _duplicates(conn: sa.Connection, name: str, key: tuple[str, ...]) -> int:
    table = schema.metadata.tables[name]
    repeated = sa.select(*(table.c[k] for k in key)).group_by(*(table.c[k] for k in key))
    repeated = repeated.having(sa.func.count() > 1).subquery()
    return int(conn.execute(sa.select(sa.func.count()).select_from(repeated)).scalar_one())


def sessions_left_behind(url: str, timeout: float = 10.0) -> int:
    """Connections to the database other than this probe once `timeout` has passed (0 = all gone).

    PostgreSQL rolls a dead client's transaction back when its backend notices the closed socket; until
    then that backend holds the transaction's row locks and possibly the evidence-chain advisory lock.
    """
    engine = create_ledger_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as conn:
                others = conn.execute(
                    sa.text(
                        "select count(*) from pg_stat_activity "
                        "where datname = current_database() and pid <> pg_backend_pid()"
                    )
                ).scalar_one()
            if others == 0 or time.monotonic() > deadline:
                return int(others)
            time.sleep(0.05)
    finally:
        engine.dispose()


def sqlite_write_lock_free(url: str) -> bool:
    """True when a writer can take SQLite's write lock right away (a dead process must not hold it)."""
    conn = sqlite3.connect(make_url(url).database or "", timeout=0.5, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


def writers_released(url: str) -> bool:
    """The database is free for the next run: no lingering session (PostgreSQL), no held lock (SQLite)."""
    if make_url(url).get_backend_name() == "sqlite":
        return sqlite_write_lock_free(url)
    return sessions_left_behind(url) == 0


def shared_postgres_url() -> str:
    """The machine's PostgreSQL, where `torghut_assets_tests/conftest.py` keeps `postgres_template`."""
    return os.environ.get("TORGHUT_TEST_POSTGRES_URL", DEFAULT_PG_URL)


# --- fresh ledgers -----------------------------------------------------------------------------------


class LedgerFactory(Protocol):
    backend: str

    def create(self) -> str:
        """A new, empty ledger migrated to head; returns its SQLAlchemy URL."""
        ...


@dataclasses.dataclass
class SqliteLedgers:
    directory: Path
    backend: str = "sqlite"

    def create(self) -> str:
        url = f"sqlite:///{self.directory / f'ledger-{uuid.uuid4().hex[:8]}.sqlite'}"
        engine = create_ledger_engine(url)
        upgrade(engine)
        engine.dispose()
        return url


@dataclasses.dataclass
class PostgresLedgers:
    """Databases on one server, each a `CREATE DATABASE … TEMPLATE` copy of a migrated template.

    Without `template`, the first `create` migrates one (about 2 s; a copy takes a fraction of that).
    """

    admin_url: str
    template: str | None = None
    backend: str = "postgresql"
    created: list[str] = dataclasses.field(default_factory=list)

    def url(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    def create(self) -> str:
        if self.template is None:
            self.template = self._execute_create(f"torghut_tmpl_{uuid.uuid4().hex[:10]}", None)
            engine = create_ledger_engine(self.url(self.template))
            upgrade(engine)
            engine.dispose()
        return self.url(self._execute_create(f"torghut_f_{uuid.uuid4().hex[:12]}", self.template))

    def drop_all(self) -> None:
        gc.collect()  # LedgerResources hold engines; their pooled connections close when collected
        with contextlib.suppress(sa.exc.OperationalError), _admin(self.admin_url) as conn:
            for name in self.created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.created.clear()

    def _execute_create(self, name: str, template: str | None) -> str:
        clause = f' TEMPLATE "{template}"' if template else ""
        with _admin(self.admin_url) as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"{clause}'))
        self.created.append(name)
        return name


@contextlib.contextmanager
def _admin(url: str) -> Iterator[sa.Connection]:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


class CleanWindow:
    """The ledger one uninterrupted run of the window leaves, once per backend per session.

    All runs of a session share one artifact root: artifact paths are part of the rows (and of their
    evidence digests), and content addressing makes sharing safe.
    """

    def __init__(self, artifacts: Path) -> None:
        self.artifacts = artifacts
        self._states: dict[str, LedgerState] = {}

    def state(self, ledgers: LedgerFactory) -> LedgerState:
        if ledgers.backend not in self._states:
            url = ledgers.create()
            materialize_window(url, self.artifacts, LANE, WINDOW)
            self._states[ledgers.backend] = observe(url)
        return self._states[ledgers.backend]


# --- a private PostgreSQL server -----------------------------------------------------------------------


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries (or no unprivileged user to run them as) on this machine."""


def find_postgres_bindir() -> Path:
    """`TORGHUT_PG_BINDIR`, `pg_config --bindir`, the newest /usr/lib/postgresql/*/bin, or PATH."""
    candidates: list[Path] = []
    if explicit := os.environ.get("TORGHUT_PG_BINDIR"):
        candidates.append(Path(explicit))
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            candidates.append(Path(out.stdout.strip()))
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)[::-1]
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).parent)
    for bindir in candidates:
        if all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    raise PostgresUnavailable(f"no PostgreSQL server binaries (initdb, pg_ctl, postgres) in {candidates}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclasses.dataclass
class PrivatePostgres:
    """A throwaway cluster (trust auth, TCP on 127.0.0.1 only) that tests may stop, crash and restart.

    PostgreSQL refuses to run as root, so under root the server binaries run as `os_user`.
    """

    bindir: Path
    root: Path
    os_user: str | None
    port: int = 0

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the cluster's maintenance database `postgres`."""
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def ledgers(self) -> PostgresLedgers:
        return PostgresLedgers(self.url)

    @classmethod
    def create(cls) -> PrivatePostgres:
        bindir = find_postgres_bindir()
        os_user = None
        if os.geteuid() == 0:
            os_user = os.environ.get("TORGHUT_PG_OS_USER", "postgres")
            try:
                pwd.getpwnam(os_user)
            except KeyError as exc:
                raise PostgresUnavailable(f"running as root and there is no {os_user!r} user") from exc
        server = cls(bindir, Path(tempfile.mkdtemp(prefix="torghut-pg-")), os_user)
        if os_user is not None:
            account = pwd.getpwnam(os_user)
            os.chown(server.root, account.pw_uid, account.pw_gid)
        try:
            server._run(
                "initdb", "-D", str(server.data_dir), "-U", "postgres", "-A", "trust",
                "-E", "UTF8", "--locale=C", "--no-sync",
            )  # fmt: skip
        except BaseException:
            shutil.rmtree(server.root, ignore_errors=True)
            raise
        return server

    def start(self) -> None:
        """Start (on a fresh free port the first time, on the same port afterwards) and wait until ready."""
        for attempt in range(3):
            if not self.port or attempt:
                self.port = _free_port()
            options = f"-p {self.port} -h 127.0.0.1 -k {self.root}"
            done = self._run(
                "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t", "60",
                "-o", options, "start", check=False,
            )  # fmt: skip
            if done.returncode == 0:
                return
        raise RuntimeError(f"private PostgreSQL did not start: {done.stdout}{done.stderr}\n{self.log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m mode`; `immediate` is a crash: no checkpoint, recovery replays WAL at start."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60", "stop")

    @property
    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data_dir), "status", check=False).returncode == 0

    def destroy(self) -> None:
        if self.data_dir.exists() and self.running:
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        kwargs: dict[str, Any] = {}
        if self.os_user is not None:
            account = pwd.getpwnam(self.os_user)
            kwargs = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        done = subprocess.run(
            [str(self.bindir / tool), *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **kwargs,
        )
        if check and done.returncode != 0:
            raise RuntimeError(
                f"{tool} {' '.join(args)} failed ({done.returncode}): {done.stdout}{done.stderr}"
            )
        return done
