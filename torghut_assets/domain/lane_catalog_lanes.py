"""One `[lanes.<name>]` table of the lane catalog → a `LaneConfig`, with every problem of it reported, and
the rule between lanes (no two lanes may plan the same decisions).

Why its own module: a lane is where the catalog meets the rest of the system (the strategy registry, the
account it trades on, the risk limits the pipeline enforces), so its checks are the ones that keep a desk
from shipping a lane that would be refused at trading time: limits that contradict each other, a size
every order would exceed, a paper/live lane on a simulated account, a strategy parameter it does not have.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from torghut_assets.domain.lane_catalog import LANE_NAME, SESSION_MINUTES, AccountConfig, lane_strategy
from torghut_assets.domain.lane_catalog_fields import (
    CatalogProblems,
    flag,
    float_table,
    number,
    section,
    string,
    table,
    text,
    type_name,
    unknown_keys,
)
from torghut_assets.domain.lanes import AccountBroker, LaneConfig, LaneMode
from torghut_assets.domain.strategy_interface import SIZING_PARAM, StrategyLoadError
from torghut_assets.domain.strategy_registry import strategy_problems

LANE_KEYS = (
    "strategy",
    "account",
    "mode",
    "description",
    "params",
    "sizing",
    "research",
    "limits",
    "session",
)
_SIZING_KEYS = (SIZING_PARAM,)
_RESEARCH_KEYS = ("grid",)
# The limit keys with the bounds `number` checks them against.
_LIMITS: dict[str, dict[str, Any]] = {
    "max_notional_per_trade": {},
    "max_position_pct_equity": {"maximum": 1.0},
    "max_gross_notional": {},
    "max_open_positions": {"integer": True, "minimum": 1.0, "strict": False},
}
# Catalog key under `session` → LaneConfig field.
_SESSION = {
    "close_flatten_minutes": "session_close_flatten_minutes",
    "close_entry_block_minutes": "session_close_entry_block_minutes",
}


def parse_lane(
    name: str,
    raw: object,
    accounts: Mapping[str, AccountConfig],
    report: CatalogProblems,
    *,
    declared: Sequence[str],
    multi_account: bool,
    checksum: str,
) -> LaneConfig | None:
    """One lane, or None when it has a problem; `declared` are the account labels the file declares (an
    invalid account is reported once, under the account, not again under each lane using it). The
    strategy is checked even when the lane is otherwise broken, so a desk sees those problems too."""
    where = f"lane '{name}'"
    before = len(report.found)
    if not LANE_NAME.fullmatch(name):
        report.add(
            where,
            "name",
            "must be lower-case letters, digits, '_' or '-' (at most 64), starting with a letter or digit",
        )
    lane = table(raw, report, where, "lanes")
    if lane is None:
        return None
    unknown_keys(lane, LANE_KEYS, report, where, "")
    ref = _strategy_ref(lane, report, where)
    account = _account(lane, accounts, declared, report, where)
    mode = _mode(lane, report, where)
    description = text(lane.get("description", ""), report, where, "description")
    params = _params(lane, report, where)
    research = section(lane, "research", _RESEARCH_KEYS, report, where)
    grid = _grid(research["grid"], report, where) if "grid" in research else None
    limits = {**_risk_limits(lane, report, where), **_session_limits(lane, report, where)}
    if len(report.found) > before or ref is None or account is None:
        _strategy_check(ref, params, grid, report, where)
        return None
    config = LaneConfig(
        lane=name,
        strategy_type=ref,
        account_label=account.label,
        description=description,
        equity=account.equity,
        mode=mode,
        params=tuple(sorted(params.items())),
        research_grid=None if grid is None else tuple(sorted(grid.items())),
        account_broker=account.broker,
        multi_account=multi_account,
        catalog_checksum=checksum,
        **limits,
    )
    _contradictions(config, account, report, where)
    _strategy_check(ref, params, grid, report, where)
    return config


def _strategy_ref(lane: Mapping[str, Any], report: CatalogProblems, where: str) -> str | None:
    if "strategy" not in lane:
        report.add(where, "strategy", "missing: a built-in strategy name or an import path (module:Class)")
        return None
    return string(lane["strategy"], report, where, "strategy")


def _account(
    lane: Mapping[str, Any],
    accounts: Mapping[str, AccountConfig],
    declared: Sequence[str],
    report: CatalogProblems,
    where: str,
) -> AccountConfig | None:
    """The lane's account; None when it names none, an undeclared one, or one already reported broken."""
    known = ", ".join(sorted(declared)) or "none"
    if "account" not in lane:
        report.add(where, "account", f"missing: one of the declared accounts ({known})")
        return None
    label = string(lane["account"], report, where, "account")
    if label and label not in declared:
        report.add(where, "account", f"'{label}' is not a declared account ({known})")
    return accounts.get(label) if label else None


