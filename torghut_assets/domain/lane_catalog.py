"""The lane catalog: the desk's lanes, strategies, accounts and limits, declared in one versioned file.

A desk adds a lane, tries its own strategy, sizes to its account or runs a second account by editing the
catalog (TOML, docs/lane-catalog.md), not the package. This module is the pure half: bytes in, a typed
`LaneCatalog` out, or a `CatalogError` naming every problem at once, each as
`<file>: lane '<lane>': <key>: <problem>` (`account '<label>'` for an account, the bare key for the
top level). Reading the file, and which file, is `torghut_assets/catalog_loader.py`.

The checksum is the sha256 of the file's bytes, so `sha256sum` of the deployed file is the value the
ledger rows record (trade decisions, research runs).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from torghut_assets.domain.config_problems import ConfigProblems
from torghut_assets.domain.lanes import BROKER_ALPACA, BROKER_NONE, LaneConfig, LaneMode
from torghut_assets.domain.research_evaluation import ResearchSettings
from torghut_assets.domain.strategies import StrategySpec, default_strategy, parameter_grid
from torghut_assets.domain.strategy_registry import StrategyLoadError, strategy_problems

DEFAULT_WINDOW_START = "2026-01-05-00:00"
WINDOW_START_FORMAT = "%Y-%m-%d-%H:%M"
BROKERS = (BROKER_ALPACA, BROKER_NONE)
SIZING_PARAM = "notional_per_trade"
SESSION_MINUTES = 390  # a regular NYSE session
# Lane names become partition keys, run tags and `lane` column values (64 characters).
LANE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
ACCOUNT_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

_TOP_KEYS = ("version", "multi_account", "windows", "accounts", "lanes", "retired")
_WINDOW_KEYS = ("start_date",)
_ACCOUNT_KEYS = ("equity", "broker", "description")
_LANE_KEYS = (
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
_DEFAULTS = LaneConfig(lane="-", strategy_type="-")


class CatalogError(ConfigProblems):
    """The catalog is unusable; `problems` lists every problem found, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("lane catalog", problems)


@dataclass(frozen=True)
class AccountConfig:
    """A trading account label. `equity` is its simulated account's; `broker` `alpaca` binds the label to
    the deployment's Alpaca account (equity, buying power and positions come from there whenever Alpaca
    keys are configured), `none` keeps it simulated."""

    label: str
    equity: float
    broker: str = BROKER_NONE
    description: str = ""


@dataclass(frozen=True)
class LaneCatalog:
    source: str
    version: str
    checksum: str
    window_start: str  # the first hourly window, `YYYY-MM-DD-HH:MM` UTC (the partition start)
    multi_account: bool
    accounts: Mapping[str, AccountConfig]
    lanes: Mapping[str, LaneConfig]
    retired: tuple[str, ...] = ()

    @property
    def broker_account(self) -> str | None:
        """The label bound to the configured Alpaca account, if any."""
        bound = [a.label for a in self.accounts.values() if a.broker == BROKER_ALPACA]
        return bound[0] if bound else None


@dataclass
class _Problems:
    source: str
    found: list[str] = field(default_factory=list)

    def add(self, where: str | None, key: str, problem: str) -> None:
        self.found.append(
            f"{self.source}: {where}: {key}: {problem}" if where else f"{self.source}: {key}: {problem}"
        )


def _type_name(value: object) -> str:
    return {bool: "a boolean", str: "a string", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__
    )


def _table(value: object, report: _Problems, where: str | None, key: str) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    report.add(where, key, f"must be a table, got {_type_name(value)}")
    return None


def _unknown(
    table: Mapping[str, Any], known: Sequence[str], report: _Problems, where: str | None, prefix: str
) -> None:
    for key in sorted(set(table) - set(known)):
        report.add(where, f"{prefix}{key}", f"unknown key (known: {', '.join(known)})")


