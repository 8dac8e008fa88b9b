"""Which lanes this code location trades and in which mode: the lane catalog (`TORGHUT_LANE_CATALOG`)
with the operators' mode override (`TORGHUT_LANE_MODES`) over it.

Why checked against `TRADING_MODE` here: a lane in live mode, from the catalog or the override, is live
capital, and the global switch is the last word on it; a paper/live lane also needs an account bound to a
broker. Both are refused when the code location loads rather than when the lane's first window trades.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from torghut_assets.catalog_loader import catalog_path, read_catalog
from torghut_assets.config_registry import configured
from torghut_assets.domain.lane_catalog import CatalogError, LaneCatalog
from torghut_assets.domain.lanes import AccountBroker, LaneConfig, LaneMode, LaneModeError, parse_lane_modes


@dataclass(frozen=True)
class LaneSettings:
    catalog: LaneCatalog | None
    modes: Mapping[str, LaneMode]  # the lanes not in replay
    problems: tuple[str, ...]


def lane_settings(env: Mapping[str, str], *, trading_mode: str) -> LaneSettings:
    catalog, problems = _lane_catalog(env)
    modes, mode_problems = _lane_modes(env, trading_mode, catalog)
    return LaneSettings(catalog, modes, (*problems, *mode_problems))


def _lane_catalog(env: Mapping[str, str]) -> tuple[LaneCatalog | None, list[str]]:
    """The lane catalog `TORGHUT_LANE_CATALOG` names (else the shipped one), every problem listed."""
    try:
        return read_catalog(catalog_path(env)), []
    except CatalogError as exc:
        return None, [f"TORGHUT_LANE_CATALOG: {problem}" for problem in exc.problems]


def _lane_modes(
    env: Mapping[str, str], trading_mode: str, catalog: LaneCatalog | None
) -> tuple[dict[str, LaneMode], list[str]]:
    """The lanes not in replay: the catalog's modes with `TORGHUT_LANE_MODES` (the ops override) over
    them. Without a usable catalog the override's lane names cannot be checked, so any are accepted and
    only its form is."""
    lanes = {} if catalog is None else dict(catalog.lanes)
    try:
        overrides = parse_lane_modes(
            configured(env, "TORGHUT_LANE_MODES") or "", frozenset(lanes) if catalog is not None else None
        )
    except LaneModeError as exc:
        return {}, [f"TORGHUT_LANE_MODES: {exc}"]
    modes: dict[str, LaneMode] = {
        lane: cfg.mode for lane, cfg in lanes.items() if cfg.mode is not LaneMode.REPLAY
    }
    modes.update(overrides)
    return modes, _mode_problems(lanes, overrides, trading_mode)


def _mode_problems(
    lanes: Mapping[str, LaneConfig], overrides: Mapping[str, LaneMode], trading_mode: str
) -> list[str]:
    """A live lane needs TRADING_MODE=live; an override to paper/live needs an account bound to a broker
    (the catalog's own modes were checked against their accounts when it was parsed)."""
    problems = []
    live = sorted(lane for lane, mode in overrides.items() if mode is LaneMode.LIVE)
    if live and trading_mode != "live":
        problems.append(
            f"TORGHUT_LANE_MODES puts {', '.join(live)} in live mode but TRADING_MODE={trading_mode}"
        )
    for lane, cfg in sorted(lanes.items()):
        if lane not in overrides and cfg.mode is LaneMode.LIVE and trading_mode != "live":
            problems.append(
                f"TORGHUT_LANE_CATALOG: lane '{lane}' is in live mode but TRADING_MODE={trading_mode}"
            )
        if (
            lane in overrides
            and overrides[lane].reaches_real_venues
            and cfg.account_broker == AccountBroker.NONE
        ):
            problems.append(
                f"TORGHUT_LANE_MODES puts {lane} in {overrides[lane].value} mode but its account "
                f"'{cfg.account_label}' has broker = 'none' in the lane catalog (simulated only)"
            )
    return problems


__all__ = ["LaneSettings", "lane_settings"]
