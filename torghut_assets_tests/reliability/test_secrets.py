"""Secrets never leak into logs, Dagster events, files, ledger rows or error messages (issue 11, part 6).

Recognizable fake secrets are configured the way production configures them (environment variables
read by `settings.load_settings` and handed to resources as `EnvVar`): Alpaca keys (orders really go to
an Alpaca stub that checks them), the ledger's PostgreSQL password (trust auth accepts any password, so
the URL carrying it really connects) and the approval-signing secret. Real flows then run once, with
debug logging on: a lane window, orders refused by an Alpaca outage, signals from a data API that echoes
the credentials back, promotion jobs that succeed and fail, approvals minted by the asset and by the
CLI, CLI ledger commands, runs that fail on a missing and on an unmigrated ledger. Every surface they
wrote is then scanned for the secret values.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from torghut_assets.cli import main as cli
from torghut_assets.definitions import LANE_WINDOW_ASSETS, default_resources
from torghut_assets.defs.governance.approvals import approval_overrides
from torghut_assets.defs.lane_window.executions import executions
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.signals import signals
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets.settings import load_settings
from torghut_assets_tests.adapters.alpaca_trading_stub import AlpacaTradingStub
from torghut_assets_tests.adapters.stub_server import StubServer
from torghut_assets_tests.defs.governance_harness import GovernedLedger, resolved_promotion_job
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, trading_as_open_window
from torghut_assets_tests.reliability.governed_snapshot import empty_pg_database, governed_copy

DB_PASSWORD = "S3cretPw-XYZ"
SECRETS = {
    "APCA_API_KEY_ID": "PKLEAKCANARY7Q2W9E4R",
    "APCA_API_SECRET_KEY": "apca-secret-canary-Zx81Lq0PzM3n",
    "TORGHUT_APPROVAL_SECRET": "approval-secret-canary-Vq7Kd93LmN0pQ2rS",
    "ledger password": DB_PASSWORD,
}
OUTAGE_WINDOW_HOUR = 16
DATA_OUTAGE_WINDOW = pd.Timestamp("2026-03-04 15:00", tz="UTC")


@dataclass
class Surfaces:
    """Everything the flows wrote that a person or a log shipper could read, as text."""

    dagster: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    cli: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # artifact root, Dagster home and instance
    ledger: list[str] = field(default_factory=list)
    outcomes: dict[str, bool] = field(default_factory=dict)
    orders_seen_by_alpaca: int = 0
    orders_refused_by_alpaca: int = 0
    rejected_executions: int = 0
    alpaca_key_headers: set[str] = field(default_factory=set)


class _EchoingProxy(StubServer[None]):
    """An upstream that answers 403 and echoes the request's credential headers back in the error body,
    as a misconfigured proxy might: whatever an adapter puts in its error text must not carry them on."""

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(
                    {
                        "message": "forbidden",
                        "key": self.headers.get("APCA-API-KEY-ID"),
                        "secret": self.headers.get("APCA-API-SECRET-KEY"),
                    }
                ).encode()
                self.send_response(403)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


class _Collect(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(self.format(record))  # includes exc_info tracebacks


def leaks(texts: list[str] | dict[str, str]) -> dict[str, list[str]]:
    """{secret name: [excerpt around each occurrence]} over `texts`; empty when nothing leaked."""
    items = texts.items() if isinstance(texts, dict) else enumerate(texts)
    found: dict[str, list[str]] = {}
    for where, text in items:
        for name, secret in SECRETS.items():
            at = text.find(secret)
            if at >= 0:
                found.setdefault(name, []).append(f"{where}: …{text[max(0, at - 80) : at + 40]}…")
    return found


def _password_url(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(password=DB_PASSWORD)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _run_config(op: str, **config: Any) -> dict[str, Any]:
    return {"ops": {op: {"config": config}}}


@pytest.fixture(scope="module", params=[pytest.param("postgresql", marks=pytest.mark.postgres)])
def governed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GovernedLedger]:
    yield from governed_copy(request, tmp_path_factory)


@pytest.fixture(scope="module")
def surfaces(governed: GovernedLedger, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Surfaces]:
    governed.reset()
    work = tmp_path_factory.mktemp("secrets")
    ledger_url = _password_url(governed.url)
    artifact_root = governed.root / "artifacts"
    found = Surfaces()
    console_out, console_err = io.StringIO(), io.StringIO()
    handler = _Collect(found.logs)
    root_logger = logging.getLogger()
    (work / "instance").mkdir()
    instance = dg.DagsterInstance.local_temp(str(work / "instance"))
    champion = governed.candidates[0]
    with (
        AlpacaTradingStub(
            key_id=SECRETS["APCA_API_KEY_ID"], secret_key=SECRETS["APCA_API_SECRET_KEY"]
        ) as stub,
        pytest.MonkeyPatch.context() as env,
        contextlib.redirect_stdout(console_out),
        contextlib.redirect_stderr(console_err),
        empty_pg_database() as unmigrated,
        _EchoingProxy() as echoing_proxy,
    ):
        # Debug logging everywhere (an operator chasing an incident), SQL statements and parameters too.
        levels = {name: logging.getLogger(name).level for name in ("", "sqlalchemy.engine")}
        root_logger.setLevel(logging.DEBUG)
        logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
        root_logger.addHandler(handler)
        for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "TORGHUT_APPROVAL_SECRET"):
            env.setenv(name, SECRETS[name])
        env.setenv("APCA_API_BASE_URL", stub.url)
        env.setenv("TORGHUT_DATABASE_URL", ledger_url)
        env.setenv("TORGHUT_ARTIFACT_ROOT", str(artifact_root))
        env.setenv("TORGHUT_GATE_POLICY_PATH", str(governed.root / "gates-live-enabled.toml"))
        env.setenv("DAGSTER_HOME", str(work / "home"))
        env.delenv("TORGHUT_ENV", raising=False)
        (work / "home").mkdir()

        def flow(name: str, run: Callable[[], Any]) -> Any:
            """Run one flow; keep its outcome, and the text of anything it raised."""
            try:
                result = run()
            except BaseException as exc:  # the exception text is a scanned surface
                found.exceptions.append(f"{name}: " + "".join(traceback.format_exception(exc)))
                found.outcomes[name] = False
                return None
            success = getattr(result, "success", result == 0 if isinstance(result, int) else True)
            found.outcomes[name] = bool(success)
            for event in getattr(result, "all_events", []):
                if event.is_failure:
                    found.exceptions.append(f"{name}: {dg.serialize_value(event)}")
            return result

        def resources(trading_window: pd.Timestamp | None = None) -> dict[str, object]:
            configured = default_resources(load_settings())
            if trading_window is None:
                return configured
            # ema_trend as a paper lane trading this window live, so its orders reach the Alpaca stub
            return {**configured, "trading_session": trading_as_open_window(trading_window, ("ema_trend",))}

        def materialize(
            assets: list[Any], trading_window: pd.Timestamp | None = None, **kwargs: Any
        ) -> dg.ExecuteInProcessResult:
            return dg.materialize(
                assets, resources=resources(trading_window), instance=instance, raise_on_error=False, **kwargs
            )

        def promote(stage: str, token: str | None = None) -> dg.ExecuteInProcessResult:
            config: dict[str, Any] = {"candidate_id": champion, "target_stage": stage, "requester": "quant"}
            if token:
                config["approval_token"] = token
            return resolved_promotion_job(resources()).execute_in_process(
                run_config=_run_config("promotion_decision", **config),
                instance=instance,
                raise_on_error=False,
            )

        def approve(role: str, stage: str) -> dg.ExecuteInProcessResult:
            config = {"candidate_id": champion, "target_stage": stage, "approver": "cio@torghut"}
            return materialize(
                [approval_overrides],
                run_config=_run_config("approval_overrides", **config, approver_role=role, reason="reviewed"),
            )

        def run_cli(*argv: str) -> int:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    return cli(list(argv))
                finally:
                    # the command line itself is the operator's input, not the product's output
                    found.cli.append(
                        f"$ torghut-assets {' '.join(argv[:2])} …\n{out.getvalue()}{err.getvalue()}"
                    )

        try:
            flow(
                "lane window (orders to Alpaca)",
                lambda: materialize(
                    LANE_WINDOW_ASSETS,
                    trading_window=OPEN_WINDOW,
                    partition_key=lane_window_key("ema_trend", OPEN_WINDOW),
                ),
            )
            found.orders_seen_by_alpaca = len(stub.requests_to("/v2/orders", "POST"))
            found.alpaca_key_headers = {r.headers.get("APCA-API-KEY-ID", "") for r in stub.requests}
            stub.mode = "http_403"  # and the body echoes the credentials back
            stub.error_body = {
                "message": "forbidden",
                "key": SECRETS["APCA_API_KEY_ID"],
                "secret": SECRETS["APCA_API_SECRET_KEY"],
            }
            flow(
                "orders during an Alpaca outage",  # the harness already decided this window's trades
                lambda: materialize(
                    [executions],
                    trading_window=OPEN_WINDOW.replace(hour=OUTAGE_WINDOW_HOUR),
                    partition_key=lane_window_key("ema_trend", OPEN_WINDOW.replace(hour=OUTAGE_WINDOW_HOUR)),
                ),
            )
            found.orders_refused_by_alpaca = (
                len(stub.requests_to("/v2/orders", "POST")) - found.orders_seen_by_alpaca
            )
            stub.mode = "fill"
            env.setenv("TORGHUT_SIGNAL_SOURCE", "alpaca")
            env.setenv("APCA_API_DATA_URL", echoing_proxy.base_url)
            flow(
                "signals from an Alpaca data API echoing the credentials",
                lambda: materialize(
                    [signals], partition_key=lane_window_key("ema_trend", DATA_OUTAGE_WINDOW)
                ),
            )
            env.delenv("TORGHUT_SIGNAL_SOURCE")
            env.delenv("APCA_API_DATA_URL")
            flow("promotion to paper", lambda: promote("paper"))
            flow("promotion to live without approval (denied)", lambda: promote("live"))
            minted = flow("approval asset", lambda: approve("head_of_trading", "live_l1"))
            token_file = minted.asset_materializations_for_node("approval_overrides")[0].metadata[
                "token_file"
            ]
            token = Path(str(token_file.value)).read_text(encoding="utf-8").strip()  # dev: a 0600 file
            flow(
                "approval asset refusing a risk officer for live", lambda: approve("risk_officer", "live_l2")
            )
            flow("promotion to live with the approval", lambda: promote("live", token))
            flow(
                "cli approve",
                lambda: run_cli(
                    "approve",
                    "--candidate",
                    champion,
                    "--stage",
                    "live_l2",
                    "--approver",
                    "cio@torghut",
                    "--role",
                    "head_of_trading",
                    "--reason",
                    "ramp review",
                ),
            )
            flow(
                "cli approve refused",
                lambda: run_cli(
                    "approve",
                    "--candidate",
                    champion,
                    "--stage",
                    "live_l3",
                    "--approver",
                    "x",
                    "--role",
                    "intern",
                    "--reason",
                    "no",
                ),
            )
            flow("cli db current", lambda: run_cli("db", "current"))
            flow("cli db upgrade", lambda: run_cli("db", "upgrade"))
            flow("cli evidence verify", lambda: run_cli("evidence", "verify"))
            missing = _password_url(governed.url, database="torghut_no_such_ledger")
            flow("cli db current on a missing database", lambda: run_cli("db", "current", "--url", missing))
            env.setenv("TORGHUT_DATABASE_URL", missing)
            flow("promotion against a missing database", lambda: promote("live_l2"))
            env.setenv("TORGHUT_DATABASE_URL", _password_url(governed.url, database=unmigrated))
            flow("promotion against an unmigrated ledger", lambda: promote("live_l2"))
            env.setenv("TORGHUT_DATABASE_URL", ledger_url)
        finally:
            root_logger.removeHandler(handler)
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
    found.console = [console_out.getvalue(), console_err.getvalue()]
    for run in instance.get_runs():
        found.dagster.append(dg.serialize_value(run))
        for snapshot in (
            instance.get_job_snapshot(run.job_snapshot_id) if run.job_snapshot_id else None,
            instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
            if run.execution_plan_snapshot_id
            else None,
        ):
            if snapshot is not None:
                found.dagster.append(dg.serialize_value(snapshot))
        found.dagster += [dg.serialize_value(entry) for entry in instance.all_logs(run.run_id)]
    for path in sorted(p for root in (artifact_root, work) for p in root.rglob("*") if p.is_file()):
        found.files[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    engine = create_ledger_engine(governed.url)
    try:
        with engine.connect() as conn:
            e = schema.executions
            found.rejected_executions = len(
                conn.execute(sa.select(e.c.id).where(e.c.lane == "ema_trend", e.c.status == "rejected")).all()
            )
            for table in schema.metadata.sorted_tables:
                found.ledger += [f"{table.name}: {tuple(row)!r}" for row in conn.execute(sa.select(table))]
    finally:
        engine.dispose()
    instance.dispose()
    yield found
    governed.reset()


def test_the_flows_ran_with_the_secrets_configured(surfaces: Surfaces) -> None:
    """The scan below means something only if the secrets were in use and every flow reached its end."""
    assert surfaces.outcomes == {
        "lane window (orders to Alpaca)": True,
        "orders during an Alpaca outage": True,
        "signals from an Alpaca data API echoing the credentials": True,
        "promotion to paper": True,
        "promotion to live without approval (denied)": True,  # a deny is a recorded verdict
        "approval asset": True,
        "approval asset refusing a risk officer for live": False,
        "promotion to live with the approval": True,
        "cli approve": True,
        "cli approve refused": False,
        "cli db current": True,
        "cli db upgrade": True,
        "cli evidence verify": True,
        "cli db current on a missing database": False,
        "promotion against a missing database": False,
        "promotion against an unmigrated ledger": False,
    }
    assert surfaces.orders_seen_by_alpaca > 0 and surfaces.orders_refused_by_alpaca > 0
    assert any("HTTP 403 from" in event for event in surfaces.dagster)  # the echoing upstream was reported
    assert any("INSERT INTO approval_overrides" in line for line in surfaces.logs)  # SQL was logged
    assert surfaces.rejected_executions > 0  # the outage was recorded as rejected orders
    assert any("postgres:***@" in e for e in surfaces.exceptions)  # the unmigrated ledger is named, masked
    assert surfaces.alpaca_key_headers == {SECRETS["APCA_API_KEY_ID"]}
    assert any("signed with the env:TORGHUT_APPROVAL_SECRET secret" in out for out in surfaces.cli)
    assert len(surfaces.exceptions) >= 5 and surfaces.files and surfaces.dagster and surfaces.ledger


def test_dagster_events_run_records_and_snapshots_contain_no_secret(surfaces: Surfaces) -> None:
    assert leaks(surfaces.dagster) == {}


def test_python_logs_and_console_output_contain_no_secret(surfaces: Surfaces) -> None:
    assert leaks(surfaces.logs + surfaces.console) == {}


def test_cli_output_contains_no_secret(surfaces: Surfaces) -> None:
    assert leaks(surfaces.cli) == {}


def test_exception_messages_and_tracebacks_contain_no_secret(surfaces: Surfaces) -> None:
    assert leaks(surfaces.exceptions) == {}


def test_files_under_the_artifact_root_and_the_dagster_home_contain_no_secret(surfaces: Surfaces) -> None:
    assert leaks(surfaces.files) == {}


def test_ledger_rows_contain_no_secret(surfaces: Surfaces) -> None:
    assert leaks(surfaces.ledger) == {}
