"""Never trade the past: paper/live lanes send orders only from their open window, within the decision
timeout, once; closed windows and backfills send nothing and leave expired decisions as evidence."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from torghut_assets.adapters.market_simulator import DEFAULT_UNIVERSE, MarketSimulator
from torghut_assets.adapters.sql_signal_source import create_ta_signals_table, write_ta_signals
from torghut_assets.definitions import LANE_WINDOW_ASSETS
from torghut_assets.defs.lane_window.open_window import advance_open_windows
from torghut_assets.defs.lane_window.partitions import lane_window_key
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.defs.resources import BrokerResource, MarketDataResource
from torghut_assets.domain.orders import (
    CancelOutcome,
    ExecutionVenue,
    OrderReport,
    OrderRequest,
    VenueError,
)
from torghut_assets.domain.routing import Venue
from torghut_assets.ledger import schema
from torghut_assets.ledger.engine import create_ledger_engine
from torghut_assets_tests.defs.lane_window_harness import OPEN_WINDOW, resources

WINDOW_END = OPEN_WINDOW + pd.Timedelta(hours=1)
SESSION_OPEN = pd.Timestamp("2026-03-03 14:30", tz="UTC")
PAPER = "macd_rsi=paper"


class RecordingVenue:
    """A broker that fills every order at the arrival price and remembers every call it received."""

    name = Venue.ALPACA

    def __init__(self, open_orders: list[OrderReport] | None = None) -> None:
        self.submitted: list[OrderRequest] = []
        self.open_orders = open_orders or []
        self.cancel_all_calls = 0
        self.cancel_fails: str | None = None

    def healthy(self) -> bool:
        return True

    def submit(self, order: OrderRequest) -> OrderReport:
        self.submitted.append(order)
        return OrderReport(
            venue=self.name,
            order_id=f"rec-{order.client_order_id[:20]}",
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            submitted_qty=float(order.qty),
            filled_qty=float(order.qty),
            avg_fill_price=order.arrival_price,
            status="filled",
            filled_at=order.submitted_at,
            raw={"order_type": order.order_type},
        )

    def list_open_orders(self) -> list[OrderReport]:
        return list(self.open_orders)

    def cancel_order(self, order_id: str) -> CancelOutcome:
        return CancelOutcome(self.name, order_id, None, True, "canceled")

    def cancel_all_orders(self) -> list[CancelOutcome]:
        self.cancel_all_calls += 1
        if self.cancel_fails:
            raise VenueError(self.name, "cancel_all_orders", self.cancel_fails, "injected")
        cancelled = [
            CancelOutcome(self.name, o.order_id, o.client_order_id, True, "canceled")
            for o in self.open_orders
        ]
        self.open_orders = []
        return cancelled


RECORDERS: dict[str, RecordingVenue] = {}


class RecordingBroker(BrokerResource):
    """The broker resource with its real venues replaced by one recording venue. Dagster rebuilds resource
    objects from their config, so the venue is found by key rather than held by the instance."""

    recorder_key: str = ""

    def __init__(self, **config: Any) -> None:
        super().__init__(**{"recorder_key": uuid.uuid4().hex, **config})
        RECORDERS.setdefault(self.recorder_key, RecordingVenue())

    def venues(self, bars: pd.DataFrame) -> dict[str, ExecutionVenue]:
        return {Venue.ALPACA: self.recorder}

    @property
    def recorder(self) -> RecordingVenue:
        return RECORDERS[self.recorder_key]


def _resources(url: str, root: Path, broker: RecordingBroker, now: pd.Timestamp | None) -> dict[str, Any]:
    return {
        **resources(url, root),
        "broker": broker,
        "trading_session": TradingSessionResource(
            lane_modes=PAPER, fixed_now=None if now is None else now.isoformat()
        ),
    }


def _materialize(
    url: str, root: Path, broker: RecordingBroker, now: pd.Timestamp
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        LANE_WINDOW_ASSETS,
        partition_key=lane_window_key("macd_rsi", OPEN_WINDOW),
        resources=_resources(url, root, broker, now),
        instance=dg.DagsterInstance.ephemeral(),
    )


def _rows(url: str, table: sa.Table) -> list[dict[str, Any]]:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.select(table).where(table.c.lane == "macd_rsi").order_by(table.c.id)
            return [dict(r) for r in conn.execute(query).mappings()]
    finally:
        engine.dispose()


def _utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _live_session(
    url: str,
    root: Path,
    broker: RecordingBroker,
    ticks: list[pd.Timestamp],
    signal_url: str | None = None,
) -> None:
    """Loop ticks at `ticks`; with `signal_url`, each tick first writes the signals that have arrived by
    then into that SQL `ta_signals` table (the source the loop reads), as a live feed would."""
    resources = _resources(url, root, broker, None)
    feed = None
    if signal_url is not None:
        resources["market_data"] = MarketDataResource(source="sql", sql_url=signal_url)
        feed = MarketSimulator().signals(SESSION_OPEN, WINDOW_END)
        feed = feed[[c for c in feed.columns if c not in ("lane", "window_start")]]
        engine = sa.create_engine(signal_url)
        create_ta_signals_table(engine)
        engine.dispose()
    written = SESSION_OPEN
    for now in ticks:
        if feed is not None:
            arrived = feed[(feed["event_ts"] >= written) & (feed["event_ts"] < now)]
            engine = sa.create_engine(str(signal_url))
            write_ta_signals(engine, arrived)
            engine.dispose()
            written = now
        advance_open_windows(resources, now)


def _minutes(start: str, end: str, step: str = "5min") -> list[pd.Timestamp]:
    return list(pd.date_range(pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"), freq=step))


def test_backfilling_a_closed_paper_window_sends_no_order_and_leaves_expired_decisions(
    ledger_url: str, tmp_path: Path
) -> None:
    broker = RecordingBroker()
    result = _materialize(ledger_url, tmp_path, broker, pd.Timestamp("2026-04-07 15:00", tz="UTC"))
    assert broker.recorder.submitted == []
    assert _rows(ledger_url, schema.executions) == []
    decisions = [d for d in _rows(ledger_url, schema.trade_decisions) if "submission" in d["decision_json"]]
    assert decisions, "the fixture window must produce planned decisions"
    assert {d["status"] for d in decisions} == {"rejected"}
    assert {d["decision_json"]["submission"]["outcome"] for d in decisions} == {"expired"}
    assert all(
        d["decision_json"]["submission"]["reason"].startswith("decision_timeout_unsubmitted:")
        for d in decisions
    )
    meta = result.asset_materializations_for_node("executions")[0].metadata
    assert meta["trading"].value["mode"] == "paper"
    assert meta["trading"].value["window_phase"] == "closed"
    assert meta["sent_to_real_venues_now"].value == 0


def test_closing_the_window_just_after_its_hour_submits_nothing(ledger_url: str, tmp_path: Path) -> None:
    broker = RecordingBroker()
    _materialize(ledger_url, tmp_path, broker, WINDOW_END + pd.Timedelta(minutes=5))
    assert broker.recorder.submitted == []
    reasons = Counter(
        d["decision_json"]["submission"]["reason"].split(":")[0]
        for d in _rows(ledger_url, schema.trade_decisions)
        if "submission" in d["decision_json"]
    )
    assert set(reasons) <= {"decision_timeout_unsubmitted", "window_closed_unsubmitted"}
    assert sum(reasons.values()) > 0


def test_a_replay_lane_never_reaches_a_real_venue_even_with_one_configured(
    ledger_url: str, tmp_path: Path
) -> None:
    broker = RecordingBroker()
    dg.materialize(
        LANE_WINDOW_ASSETS,
        partition_key=lane_window_key("macd_rsi", OPEN_WINDOW),
        resources={**resources(ledger_url, tmp_path), "broker": broker},
        instance=dg.DagsterInstance.ephemeral(),
    )
    rows = _rows(ledger_url, schema.executions)
    assert broker.recorder.submitted == []
    assert rows and {r["execution_actual_adapter"] for r in rows} == {"simulator"}
    assert {r["raw_order"]["route"]["bypass_reason"] for r in rows} == {"lane_mode_replay"}


@dataclass(frozen=True)
class Session:
    url: str
    sent_during_session: list[OrderRequest]
    executions_after_session: dict[str, Any]
    recorder: RecordingVenue


@pytest.fixture(scope="module")
def live_session(module_ledger_url: str, tmp_path_factory: pytest.TempPathFactory) -> Session:
    """One simulated session hour: the loop ticks every 9 minutes, then the hourly run closes the window."""
    root = tmp_path_factory.mktemp("artifacts")
    broker = RecordingBroker()
    feed = f"sqlite:///{root / 'ta_signals.db'}"
    ticks = _minutes("2026-03-03 15:01", "2026-03-03 15:59", "9min")
    _live_session(module_ledger_url, root, broker, ticks, signal_url=feed)
    sent = list(broker.recorder.submitted)
    before = {r["client_order_id"]: r["created_at"] for r in _rows(module_ledger_url, schema.executions)}
    _materialize(module_ledger_url, root, broker, WINDOW_END + pd.Timedelta(minutes=5))
    return Session(module_ledger_url, sent, before, broker.recorder)


def test_in_a_live_session_every_order_goes_out_within_the_timeout_and_only_once(
    live_session: Session,
) -> None:
    sent = live_session.sent_during_session
    assert sent, "the session must produce orders"
    assert max(Counter(o.client_order_id for o in sent).values()) == 1
    decisions = {d["decision_hash"]: d for d in _rows(live_session.url, schema.trade_decisions)}
    for order in sent:
        decided = _utc(decisions[order.client_order_id]["signal_event_ts"])
        assert pd.Timedelta(0) <= order.submitted_at - decided < pd.Timedelta(seconds=600)


def test_tca_measures_each_order_against_the_price_observed_when_it_was_sent(live_session: Session) -> None:
    tca = {r["execution_id"]: r for r in _rows(live_session.url, schema.execution_tca_metrics)}
    sent = {o.client_order_id: o for o in live_session.sent_during_session}
    for row in _rows(live_session.url, schema.executions):
        order = sent[row["client_order_id"]]
        assert _utc(row["created_at"]) == order.submitted_at
        assert float(tca[row["id"]]["arrival_price"]) == pytest.approx(order.arrival_price)


def test_closing_after_a_live_session_keeps_its_orders_and_sends_nothing_more(live_session: Session) -> None:
    assert live_session.recorder.submitted == live_session.sent_during_session
    after = {r["client_order_id"]: r["created_at"] for r in _rows(live_session.url, schema.executions)}
    assert after == live_session.executions_after_session


def test_a_decision_missed_by_the_loop_expires_and_stays_unsent_through_reruns(
    ledger_url: str, tmp_path: Path
) -> None:
    broker = RecordingBroker()
    _live_session(ledger_url, tmp_path, broker, [pd.Timestamp("2026-03-03 15:45", tz="UTC")])
    expired = {
        d["decision_hash"]: d["decision_json"]["submission"]
        for d in _rows(ledger_url, schema.trade_decisions)
        if "submission" in d["decision_json"]
    }
    assert expired, "decisions older than ten minutes at the first tick must expire"
    assert {s["reason"].split(":")[0] for s in expired.values()} == {"decision_timeout_unsubmitted"}
    _live_session(ledger_url, tmp_path, broker, [pd.Timestamp("2026-03-03 15:55", tz="UTC")])
    _materialize(ledger_url, tmp_path, broker, WINDOW_END + pd.Timedelta(minutes=5))
    _materialize(ledger_url, tmp_path, broker, WINDOW_END + pd.Timedelta(days=3))
    assert not set(expired) & {o.client_order_id for o in broker.recorder.submitted}
    after = {d["decision_hash"]: d for d in _rows(ledger_url, schema.trade_decisions)}
    for digest, verdict in expired.items():
        assert after[digest]["status"] == "rejected"
        assert after[digest]["decision_json"]["submission"] == verdict


def _resting(symbol: str, side: str) -> OrderReport:
    return OrderReport(
        venue=Venue.ALPACA,
        order_id=f"resting-{symbol}-{side}",
        client_order_id=f"other-{symbol}-{side}",
        symbol=symbol,
        side=side,
        submitted_qty=5.0,
        filled_qty=0.0,
        avg_fill_price=None,
        status="new",
        filled_at=None,
        raw={"order_type": "market"},
    )


def test_an_open_opposite_side_order_refuses_the_decision_before_the_broker(
    ledger_url: str, tmp_path: Path
) -> None:
    broker = RecordingBroker()
    broker.recorder.open_orders = [_resting(s, side) for s in DEFAULT_UNIVERSE for side in ("buy", "sell")]
    _live_session(ledger_url, tmp_path, broker, _minutes("2026-03-03 15:01", "2026-03-03 15:59", "9min"))
    assert broker.recorder.submitted == []
    unsent = [d for d in _rows(ledger_url, schema.trade_decisions) if "submission" in d["decision_json"]]
    assert unsent, "the session must produce decisions"
    assert {d["decision_json"]["submission"]["reason"] for d in unsent} == {
        "precheck_opposite_side_open_order"
    }
    for d in unsent:
        opposite = "sell" if d["decision_json"]["action"] == "buy" else "buy"
        detail = d["decision_json"]["submission"]["detail"]
        assert detail["existing_order_id"] == f"resting-{d['symbol']}-{opposite}"