def _mode(lane: Mapping[str, Any], report: CatalogProblems, where: str) -> LaneMode:
    mode_text = lane.get("mode", LaneMode.REPLAY.value)
    if not isinstance(mode_text, str) or mode_text.lower() not in {m.value for m in LaneMode}:
        report.add(where, "mode", f"{mode_text!r} is not one of replay, paper, live")
        return LaneMode.REPLAY
    return LaneMode(mode_text.lower())


def _params(lane: Mapping[str, Any], report: CatalogProblems, where: str) -> dict[str, float]:
    """The lane's strategy params with its sizing among them. Sizing has a section of its own so the
    order size is never mistaken for a tuning parameter, hence it may not be set in both places."""
    params = float_table(lane["params"], report, where, "params") if "params" in lane else {}
    if SIZING_PARAM in params:
        report.add(where, f"params.{SIZING_PARAM}", f"set it once, as sizing.{SIZING_PARAM}")
    sizing = section(lane, "sizing", _SIZING_KEYS, report, where)
    if SIZING_PARAM in sizing:
        size = number(sizing[SIZING_PARAM], report, where, f"sizing.{SIZING_PARAM}")
        if size is not None:
            params[SIZING_PARAM] = size
    return params


def _grid(value: object, report: CatalogProblems, where: str) -> dict[str, tuple[float, ...]] | None:
    """The lane's research grid. A repeated value would be a duplicate trial, which inflates the trial
    count deflated Sharpe corrects for, so it is refused rather than silently dropped."""
    found = table(value, report, where, "research.grid")
    if found is None:
        return None
    if not found:
        report.add(where, "research.grid", "empty: leave it out to use the strategy's default grid")
        return None
    grid: dict[str, tuple[float, ...]] = {}
    for name, raw in found.items():
        key = f"research.grid.{name}"
        if not isinstance(raw, list) or not raw:
            report.add(where, key, f"must be a non-empty list of numbers, got {type_name(raw)}")
            continue
        values = [number(v, report, where, key, minimum=-math.inf) for v in raw]
        if any(v is None for v in values):
            continue
        kept = tuple(float(v) for v in values if v is not None)
        if len(set(kept)) != len(kept):
            report.add(
                where, key, f"values repeat ({', '.join(f'{v:g}' for v in kept)}): each candidate once"
            )
            continue
        grid[name] = kept
    return grid


def _risk_limits(lane: Mapping[str, Any], report: CatalogProblems, where: str) -> dict[str, Any]:
    """The `limits` keys given, as LaneConfig fields; a key left out keeps the LaneConfig default."""
    given = section(lane, "limits", (*_LIMITS, "allow_shorts"), report, where)
    limits: dict[str, Any] = {}
    for key, rules in _LIMITS.items():
        if key in given:
            value = number(given[key], report, where, f"limits.{key}", **rules)
            if value is not None:
                limits[key] = int(value) if rules.get("integer") else value
    if "allow_shorts" in given:
        allow = flag(given["allow_shorts"], report, where, "limits.allow_shorts")
        if allow is not None:
            limits["allow_shorts"] = allow
    return limits


