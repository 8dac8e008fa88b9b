"""The lane catalog file's bytes → a validated `LaneCatalog`, or a `CatalogError` naming every problem
(docs/lane-catalog.md). This module reads the top level (version, windows, accounts, retired names) and
hands each lane to `lane_catalog_lanes`; reading the file, and which file, is
`torghut_assets/catalog_loader.py`.

Why the checksum is over the bytes: `sha256sum` of the deployed file is then the very value the ledger
rows record (trade decisions, research runs), so an operator can tell which catalog shaped a decision
without running any of this code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from torghut_assets.domain.lane_catalog import (
    ACCOUNT_LABEL,
    BROKERS,
    DEFAULT_WINDOW_START,
    WINDOW_START_FORMAT,
    AccountConfig,
    CatalogError,
    LaneCatalog,
)
from torghut_assets.domain.lane_catalog_fields import (
    CatalogProblems,
    flag,
    number,
    table,
    text,
    type_name,
    unknown_keys,
)
from torghut_assets.domain.lane_catalog_lanes import parse_lane, same_decisions
from torghut_assets.domain.lanes import AccountBroker, LaneConfig

_TOP_KEYS = ("version", "multi_account", "windows", "accounts", "lanes", "retired")
_WINDOW_KEYS = ("start_date",)
_ACCOUNT_KEYS = ("equity", "broker", "description")
# TOML dates and the hour forms a desk is likely to write; all read as UTC.
_WINDOW_START_FORMS = ("%Y-%m-%d", WINDOW_START_FORMAT, "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


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


def catalog_from_mapping(data: Mapping[str, Any], *, source: str, checksum: str) -> LaneCatalog:
    """Validate a parsed catalog; raise `CatalogError` listing every problem."""
    report = CatalogProblems(source)
    unknown_keys(data, _TOP_KEYS, report, None, "")
    version = _version(data, report)
    multi_account = _multi_account(data, report)
    window_start = _windows(data, report)
    accounts = _accounts(data, report, multi_account)
    retired = _retired(data, report)
    declared = sorted(data["accounts"]) if isinstance(data.get("accounts"), dict) else []
    lanes = _lanes(data, report, accounts, declared, retired, multi_account=multi_account, checksum=checksum)
    same_decisions(lanes, report)
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


def _version(data: Mapping[str, Any], report: CatalogProblems) -> str:
    """The catalog's own version, so a reviewer can tell two deployed catalogs apart at a glance."""
    if "version" not in data:
        report.add(
            None,
            "version",
            "missing: the catalog's own version (a string or a number), bumped on every change",
        )
        return ""
    value = data["version"]
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    report.add(None, "version", f"must be a non-empty string or a whole number >= 0, got {value!r}")
    return ""


def _multi_account(data: Mapping[str, Any], report: CatalogProblems) -> bool:
    if "multi_account" not in data:
        return True
    found = flag(data["multi_account"], report, None, "multi_account")
    return True if found is None else found


def _windows(data: Mapping[str, Any], report: CatalogProblems) -> str:
    windows = table(data.get("windows", {}), report, None, "windows") or {}
    unknown_keys(windows, _WINDOW_KEYS, report, None, "windows.")
    if "start_date" in windows:
        return _window_start(windows["start_date"], report)
    return DEFAULT_WINDOW_START


def _window_start(value: object, report: CatalogProblems) -> str:
    """The first hourly window, UTC and on the hour: it is the start of the lane partitions, and a
    partition that did not start on the hour would never line up with a market hour."""
    key = "windows.start_date"
    moment = _moment(value, report, key)
    if moment is None:
        return DEFAULT_WINDOW_START
    if moment.minute or moment.second or moment.microsecond:
        report.add(None, key, f"{moment.isoformat()} is not on the hour: windows are hourly")
        return DEFAULT_WINDOW_START
    return moment.strftime(WINDOW_START_FORMAT)


