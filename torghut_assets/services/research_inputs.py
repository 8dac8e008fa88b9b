"""What the research chain, replay and the promotion gates read of a lane window: the run row, the
research dataset (checked against the run) and the window's stored research rows.

Why one module: the research chain, replay and the promotion gates must all read the same dataset the
run was recorded with, and refuse it the same way when it drifted; reading it twice, two ways, is how a
promotion would come to rest on data the run never saw.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from torghut_assets.domain.lane_catalog import lane_research_settings
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.market_calendar import previous_sessions, session_bounds
from torghut_assets.domain.research_evaluation import ResearchSettings
from torghut_assets.domain.signal_frame import dataset_version
from torghut_assets.domain.signal_quality import admit_signals
from torghut_assets.ledger import queries, schema
from torghut_assets.ledger.records import LedgerIntegrityError
from torghut_assets.services.ports import LedgerPort, MarketDataPort

RESEARCH_TABLES = (
    schema.research_runs,
    schema.research_candidates,
    schema.research_fold_metrics,
    schema.research_stress_metrics,
    schema.research_promotions,
)

Row = dict[str, Any]


class UpstreamMissingError(RuntimeError):
    """An upstream asset of this lane window has not been materialized; the chain would be incomplete."""


def lookback_start(window: LaneWindow, settings: ResearchSettings) -> pd.Timestamp:
    """Open of the earliest lookback session: the prior sessions plus today up to the window end."""
    day = window.start.tz_convert("America/New_York").date()
    sessions = previous_sessions(day, settings.lookback_sessions)
    bounds = session_bounds(sessions[0]) if sessions else None
    return bounds[0] if bounds else window.start - pd.Timedelta(days=3)


def lookback_signals(
    window: LaneWindow, market_data: MarketDataPort, settings: ResearchSettings
) -> pd.DataFrame:
    start = lookback_start(window, settings)
    return admit_signals(
        market_data.signals(start, window.end),
        window_start=start,
        window_end=window.end,
        universe=market_data.universe,
    ).frame


def run_row(ledger: LedgerPort, window: LaneWindow) -> Row:
    with ledger.engine.connect() as conn:
        runs = queries.window_rows(conn, schema.research_runs, window.lane, window.start)
    if not runs:
        raise UpstreamMissingError(f"no research run for {window.label()}: materialize research_runs first")
    return runs[0]


def research_dataset(
    ledger: LedgerPort, market_data: MarketDataPort, window: LaneWindow, settings: ResearchSettings
) -> tuple[Row, pd.DataFrame | None]:
    """The run row and, for a normal run, the dataset it was recorded with (refusing a drifted source)."""
    settings = lane_research_settings(settings, window.config)
    run = run_row(ledger, window)
    if run["status"] == "skipped":
        return run, None
    if run["runner_binary_hash"] != settings.checksum():
        raise LedgerIntegrityError(
            f"research settings changed since run {run['run_id']} was recorded: re-materialize research_runs"
        )
    frame = lookback_signals(window, market_data, settings)
    digest = dataset_version(frame)
    if digest != run["dataset_version"]:
        raise LedgerIntegrityError(
            f"research dataset for {window.label()} drifted: run {run['run_id']} recorded "
            f"{run['dataset_version']}, source now yields {digest}; re-materialize research_runs"
        )
    return run, frame


def stored_research_rows(ledger: LedgerPort, window: LaneWindow) -> dict[str, list[Row]]:
    with ledger.engine.connect() as conn:
        return {t.name: queries.window_rows(conn, t, window.lane, window.start) for t in RESEARCH_TABLES}
