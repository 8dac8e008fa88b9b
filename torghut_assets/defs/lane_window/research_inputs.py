"""What every research stage needs: settings, the research dataset (checked against the run), and the
stored rows of the window. Shared by the research assets and by replay."""

from typing import Any

import dagster as dg
import pandas as pd

from torghut_assets.defs.resources import LedgerResource, MarketDataResource
from torghut_assets.domain.lane_catalog import lane_research_settings
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.market_calendar import previous_sessions, session_bounds
from torghut_assets.domain.research_evaluation import ResearchSettings, spec_from_parameter_set
from torghut_assets.domain.signal_frame import dataset_version
from torghut_assets.domain.signal_quality import admit_signals
from torghut_assets.domain.strategies import StrategySpec
from torghut_assets.domain.strategy_registry import DEFAULT_TIMEOUT_SECONDS, StrategyLoadError
from torghut_assets.ledger import queries, schema
from torghut_assets.ledger.records import LedgerIntegrityError

RESEARCH_TABLES = (
    schema.research_runs,
    schema.research_candidates,
    schema.research_fold_metrics,
    schema.research_stress_metrics,
    schema.research_promotions,
)


class UpstreamMissingError(RuntimeError):
    """An upstream asset of this lane window has not been materialized; the chain would be incomplete."""


class ResearchResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Walk-forward and grid settings; their checksum is part of every run id."""

    lookback_sessions: int = 1
    train_bars: int = 60
    test_bars: int = 30
    step_bars: int = 30
    purge_bars: int = 5
    fold_mode: str = "sliding"
    grid: dict[str, list[float]] | None = None
    # TORGHUT_STRATEGY_TIMEOUT_SECONDS: per strategy call; not part of the settings' checksum (it decides
    # whether a run finishes, never what it computes)
    strategy_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def settings(self) -> ResearchSettings:
        grid = None if self.grid is None else tuple(sorted((k, tuple(v)) for k, v in self.grid.items()))
        return ResearchSettings(
            lookback_sessions=self.lookback_sessions,
            train_bars=self.train_bars,
            test_bars=self.test_bars,
            step_bars=self.step_bars,
            purge_bars=self.purge_bars,
            fold_mode=self.fold_mode,
            grid=grid,
        )


def lookback_start(window: LaneWindow, settings: ResearchSettings) -> pd.Timestamp:
    """Open of the earliest lookback session: the prior sessions plus today up to the window end."""
    day = window.start.tz_convert("America/New_York").date()
    sessions = previous_sessions(day, settings.lookback_sessions)
    bounds = session_bounds(sessions[0]) if sessions else None
    return bounds[0] if bounds else window.start - pd.Timedelta(days=3)


def lookback_signals(
    window: LaneWindow, market_data: MarketDataResource, settings: ResearchSettings
) -> pd.DataFrame:
    start = lookback_start(window, settings)
    return admit_signals(
        market_data.signals(start, window.end),
        window_start=start,
        window_end=window.end,
        universe=market_data.universe,
    ).frame


def run_row(ledger: LedgerResource, window: LaneWindow) -> dict[str, Any]:
    with ledger.read() as conn:
        runs = queries.window_rows(conn, schema.research_runs, window.lane, window.start)
    if not runs:
        raise UpstreamMissingError(f"no research run for {window.label()}: materialize research_runs first")
    return runs[0]


def research_dataset(
    ledger: LedgerResource, market_data: MarketDataResource, window: LaneWindow, settings: ResearchSettings
) -> tuple[dict[str, Any], pd.DataFrame | None]:
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


def stored_candidates(
    ledger: LedgerResource, window: LaneWindow
) -> list[tuple[dict[str, Any], StrategySpec]]:
    with ledger.read() as conn:
        rows = queries.window_rows(conn, schema.research_candidates, window.lane, window.start)
    specs = []
    for row in sorted(rows, key=lambda r: r["candidate_id"]):
        try:
            specs.append((row, spec_from_parameter_set(row["parameter_set"])))
        except StrategyLoadError:
            raise  # the strategy does not load (or changed version): a strategy failure, not corruption
        except ValueError as exc:
            raise LedgerIntegrityError(f"candidate {row['candidate_id']}: {exc}") from exc
    return specs


def stored_research_rows(ledger: LedgerResource, window: LaneWindow) -> dict[str, list[dict[str, Any]]]:
    with ledger.read() as conn:
        return {t.name: queries.window_rows(conn, t, window.lane, window.start) for t in RESEARCH_TABLES}