def _session_limits(lane: Mapping[str, Any], report: CatalogProblems, where: str) -> dict[str, int]:
    """Minutes before the close; at most a whole session, since more would reach into the previous day."""
    given = section(lane, "session", tuple(_SESSION), report, where)
    limits: dict[str, int] = {}
    for key, attr in _SESSION.items():
        if key in given:
            minutes = number(
                given[key],
                report,
                where,
                f"session.{key}",
                integer=True,
                strict=False,
                maximum=SESSION_MINUTES,
            )
            if minutes is not None:
                limits[attr] = int(minutes)
    return limits


def _strategy_check(
    ref: str | None,
    params: Mapping[str, float],
    grid: Mapping[str, Sequence[float]] | None,
    report: CatalogProblems,
    where: str,
) -> None:
    """The strategy registry's problems, each under the catalog key at fault: the reference itself, then
    the lane's params (sizing included) and its research grid against what the strategy declares."""
    if ref is None:
        return
    unusable = strategy_problems(ref, None, None)
    for problem in unusable:
        report.add(where, "strategy", problem)
    if unusable:
        return
    for problem in strategy_problems(ref, params, None):
        report.add(where, "params", problem)
    if grid is not None:
        for problem in strategy_problems(ref, None, grid):
            report.add(where, "research.grid", problem)


def _contradictions(lane: LaneConfig, account: AccountConfig, report: CatalogProblems, where: str) -> None:
    """Values each valid alone that together would make the lane refuse its own orders, or send a lane
    meant for real venues to a simulated account."""
    if lane.max_notional_per_trade > lane.max_gross_notional:
        report.add(
            where,
            "limits.max_notional_per_trade",
            f"{lane.max_notional_per_trade:g} exceeds limits.max_gross_notional {lane.max_gross_notional:g}",
        )
    position_cap = lane.max_position_pct_equity * lane.equity
    size = dict(lane.params).get(SIZING_PARAM)
    if size is not None and size > lane.max_notional_per_trade:
        report.add(
            where,
            f"sizing.{SIZING_PARAM}",
            f"{size:g} exceeds limits.max_notional_per_trade {lane.max_notional_per_trade:g}: every "
            "full-size entry would be rejected",
        )
    if size is not None and size > position_cap:
        report.add(
            where,
            f"sizing.{SIZING_PARAM}",
            f"{size:g} exceeds limits.max_position_pct_equity x equity = {position_cap:g} (account "
            f"'{account.label}'): every full-size entry would be rejected",
        )
    if lane.session_close_entry_block_minutes < lane.session_close_flatten_minutes:
        report.add(
            where,
            "session.close_entry_block_minutes",
            f"{lane.session_close_entry_block_minutes} is less than session.close_flatten_minutes "
            f"{lane.session_close_flatten_minutes}: entries would open after the lane flattened",
        )
    if lane.mode.reaches_real_venues and account.broker == AccountBroker.NONE:
        report.add(
            where,
            "mode",
            f"'{lane.mode.value}' reaches real venues but account '{account.label}' has broker = 'none' "
            "(simulated only): bind the account to a broker or keep the lane in replay",
        )


def _strategy_identity(lane: LaneConfig) -> tuple[object, ...] | None:
    """What the lane's decisions are keyed on besides the order: the account, the strategy id (reference,
    version) and the params in effect."""
    try:
        spec = lane_strategy(lane)
    except StrategyLoadError:
        return None
    return (lane.account_label, spec.strategy_id, spec.params)


def same_decisions(lanes: Mapping[str, LaneConfig], report: CatalogProblems) -> None:
    """Two lanes trading one strategy with one parameter set on one account would plan decisions with the
    same hash, the broker's client_order_id: the second lane's orders would be taken for the first's."""
    seen: dict[tuple[object, ...], str] = {}
    for name in sorted(lanes):
        identity = _strategy_identity(lanes[name])
        if identity is None:
            continue
        if identity in seen:
            report.add(
                f"lane '{name}'",
                "account",
                f"lane '{seen[identity]}' already trades this strategy with these parameters on account "
                f"'{lanes[name].account_label}': their decisions would share hashes (client order ids); "
                "give one another account or other parameters",
            )
        else:
            seen[identity] = name


__all__ = ["LANE_KEYS", "parse_lane", "same_decisions"]