def _moment(value: object, report: CatalogProblems, key: str) -> dt.datetime | None:
    """A naive UTC datetime from a TOML datetime, date or string; None (reported) when it is none."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None and value.utcoffset() != dt.timedelta(0):
            report.add(None, key, f"must be UTC, got offset {value.utcoffset()}")
            return None
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, str):
        report.add(None, key, f"must be a date, got {type_name(value)}")
        return None
    for form in _WINDOW_START_FORMS:
        try:
            return dt.datetime.strptime(value.strip().removesuffix("Z"), form)
        except ValueError:
            continue
    report.add(None, key, f"{value!r} is not a date (YYYY-MM-DD) or an hour (YYYY-MM-DD-HH:MM, UTC)")
    return None


def _accounts(
    data: Mapping[str, Any], report: CatalogProblems, multi_account: bool
) -> dict[str, AccountConfig]:
    """Every usable account, with the rules between accounts: one Alpaca binding, and one account unless
    the account label is part of the decision hash."""
    if "accounts" not in data:
        report.add(None, "accounts", "missing: at least one [accounts.<label>] with its equity")
        return {}
    found = table(data["accounts"], report, None, "accounts")
    if found is None:
        return {}
    if not found:
        report.add(None, "accounts", "no account declared: a lane trades on an account label")
    accounts: dict[str, AccountConfig] = {}
    for label, raw in found.items():
        account = _account(label, raw, report)
        if account is not None:
            accounts[label] = account
    _one_alpaca_account(accounts, report)
    if not multi_account and len(accounts) > 1:
        report.add(
            None,
            "multi_account",
            f"false with {len(accounts)} accounts ({', '.join(sorted(accounts))}): without the label in the "
            "decision hash two accounts on one strategy would send the same client_order_id; set "
            "multi_account = true or keep one account",
        )
    return accounts


def _account(label: str, raw: object, report: CatalogProblems) -> AccountConfig | None:
    """One `[accounts.<label>]`; None when its equity is missing or unusable (lanes size from it)."""
    where = f"account '{label}'"
    if not ACCOUNT_LABEL.fullmatch(label):
        report.add(where, "label", "must be letters, digits, '_', '.', '-' (at most 64)")
    entry = table(raw, report, where, "accounts")
    if entry is None:
        return None
    unknown_keys(entry, _ACCOUNT_KEYS, report, where, "")
    equity = None
    if "equity" not in entry:
        report.add(where, "equity", "missing: the simulated account's equity (sizing and limits)")
    else:
        equity = number(entry["equity"], report, where, "equity")
    broker = entry.get("broker", AccountBroker.NONE.value)
    if broker not in BROKERS:
        report.add(where, "broker", f"{broker!r} is not one of {', '.join(repr(b.value) for b in BROKERS)}")
        broker = AccountBroker.NONE.value
    description = text(entry.get("description", ""), report, where, "description")
    if equity is None:
        return None
    return AccountConfig(label, equity, AccountBroker(broker), description)


def _one_alpaca_account(accounts: Mapping[str, AccountConfig], report: CatalogProblems) -> None:
    bound = sorted(label for label, a in accounts.items() if a.broker == AccountBroker.ALPACA)
    for label in bound[1:]:
        report.add(
            f"account '{label}'",
            "broker",
            f"'alpaca' already backs account '{bound[0]}': the deployment's one set of Alpaca keys is one "
            "account, so a second label on it would mix both labels' positions",
        )


def _retired(data: Mapping[str, Any], report: CatalogProblems) -> tuple[str, ...]:
    """Names of removed lanes: their ledger history stays under the name, so it can never be reused."""
    raw = data.get("retired", [])
    if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
        report.add(None, "retired", "must be a list of lane names")
        return ()
    return tuple(sorted(set(raw)))


def _lanes(
    data: Mapping[str, Any],
    report: CatalogProblems,
    accounts: Mapping[str, AccountConfig],
    declared: list[str],
    retired: tuple[str, ...],
    *,
    multi_account: bool,
    checksum: str,
) -> dict[str, LaneConfig]:
    """Every usable lane, in name order; a broken one is reported and left out."""
    found = table(data["lanes"], report, None, "lanes") if "lanes" in data else None
    if "lanes" not in data or found == {}:
        report.add(None, "lanes", "no lane declared: at least one [lanes.<name>]")
    lanes: dict[str, LaneConfig] = {}
    for name, raw in sorted((found or {}).items()):
        if name in retired:
            report.add(
                f"lane '{name}'",
                "retired",
                "the name of a retired lane cannot be reused: its ledger history stays under that name; "
                "choose a new name",
            )
        config = parse_lane(
            name, raw, accounts, report, declared=declared, multi_account=multi_account, checksum=checksum
        )
        if config is not None:
            lanes[name] = config
    return lanes


__all__ = ["catalog_from_mapping", "checksum_of", "parse_catalog"]