def _number(
    value: object,
    report: _Problems,
    where: str | None,
    key: str,
    *,
    integer: bool = False,
    minimum: float = 0.0,
    strict: bool = True,
    maximum: float | None = None,
) -> float | None:
    """A finite number (an integral one when `integer`) within [minimum, maximum] (> minimum when strict)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        report.add(where, key, f"must be {'an integer' if integer else 'a number'}, got {_type_name(value)}")
        return None
    number = float(value)
    if not math.isfinite(number):
        report.add(where, key, f"must be finite, got {value!r}")
        return None
    if integer and not number.is_integer():
        report.add(where, key, f"must be a whole number, got {value!r}")
        return None
    if number < minimum or (strict and number == minimum):
        report.add(where, key, f"must be {'>' if strict else '>='} {minimum:g}, got {value!r}")
        return None
    if maximum is not None and number > maximum:
        report.add(where, key, f"must be at most {maximum:g}, got {value!r}")
        return None
    return number


def _string(value: object, report: _Problems, where: str | None, key: str) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    report.add(
        where,
        key,
        f"must be a non-empty string, got {'an empty one' if isinstance(value, str) else _type_name(value)}",
    )
    return None


def _window_start(value: object, report: _Problems) -> str:
    key = "windows.start_date"
    moment: dt.datetime | None = None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None and value.utcoffset() != dt.timedelta(0):
            report.add(None, key, f"must be UTC, got offset {value.utcoffset()}")
            return DEFAULT_WINDOW_START
        moment = value.replace(tzinfo=None)
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        for form in ("%Y-%m-%d", WINDOW_START_FORMAT, "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
            try:
                moment = dt.datetime.strptime(value.strip().removesuffix("Z"), form)
                break
            except ValueError:
                continue
        if moment is None:
            report.add(None, key, f"{value!r} is not a date (YYYY-MM-DD) or an hour (YYYY-MM-DD-HH:MM, UTC)")
            return DEFAULT_WINDOW_START
    else:
        report.add(None, key, f"must be a date, got {_type_name(value)}")
        return DEFAULT_WINDOW_START
    if moment.minute or moment.second or moment.microsecond:
        report.add(None, key, f"{moment.isoformat()} is not on the hour: windows are hourly")
        return DEFAULT_WINDOW_START
    return moment.strftime(WINDOW_START_FORMAT)


def _version(value: object, report: _Problems) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    report.add(None, "version", f"must be a non-empty string or a whole number >= 0, got {value!r}")
    return ""


def _accounts(value: object, report: _Problems) -> dict[str, AccountConfig]:
    table = _table(value, report, None, "accounts")
    if table is None:
        return {}
    if not table:
        report.add(None, "accounts", "no account declared: a lane trades on an account label")
    accounts: dict[str, AccountConfig] = {}
    for label, raw in table.items():
        where = f"account '{label}'"
        if not ACCOUNT_LABEL.fullmatch(label):
            report.add(where, "label", "must be letters, digits, '_', '.', '-' (at most 64)")
        entry = _table(raw, report, where, "accounts")
        if entry is None:
            continue
        _unknown(entry, _ACCOUNT_KEYS, report, where, "")
        equity = None
        if "equity" not in entry:
            report.add(where, "equity", "missing: the simulated account's equity (sizing and limits)")
        else:
            equity = _number(entry["equity"], report, where, "equity")
        broker = entry.get("broker", BROKER_NONE)
        if broker not in BROKERS:
            report.add(where, "broker", f"{broker!r} is not one of {', '.join(map(repr, BROKERS))}")
            broker = BROKER_NONE
        description = entry.get("description", "")
        if not isinstance(description, str):
            report.add(where, "description", f"must be a string, got {_type_name(description)}")
            description = ""
        if equity is not None:
            accounts[label] = AccountConfig(label, equity, str(broker), description)
    bound = sorted(label for label, a in accounts.items() if a.broker == BROKER_ALPACA)
    for label in bound[1:]:
        report.add(
            f"account '{label}'",
            "broker",
            f"'alpaca' already backs account '{bound[0]}': the deployment's one set of Alpaca keys is one "
            "account, so a second label on it would mix both labels' positions",
        )
    return accounts


def _float_table(value: object, report: _Problems, where: str, key: str) -> dict[str, float]:
    table = _table(value, report, where, key)
    out: dict[str, float] = {}
    for name, raw in (table or {}).items():
        number = _number(raw, report, where, f"{key}.{name}", minimum=-math.inf)
        if number is not None:
            out[name] = number
    return out


def _grid(value: object, report: _Problems, where: str) -> dict[str, tuple[float, ...]] | None:
    table = _table(value, report, where, "research.grid")
    if table is None:
        return None
    if not table:
        report.add(where, "research.grid", "empty: leave it out to use the strategy's default grid")
        return None
    grid: dict[str, tuple[float, ...]] = {}
    for name, raw in table.items():
        key = f"research.grid.{name}"
        if not isinstance(raw, list) or not raw:
            report.add(where, key, f"must be a non-empty list of numbers, got {_type_name(raw)}")
            continue
        values = [_number(v, report, where, key, minimum=-math.inf) for v in raw]
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


def _section(
    lane: Mapping[str, Any], name: str, known: Sequence[str], report: _Problems, where: str
) -> dict[str, Any]:
    if name not in lane:
        return {}
    table = _table(lane[name], report, where, name)
    if table is None:
        return {}
    _unknown(table, known, report, where, f"{name}.")
    return table


_LIMITS: dict[str, dict[str, Any]] = {
    "max_notional_per_trade": {},
    "max_position_pct_equity": {"maximum": 1.0},
    "max_gross_notional": {},
    "max_open_positions": {"integer": True, "minimum": 1.0, "strict": False},
}
_SESSION = {
    "close_flatten_minutes": "session_close_flatten_minutes",
    "close_entry_block_minutes": "session_close_entry_block_minutes",
}


def _lane(
    name: str,
    raw: object,
    accounts: Mapping[str, AccountConfig],
    report: _Problems,
    *,
    declared: Sequence[str],
    multi_account: bool,
    checksum: str,
) -> LaneConfig | None:
    """One lane; `declared` are the account labels the file declares (an invalid account is reported
    once, under the account, not again under each lane using it)."""
    where = f"lane '{name}'"
    before = len(report.found)
    if not LANE_NAME.fullmatch(name):
        report.add(
            where,
            "name",
            "must be lower-case letters, digits, '_' or '-' (at most 64), starting with a letter or digit",
        )
    lane = _table(raw, report, where, "lanes")
    if lane is None:
        return None
    _unknown(lane, _LANE_KEYS, report, where, "")
    ref = _string(lane["strategy"], report, where, "strategy") if "strategy" in lane else None
    if "strategy" not in lane:
        report.add(where, "strategy", "missing: a built-in strategy name or an import path (module:Class)")
    label = _string(lane["account"], report, where, "account") if "account" in lane else None
    if "account" not in lane:
        report.add(
            where,
            "account",
            f"missing: one of the declared accounts ({', '.join(sorted(declared)) or 'none'})",
        )
    account = accounts.get(label) if label else None
    if label and label not in declared:
        report.add(
            where, "account", f"'{label}' is not a declared account ({', '.join(sorted(declared)) or 'none'})"
        )
    mode_text = lane.get("mode", LaneMode.REPLAY.value)
    mode = LaneMode.REPLAY
    if not isinstance(mode_text, str) or mode_text.lower() not in {m.value for m in LaneMode}:
        report.add(where, "mode", f"{mode_text!r} is not one of replay, paper, live")
    else:
        mode = LaneMode(mode_text.lower())
    description = lane.get("description", "")
    if not isinstance(description, str):
        report.add(where, "description", f"must be a string, got {_type_name(description)}")
        description = ""
    params = _float_table(lane["params"], report, where, "params") if "params" in lane else {}
    if SIZING_PARAM in params:
        report.add(where, f"params.{SIZING_PARAM}", f"set it once, as sizing.{SIZING_PARAM}")
    sizing = _section(lane, "sizing", _SIZING_KEYS, report, where)
    if SIZING_PARAM in sizing:
        size = _number(sizing[SIZING_PARAM], report, where, f"sizing.{SIZING_PARAM}")
        if size is not None:
            params[SIZING_PARAM] = size
    research = _section(lane, "research", _RESEARCH_KEYS, report, where)
    grid = _grid(research["grid"], report, where) if "grid" in research else None
    limits_in = _section(lane, "limits", (*_LIMITS, "allow_shorts"), report, where)
    limits: dict[str, Any] = {}
    for key, rules in _LIMITS.items():
        if key in limits_in:
            value = _number(limits_in[key], report, where, f"limits.{key}", **rules)
            if value is not None:
                limits[key] = int(value) if rules.get("integer") else value
    if "allow_shorts" in limits_in:
        if isinstance(limits_in["allow_shorts"], bool):
            limits["allow_shorts"] = limits_in["allow_shorts"]
        else:
            report.add(
                where,
                "limits.allow_shorts",
                f"must be true or false, got {_type_name(limits_in['allow_shorts'])}",
            )
    session_in = _section(lane, "session", tuple(_SESSION), report, where)
    for key, attr in _SESSION.items():
        if key in session_in:
            minutes = _number(
                session_in[key],
                report,
                where,
                f"session.{key}",
                integer=True,
                strict=False,
                maximum=SESSION_MINUTES,
            )
            if minutes is not None:
                limits[attr] = int(minutes)
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


def _strategy_check(
    ref: str | None,
    params: Mapping[str, float],
    grid: Mapping[str, Sequence[float]] | None,
    report: _Problems,
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


def _contradictions(lane: LaneConfig, account: AccountConfig, report: _Problems, where: str) -> None:
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
    if lane.mode.reaches_real_venues and account.broker == BROKER_NONE:
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


def _same_decisions(lanes: Mapping[str, LaneConfig], report: _Problems) -> None:
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


def catalog_from_mapping(data: Mapping[str, Any], *, source: str, checksum: str) -> LaneCatalog:
    """Validate a parsed catalog; raise `CatalogError` listing every problem."""
    report = _Problems(source)
    _unknown(data, _TOP_KEYS, report, None, "")
    version = _version(data["version"], report) if "version" in data else ""
    if "version" not in data:
        report.add(
            None,
            "version",
            "missing: the catalog's own version (a string or a number), bumped on every change",
        )
    multi_account = data.get("multi_account", True)
    if not isinstance(multi_account, bool):
        report.add(None, "multi_account", f"must be true or false, got {_type_name(multi_account)}")
        multi_account = True
    window_start = DEFAULT_WINDOW_START
    windows = _table(data.get("windows", {}), report, None, "windows") or {}
    _unknown(windows, _WINDOW_KEYS, report, None, "windows.")
    if "start_date" in windows:
        window_start = _window_start(windows["start_date"], report)
    accounts = _accounts(data["accounts"], report) if "accounts" in data else {}
    declared = sorted(data["accounts"]) if isinstance(data.get("accounts"), dict) else []
    if "accounts" not in data:
        report.add(None, "accounts", "missing: at least one [accounts.<label>] with its equity")
    if not multi_account and len(accounts) > 1:
        report.add(
            None,
            "multi_account",
            f"false with {len(accounts)} accounts ({', '.join(sorted(accounts))}): without the label in the "
            "decision hash two accounts on one strategy would send the same client_order_id; set "
            "multi_account = true or keep one account",
        )
    retired_raw = data.get("retired", [])
    retired: tuple[str, ...] = ()
    if not isinstance(retired_raw, list) or not all(isinstance(r, str) for r in retired_raw):
        report.add(None, "retired", "must be a list of lane names")
    else:
        retired = tuple(sorted(set(retired_raw)))
    lanes_raw = _table(data["lanes"], report, None, "lanes") if "lanes" in data else None
    if "lanes" not in data or lanes_raw == {}:
        report.add(None, "lanes", "no lane declared: at least one [lanes.<name>]")
    lanes: dict[str, LaneConfig] = {}
    for name, raw in sorted((lanes_raw or {}).items()):
        if name in retired:
            report.add(
                f"lane '{name}'",
                "retired",
                "the name of a retired lane cannot be reused: its ledger history stays under that name; "
                "choose a new name",
            )
        config = _lane(
            name, raw, accounts, report, declared=declared, multi_account=multi_account, checksum=checksum
        )
        if config is not None:
            lanes[name] = config
    _same_decisions(lanes, report)
    if report.found:
        raise CatalogError(report.found)
    return LaneCatalog(
        source=source,
        version=version,
        checksum=checksum,
        window_start=window_start,
        multi_account=multi_account,
        accounts=MappingProxyType(dict(sorted(accounts.items()))),
        lanes=MappingProxyType(lanes),
        retired=retired,
    )


def checksum_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_catalog(data: bytes, source: str) -> LaneCatalog:
    """The catalog file's bytes (TOML) → a validated `LaneCatalog`, checksummed over those bytes."""
    try:
        parsed = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CatalogError([f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError([f"{source}: not valid TOML: {exc}"]) from exc
    return catalog_from_mapping(parsed, source=source, checksum=checksum_of(data))


def lane_strategy(lane: LaneConfig) -> StrategySpec:
    """The strategy the lane trades by default: its strategy's defaults with the lane's params over them."""
    return default_strategy(lane.strategy_type, dict(lane.params) or None)


def lane_research_settings(settings: ResearchSettings, lane: LaneConfig) -> ResearchSettings:
    """The research settings of the lane's windows: a grid given to the research resource (run config)
    wins, else the lane's `research.grid`, else (grid None) the strategy's default grid. The grid is
    part of the settings' checksum, so it is part of the run id and of `runner_binary_hash`."""
    if settings.grid is not None or lane.research_grid is None:
        return settings
    return dataclasses.replace(settings, grid=lane.research_grid)


def lane_candidates(lane: LaneConfig, settings: ResearchSettings) -> list[StrategySpec]:
    """Every candidate the lane's research tries: the lane's strategy (its params over the defaults)
    varied over the lane's grid; losers included, deflated Sharpe needs all trials."""
    return parameter_grid(lane_strategy(lane), lane_research_settings(settings, lane).grid_mapping())


__all__ = [
    "DEFAULT_WINDOW_START",
    "AccountConfig",
    "CatalogError",
    "LaneCatalog",
    "catalog_from_mapping",
    "checksum_of",
    "lane_candidates",
    "lane_research_settings",
    "lane_strategy",
    "parse_catalog",
]
