"""Table contracts: every table the lane-window assets write, declared once.

A `TableContract` says what a table means, which columns make a row's natural key, what every column
means, which values it may hold (not null, one of a set, a range, a sha256 digest, a UTC timestamp, a
JSON document, ...) and what it refers to (`column → table.column`, logical foreign keys). Everything
else is generated from these declarations, in the manner of PUDL's table metadata:

- the blocking per-partition asset check of each lane-window asset (`defs/lane_window/table_checks.py`,
  evaluated by `ledger/table_contract_checks.py` on the partition's rows);
- the nightly great-expectations suites: the rules marked `at_rest=True` render as
  `ledger/quality_suites/<table>.json` (`suite_document`); a test fails when a file and its contract
  disagree, and `python -m torghut_assets.ledger.table_contracts` rewrites the files that do;
- the logical foreign keys the nightly reconciliation resolves (`reconciled_links`, the references
  declared `reconciled=True`);
- what makes a row auditable (`audit_rules`: the rules declared `audit=True`, here and for the two
  governance tables `gate_evaluations` and `rollback_incidents`), which every writer enforces and the
  nightly `audit_rows_complete` check judges (`ledger/audit_rules.py`);
- the data dictionary `docs/data-dictionary.md` (`render_data_dictionary`).

Column names are exactly those of `ledger/schema.py`; tests keep both in step (every contract column
exists in the schema, every schema column of a contracted table is described here, and a column the
schema declares NOT NULL is not-null here; a contract may be stricter than the DDL, never looser).
Value rules skip NULL (as great-expectations' map expectations do); only `NotNull` judges NULL.

Regenerate the data dictionary and the suites: `make data-dictionary`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from torghut_assets.domain.gates import TARGET_MODES
from torghut_assets.domain.llm_advisory import (
    ERROR_KINDS,
    OUTCOME_REFUSAL,
    VERDICT_ERROR,
    VERDICT_REFUSAL,
    VERDICTS,
    AdvisoryAction,
    RolloutStage,
)
from torghut_assets.domain.promotion import APPROVER_ROLE as SCHEDULER_ROLE
from torghut_assets.domain.stages import Stage
from torghut_assets.domain.stress import STRESS_CASES
from torghut_assets.domain.universe_policy import SYMBOL_PATTERN

Severity = Literal["error", "warn"]
JsonShape = Literal["object", "array", "any"]

SHA256_REGEX = "^[0-9a-f]{64}$"
SYMBOL_REGEX = rf"^(?:{SYMBOL_PATTERN.pattern})$"
DICTIONARY_PATH = Path("docs") / "data-dictionary.md"


# --- rules -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One value rule. `at_rest`: also an expectation of the table's nightly great-expectations suite
    (`why` becomes its `meta.why`). `severity`: a `warn` violation is reported without failing the
    blocking partition check (for values an outside system chooses, such as a broker's order status).
    `audit`: part of what makes the row auditable (`audit_rules`): a writer refuses a row breaking it,
    and the nightly `audit_rows_complete` check names every stored row that does."""

    at_rest: bool = False
    why: str | None = None
    severity: Severity = "error"
    audit: bool = False

    @property
    def name(self) -> str:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class ColumnRule(Rule):
    """A rule on one column's values; NULL passes every column rule but `NotNull`."""

    def violated(self, value: Any, row: Mapping[str, Any]) -> bool:
        return value is not None and self.bad(value)

    def bad(self, value: Any) -> bool:
        raise NotImplementedError

    def expectation(self, column: str) -> tuple[str, dict[str, Any]] | None:
        """(great-expectations type, kwargs), or None when GX has no expectation for the rule."""
        return None


@dataclass(frozen=True)
class NotNull(ColumnRule):
    """Never NULL; with `when=(column, value)` only on rows where that column holds that value."""

    when: tuple[str, Any] | None = None

    @property
    def name(self) -> str:
        return "not_null"

    def describe(self) -> str:
        if self.when is None:
            return "not null"
        return f"not null when `{self.when[0]}` = {_literal(self.when[1])}"

    def violated(self, value: Any, row: Mapping[str, Any]) -> bool:
        return value is None and (self.when is None or row.get(self.when[0]) == self.when[1])

    def expectation(self, column: str) -> tuple[str, dict[str, Any]] | None:
        kwargs: dict[str, Any] = {"column": column}
        if self.when is not None:
            kwargs["row_condition"] = {
                "type": "comparison",
                "column": {"name": self.when[0]},
                "operator": "==",
                "parameter": self.when[1],
            }
        return "expect_column_values_to_not_be_null", kwargs


@dataclass(frozen=True)
class NotEmpty(ColumnRule):
    """Says something: no blank text, no empty JSON object or array, no blank text in an array; NULL
    fails too unless `nullable` (then NULL passes, as it does every other value rule). With
    `when=(column, value)` it applies only to rows where that column holds that value. No
    great-expectations form: the nightly `audit_rows_complete` check judges it instead."""

    nullable: bool = False
    when: tuple[str, Any] | None = None

    @property
    def name(self) -> str:
        return "not_empty"

    def describe(self) -> str:
        text = "not empty when present" if self.nullable else "not empty"
        return text if self.when is None else f"{text} when `{self.when[0]}` = {_literal(self.when[1])}"

    def violated(self, value: Any, row: Mapping[str, Any]) -> bool:
        if self.when is not None and row.get(self.when[0]) != self.when[1]:
            return False
        if value is None:
            return not self.nullable
        return self.bad(value)

    def bad(self, value: Any) -> bool:
        if isinstance(value, str):
            return not value.strip()
        if isinstance(value, Mapping):
            return not value
        if isinstance(value, list | tuple):
            return not value or any(isinstance(item, str) and not item.strip() for item in value)
        return False


@dataclass(frozen=True)
class OneOf(ColumnRule):
    values: tuple[Any, ...]

    @property
    def name(self) -> str:
        return "allowed_values"

    def describe(self) -> str:
        return "one of " + ", ".join(_literal(v) for v in self.values)

    def bad(self, value: Any) -> bool:
        return value not in self.values

    def expectation(self, column: str) -> tuple[str, dict[str, Any]] | None:
        return "expect_column_values_to_be_in_set", {"column": column, "value_set": list(self.values)}


@dataclass(frozen=True)
class NoneOf(ColumnRule):
    values: tuple[Any, ...]

    @property
    def name(self) -> str:
        return "forbidden_values"

    def describe(self) -> str:
        return "never " + ", ".join(_literal(v) for v in self.values)

    def bad(self, value: Any) -> bool:
        return value in self.values

    def expectation(self, column: str) -> tuple[str, dict[str, Any]] | None:
        return "expect_column_values_to_not_be_in_set", {"column": column, "value_set": list(self.values)}


@dataclass(frozen=True)
class Range(ColumnRule):
    """A finite number within [min, max] (bounds left out are open; `strict_*` excludes the bound)."""

    min: float | None = None
    max: float | None = None
    strict_min: bool = False
    strict_max: bool = False

    @property
    def name(self) -> str:
        if self.min == 0 and self.max is None:
            return "positive" if self.strict_min else "non_negative"
        return "range"

    def describe(self) -> str:
        below = "<" if self.strict_min else "≤"
        above = "<" if self.strict_max else "≤"
        if self.min is not None and self.max is not None:
            return f"{_number(self.min)} {below} x {above} {_number(self.max)}"
        if self.min is not None:
            return f"{'>' if self.strict_min else '≥'} {_number(self.min)}"
        if self.max is not None:
            return f"{above} {_number(self.max)}"
        return "a finite number"

    def bad(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return True
        if self.min is not None and (value < self.min or (self.strict_min and value == self.min)):
            return True
        return self.max is not None and (value > self.max or (self.strict_max and value == self.max))

    def expectation(self, column: str) -> tuple[str, dict[str, Any]] | None:
        kwargs: dict[str, Any] = {"column": column}
        if self.min is not None:
            kwargs["min_value"] = self.min
        if self.max is not None:
            kwargs["max_value"] = self.max
        if self.strict_min:
            kwargs["strict_min"] = True
        if self.strict_max:
            kwargs["strict_max"] = True
        return "expect_column_values_to_be_between", kwargs


@dataclass(frozen=True)
class Pattern(ColumnRule):
    """A string the regular expression finds (anchor it); `label` names well-known shapes."""

    regex: str
    label: str = "pattern"

    @property
    def name(self) -> str:
        return self.label

    def describe(self) -> str:
        if self.regex == SHA256_REGEX:
            return "sha256 hex digest (64 lowercase hex characters)"
        return f"matches `{self.regex}`"

    def bad(self, value: Any) -> bool:
        return not isinstance(value, str) or re.search(self.regex, value) is None

    def expectation(self, column: str) -> tuple[str, dict[str, Any]] | None:
        return "expect_column_values_to_match_regex", {"column": column, "regex": self.regex}


@dataclass(frozen=True)
class Timestamp(ColumnRule):
    """A UTC-aware instant: a timezone-aware datetime, or an ISO 8601 string with an offset."""

    @property
    def name(self) -> str:
        return "iso_timestamp"

    def describe(self) -> str:
        return "UTC timestamp (ISO 8601)"

    def bad(self, value: Any) -> bool:
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                return True
        return not isinstance(value, dt.datetime) or value.utcoffset() is None


@dataclass(frozen=True)
class Json(ColumnRule):
    """A JSON document of the given shape, without NaN or infinities."""

    shape: JsonShape = "any"

    @property
    def name(self) -> str:
        return "json"

    def describe(self) -> str:
        return {"object": "JSON object", "array": "JSON array", "any": "JSON"}[self.shape]

    def bad(self, value: Any) -> bool:
        if self.shape == "object" and not isinstance(value, dict):
            return True
        if self.shape == "array" and not isinstance(value, list):
            return True
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            return True
        return False


@dataclass(frozen=True)
class Unique(ColumnRule):
    """No two rows share the value (judged over the rows at hand: a partition, or the whole table)."""

    @property
    def name(self) -> str:
        return "unique"

    def describe(self) -> str:
        return "unique"

    def bad(self, value: Any) -> bool:
        return False  # a property of the rows together: see `ledger/table_contract_checks.py`

    def expectation(self, column: str) -> tuple[str, dict[str, Any]] | None:
        return "expect_column_values_to_be_unique", {"column": column}


@dataclass(frozen=True)
class NotBefore(Rule):
    """Row rule: `column` ≥ `other` (> with `or_equal=False`); rows where either is NULL pass."""

    column: str
    other: str
    or_equal: bool = True

    @property
    def name(self) -> str:
        return "ordered"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column, self.other)

    def describe(self) -> str:
        return f"`{self.column}` {'≥' if self.or_equal else '>'} `{self.other}`"

    def violated(self, row: Mapping[str, Any]) -> bool:
        a, b = row.get(self.column), row.get(self.other)
        if a is None or b is None:
            return False
        try:
            return bool(a < b) if self.or_equal else bool(a <= b)
        except TypeError:
            return True

    def expectation(self) -> tuple[str, dict[str, Any]]:
        return "expect_column_pair_values_a_to_be_greater_than_b", {
            "column_A": self.column,
            "column_B": self.other,
            "or_equal": self.or_equal,
        }


@dataclass(frozen=True)
class UniqueTogether(Rule):
    """No two rows (among those where `scope` = (column, value) holds, if given) share these columns;
    rows with a NULL among them are not compared, as a SQL UNIQUE constraint does not."""

    columns: tuple[str, ...]
    scope: tuple[str, Any] | None = None

    @property
    def name(self) -> str:
        return "unique"

    def describe(self) -> str:
        text = "(" + ", ".join(f"`{c}`" for c in self.columns) + ") unique"
        if self.scope is not None:
            text += f" among rows where `{self.scope[0]}` = {_literal(self.scope[1])}"
        return text

    def expectation(self) -> tuple[str, dict[str, Any]]:
        if self.scope is not None:
            raise ValueError("a scoped uniqueness rule has no great-expectations form")
        if len(self.columns) == 1:
            return "expect_column_values_to_be_unique", {"column": self.columns[0]}
        return "expect_compound_columns_to_be_unique", {"column_list": list(self.columns)}


@dataclass(frozen=True)
class NaturalKey(UniqueTogether):
    """The columns that identify a row (its uuid5 `id` hashes them, ledger/identity.py)."""

    @property
    def name(self) -> str:
        return "natural_key"

    def describe(self) -> str:
        return "natural key " + super().describe()


TableRule = NotBefore | UniqueTogether


# --- columns and tables ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A logical foreign key to `target` ("table.column"). `reconciled`: the nightly reconciliation
    resolves it over the lookback (`foreign_keys_resolve`)."""

    target: str
    reconciled: bool = False

    @property
    def table(self) -> str:
        return self.target.split(".", 1)[0]

    @property
    def column(self) -> str:
        return self.target.split(".", 1)[1]


@dataclass(frozen=True)
class Column:
    name: str
    meaning: str
    rules: tuple[ColumnRule, ...] = ()
    reference: Reference | None = None

    @property
    def not_null(self) -> bool:
        return any(isinstance(r, NotNull) and r.when is None for r in self.rules)


@dataclass(frozen=True)
class SuiteMeta:
    """The table's nightly great-expectations suite (ledger/quality.py): its version and purpose."""

    version: int
    purpose: str


@dataclass(frozen=True)
class TableContract:
    table: str
    meaning: str
    asset: str
    """The asset that writes the table (with `partition_column`, its lane-window partition)."""
    noun: str
    """What one row is called in reports, e.g. `candidate` in `candidate→run`."""
    natural_key: NaturalKey
    columns: tuple[Column, ...]
    rules: tuple[TableRule, ...] = ()
    partition_column: str | None = "window_start"
    """The lane-window start column (`lane` is the other half); None: the table is not partitioned."""
    row_label: str | None = None
    """The column that names a row in findings; default: the natural key's first column."""
    suite: SuiteMeta | None = None

    @property
    def label_column(self) -> str:
        return self.row_label or self.natural_key.columns[0]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.table} has no column {name!r} in its contract")

    @property
    def references(self) -> tuple[tuple[str, Reference], ...]:
        return tuple((c.name, c.reference) for c in self.columns if c.reference is not None)

    def all_rules(self) -> list[tuple[str, Rule]]:
        """(column or comma-joined columns, rule) for every rule, the natural key first."""
        rules: list[tuple[str, Rule]] = [(", ".join(self.natural_key.columns), self.natural_key)]
        rules += [(c.name, r) for c in self.columns for r in c.rules]
        rules += [(", ".join(r.columns), r) for r in self.rules]
        return rules


@dataclass(frozen=True)
class Link:
    """A reconciled reference: `table.column` → `target_table.target_column`; findings name the child
    row by `label_column` and the link by `name` (`candidate→run`)."""

    table: str
    label_column: str
    column: str
    target_table: str
    target_column: str
    name: str


# --- building blocks -------------------------------------------------------------------------------------

NOT_NULL = NotNull()
TIMESTAMP = Timestamp()
NON_NEGATIVE = Range(min=0)
POSITIVE = Range(min=0, strict_min=True)
FRACTION = Range(min=0, max=1)
JSON_OBJECT = Json(shape="object")
JSON_ARRAY = Json(shape="array")
SIDES = ("buy", "sell")
ORDER_TYPES = ("market", "limit", "stop", "stop_limit", "trailing_stop")
TIMES_IN_FORCE = ("day", "gtc", "opg", "cls", "ioc", "fok")
ORDER_STATUSES = (
    "filled",
    "partially_filled",
    "canceled",
    "expired",
    "rejected",
    "new",
    "accepted",
    "submitted",
)
DECISION_STATUSES = ("planned", "rejected", "submitted", "filled", "partially_filled", "canceled", "expired")
RUN_STATUSES = ("running", "passed", "failed", "skipped", "rejected", "rolled_back")
STAGES = tuple(s.value for s in Stage)
UNIQUE_AGAIN = "also a UNIQUE constraint; re-checked so a ledger restored without constraints is caught"


def sha256(*, at_rest: bool = False, why: str | None = None) -> Pattern:
    return Pattern(SHA256_REGEX, label="sha256_hex", at_rest=at_rest, why=why)


def col(name: str, meaning: str, *rules: ColumnRule, ref: Reference | None = None) -> Column:
    return Column(name, meaning, tuple(rules), ref)


def _id(key: str) -> Column:
    return col("id", f"Row id: uuid5 of the table name and the natural key ({key}).", NOT_NULL)


def _lane(start: str = "window_start") -> tuple[Column, Column]:
    return (
        col("lane", "Lane (a lane of the lane catalog) whose window wrote the row.", NOT_NULL),
        col(
            start,
            "Start (UTC) of the hourly lane window the row belongs to; with `lane`, the asset partition.",
            NOT_NULL,
            TIMESTAMP,
        ),
    )


def _created_at(meaning: str) -> Column:
    return col("created_at", meaning, NOT_NULL, TIMESTAMP)


def _ts(name: str, meaning: str, *rules: ColumnRule) -> Column:
    return col(name, meaning, *rules, TIMESTAMP)


_STRATEGY = Reference("strategies.id")
_DECISION = Reference("trade_decisions.id")
_CANDIDATE = Reference("research_candidates.candidate_id")


# --- the contracts ---------------------------------------------------------------------------------------

# Signals come from outside: a rule admission (domain/signal_quality.py) does not also enforce is a warning,
# so a source's quirk is visible on the window without halting the lane.
_SANE_SIZE = Range(min=0, severity="warn")
_INDICATORS: tuple[tuple[str, str, tuple[ColumnRule, ...]], ...] = (
    ("macd", "MACD line: EMA12 − EMA26 of the close.", ()),
    ("macd_signal", "MACD signal line: 9-bar EMA of `macd`.", ()),
    ("macd_hist", "MACD histogram: `macd` − `macd_signal`.", ()),
    ("ema12", "12-bar exponential moving average of the close.", ()),
    ("ema26", "26-bar exponential moving average of the close.", ()),
    ("rsi14", "14-bar relative strength index.", (Range(min=0, max=100, severity="warn"),)),
    ("boll_mid", "Bollinger middle band (20-bar mean of the close).", ()),
    ("boll_upper", "Bollinger upper band (middle + 2 standard deviations).", ()),
    ("boll_lower", "Bollinger lower band (middle − 2 standard deviations).", ()),
    ("vwap_session", "Volume-weighted average price since the session open.", ()),
    ("vwap_w5m", "Volume-weighted average price over the last 5 minutes.", ()),
    ("imbalance_spread", "Quote spread: best ask − best bid.", ()),
    ("imbalance_bid_px", "Best bid price of the quote.", ()),
    ("imbalance_ask_px", "Best ask price of the quote.", ()),
    ("vol_realized_w60s", "Realized volatility of returns over the last 60 seconds.", (_SANE_SIZE,)),
)

SIGNALS = TableContract(
    table="signals",
    meaning="One admitted TA signal (a `ta_signals` row) of a lane window, as the decisions read it.",
    asset="signals",
    noun="signal",
    natural_key=NaturalKey(("lane", "symbol", "event_ts", "seq")),
    partition_column="lane_window_start",
    columns=(
        _id("lane, symbol, event_ts, seq"),
        *_lane("lane_window_start"),
        col("symbol", "Ticker the signal is about.", NOT_NULL, Pattern(SYMBOL_REGEX, label="symbol")),
        _ts("event_ts", "Time the signal describes: the end of its TA bar.", NOT_NULL),
        col(
            "seq",
            "The source's sequence number; orders signals sharing an `event_ts`.",
            NOT_NULL,
            NON_NEGATIVE,
        ),
        _ts("ingest_ts", "When the source ingested the signal.", NOT_NULL),
        col("is_final", "1 for a final bar, 0 for a provisional update of one.", NOT_NULL, OneOf((0, 1))),
        col("source", "The producing source's name (e.g. `torghut-simulator`).", NOT_NULL),
        col("window_size", "Length of the TA bar, as an ISO 8601 duration (`PT1M`).", NOT_NULL),
        col("window_step", "Step between TA bars, when the source reports one."),
        _ts("window_start", "Start of the TA bar (not the lane window: that is `lane_window_start`)."),
        _ts("window_end", "End of the TA bar (= `event_ts`)."),
        col("version", "The source's row version; the ledger keeps the latest version of a key.", NOT_NULL),
        col("price", "Reference price of the signal.", POSITIVE),
        col("close", "Close of the TA bar.", POSITIVE),
        col("vwap", "Volume-weighted average price of the TA bar.", POSITIVE),
        col("volume", "Shares traded in the TA bar.", NON_NEGATIVE),
        *(col(name, meaning, *rules) for name, meaning, rules in _INDICATORS),
        col("imbalance_bid_sz", "Size at the best bid.", _SANE_SIZE),
        col("imbalance_ask_sz", "Size at the best ask.", _SANE_SIZE),
        col(
            "content_hash", "sha256 of the signal's canonical JSON (its source columns).", NOT_NULL, sha256()
        ),
        _created_at("The row's logical time: `ingest_ts`."),
    ),
    rules=(NotBefore("window_end", "window_start"),),
)

SIGNAL_INGEST_WINDOWS = TableContract(
    table="signal_ingest_windows",
    meaning="The ingest verdict of one lane window: what was fetched, admitted and rejected, or why nothing.",
    asset="signals",
    noun="ingest verdict",
    natural_key=NaturalKey(("lane", "window_start")),
    columns=(
        _id("lane, window_start"),
        *_lane(),
        _ts("window_end", "End (UTC, exclusive) of the lane window.", NOT_NULL),
        col(
            "source", "Signal source adapter that served the window (`simulator`, `sql`, `alpaca`).", NOT_NULL
        ),
        col(
            "source_mode",
            "How the window was fetched: one bounded read of the window.",
            NOT_NULL,
            OneOf(("bounded_window",)),
        ),
        col(
            "signals_total",
            "Signals admitted and stored in `signals` for the window.",
            NOT_NULL,
            NON_NEGATIVE,
        ),
        col("rejected_total", "Signals the admission rules rejected.", NOT_NULL, NON_NEGATIVE),
        col("rejected_by_reason", "Rejected signals counted by rejection reason.", JSON_OBJECT),
        col("symbols_covered", "Distinct symbols among the admitted signals.", NOT_NULL, NON_NEGATIVE),
        col(
            "no_signal_reason",
            "Why the window has no usable signals (`market_closed`, `no_signals_in_window`, a halt ...).",
            NotNull(when=("signals_total", 0)),
        ),
        col("no_signal_detail", "The cause behind the reason, e.g. the universe source's error."),
        col("signal_lag_seconds", "Seconds from the newest signal to the window end, for an empty window."),
        col("market_session_open", "Whether the market was open at any minute of the window.", NOT_NULL),
        _ts("newest_signal_ts", "The source's newest signal at or before the window end."),
        col(
            "dataset_version",
            "sha256 of the admitted signal frame (the research run's dataset).",
            NOT_NULL,
            sha256(),
        ),
        _created_at("The row's logical time: the window end."),
    ),
    rules=(NotBefore("window_end", "window_start", or_equal=False),),
)

STRATEGIES = TableContract(
    table="strategies",
    meaning="A strategy version a lane trades; upserted by the decisions of every window that uses it.",
    asset="trade_decisions",
    noun="strategy",
    natural_key=NaturalKey(("name",)),
    partition_column=None,
    columns=(
        col(
            "id",
            "The strategy's id: uuid5 of its reference (built-in name or plug-in path) and version.",
            NOT_NULL,
        ),
        col("name", "`<name>@<version>`.", NOT_NULL),
        col("description", "The lane's description of the strategy."),
        col("strategy_type", "Implementation the strategy runs (the strategy registry's type).", NOT_NULL),
        col("version", "Version of the strategy specification.", NOT_NULL),
        col("enabled", "Whether the strategy may trade.", NOT_NULL),
        col("priority", "Order among a lane's strategies (lower first).", NOT_NULL),
        col("base_timeframe", "Bar size the strategy reads (`1Min`).", NOT_NULL),
        col("universe_type", "How its symbols are chosen (`static`).", NOT_NULL),
        col("universe_symbols", "The symbols of a static universe, when listed here.", JSON_ARRAY),
        col("max_position_pct_equity", "Position cap as a fraction of equity.", NON_NEGATIVE),
        col("max_notional_per_trade", "Notional cap of one order.", NON_NEGATIVE),
        col("params", "The strategy's parameters.", JSON_OBJECT),
        _created_at("When the strategy was first recorded."),
        _ts("updated_at", "When the strategy row last changed.", NOT_NULL),
    ),
)

TRADE_DECISIONS = TableContract(
    table="trade_decisions",
    meaning="A sized, risk-checked decision of a strategy on a signal; its hash is its idempotency key.",
    asset="trade_decisions",
    noun="decision",
    natural_key=NaturalKey(("alpaca_account_label", "decision_hash")),
    suite=SuiteMeta(
        1, "Decisions carry a content hash (their idempotency key) and a known lifecycle status."
    ),
    columns=(
        _id("alpaca_account_label, decision_hash"),
        col("strategy_id", "The strategy that decided.", NOT_NULL, ref=_STRATEGY),
        col("alpaca_account_label", "Broker account the decision is for (`paper` by default).", NOT_NULL),
        col(
            "symbol",
            "Ticker to trade.",
            NOT_NULL,
            Pattern("^[A-Z][A-Z0-9.]{0,15}$", at_rest=True, severity="warn"),
        ),
        col("timeframe", "Bar size the decision was made on (`1Min`).", NOT_NULL),
        col(
            "decision_json",
            "The decision as hashed: action, qty, prices, parameters, risk reasons.",
            NOT_NULL,
            JSON_OBJECT,
        ),
        col("rationale", "Why the strategy acted (`strategy_signal`, `session_close_flatten`, ...)."),
        col(
            "decision_hash",
            "sha256 of the canonical decision: its idempotency key.",
            NotNull(at_rest=True),
            sha256(at_rest=True, why="sha256 hex digest"),
        ),
        col(
            "status",
            "Lifecycle: `planned` or `rejected` when decided, then the status of its order.",
            NOT_NULL,
            OneOf(DECISION_STATUSES, at_rest=True, severity="warn"),
        ),
        _ts("executed_at", "When its order was last updated at the venue; NULL until routed."),
        *_lane(),
        _ts("signal_event_ts", "`event_ts` of the signal decided on.", NOT_NULL),
        col("signal_seq", "`seq` of the signal decided on.", NOT_NULL, NON_NEGATIVE),
        _created_at("The row's logical time: the signal's `event_ts`."),
    ),
)

EXECUTIONS = TableContract(
    table="executions",
    meaning="The order a decision became at a venue, with its route and fill; a refused route is a row too.",
    asset="executions",
    noun="execution",
    natural_key=NaturalKey(("alpaca_account_label", "client_order_id")),
    row_label="client_order_id",
    suite=SuiteMeta(
        1, "Every stored order names the route it took, has sane quantities and a known broker status."
    ),
    columns=(
        _id("alpaca_account_label, decision hash (= client_order_id)"),
        col(
            "trade_decision_id",
            "The decision the order carries out.",
            ref=Reference("trade_decisions.id", reconciled=True),
        ),
        col("alpaca_account_label", "Broker account the order was sent for.", NOT_NULL),
        col(
            "alpaca_order_id",
            "The venue's order id (`unplaced-<hash>` when no venue took the order).",
            NOT_NULL,
        ),
        col("client_order_id", "Our order id at the venue: the decision hash.", NOT_NULL),
        col("symbol", "Ticker ordered.", NOT_NULL, Pattern(SYMBOL_REGEX, label="symbol")),
        col("side", "`buy` or `sell`.", NOT_NULL, OneOf(SIDES)),
        col(
            "order_type",
            "Order type sent (`market` unless an advisory adjusted it).",
            NOT_NULL,
            OneOf(ORDER_TYPES),
        ),
        col("time_in_force", "Time in force sent (`day`).", NOT_NULL, OneOf(TIMES_IN_FORCE)),
        col("submitted_qty", "Shares ordered.", NOT_NULL, Range(min=0, strict_min=True, at_rest=True)),
        col("filled_qty", "Shares filled so far.", NOT_NULL, Range(min=0, at_rest=True)),
        col(
            "avg_fill_price",
            "Average fill price; NULL until something fills.",
            Range(
                min=0,
                strict_min=True,
                at_rest=True,
                why="NULL (nothing filled yet) is allowed: map expectations skip NULLs",
            ),
        ),
        col("fees", "Fees the venue charged, in account currency.", NOT_NULL),
        col(
            "status",
            "The venue's order status.",
            NOT_NULL,
            OneOf(ORDER_STATUSES, at_rest=True, severity="warn"),
        ),
        col(
            "execution_expected_adapter",
            "Venue adapter the routing policy chose (`lean`, `alpaca`, `simulator`).",
            NotNull(at_rest=True),
            NoneOf(
                ("unknown", ""),
                at_rest=True,
                why="'unknown' is the server default: a row left at it was written without route evidence",
            ),
        ),
        col(
            "execution_actual_adapter",
            "Venue adapter that answered (differs from expected after a fallback).",
            NotNull(at_rest=True),
            NoneOf(("unknown", ""), at_rest=True),
        ),
        col("execution_fallback_reason", "Why the route fell back; set exactly when the count is positive."),
        col(
            "execution_fallback_count", "Fallbacks taken on the route.", NOT_NULL, Range(min=0, at_rest=True)
        ),
        col("execution_correlation_id", "`<lane>/<window>:<hash prefix>`, sent to the venue for tracing."),
        col(
            "execution_idempotency_key", "The decision hash, sent so a retried submit is not a second order."
        ),
        col("execution_audit_json", "The route taken and, for a refused order, the failure.", JSON_OBJECT),
        col(
            "raw_order",
            "The venue's answer as received, plus the route, arrival price and submit time.",
            JSON_OBJECT,
        ),
        _ts("last_update_at", "When the venue last reported on the order (fill time, else submit time)."),
        _ts("order_feed_last_event_ts", "Time of the last order-feed event applied to the row."),
        col("order_feed_last_seq", "Sequence of the last order-feed event applied to the row.", NON_NEGATIVE),
        *_lane(),
        _created_at("The row's logical time: the submit time."),
    ),
    rules=(
        NotBefore(
            "submitted_qty", "filled_qty", at_rest=True, why="an order cannot fill more than was submitted"
        ),
        UniqueTogether(("alpaca_account_label", "alpaca_order_id"), at_rest=True, why=UNIQUE_AGAIN),
    ),
)

EXECUTION_TCA_METRICS = TableContract(
    table="execution_tca_metrics",
    meaning="Transaction cost analysis of one execution against its arrival and decision prices.",
    asset="executions",
    noun="TCA row",
    natural_key=NaturalKey(("execution_id",)),
    columns=(
        _id("execution_id"),
        col("execution_id", "The execution analysed.", NOT_NULL, ref=Reference("executions.id")),
        col("trade_decision_id", "The execution's decision.", ref=_DECISION),
        col("strategy_id", "The deciding strategy.", ref=_STRATEGY),
        col("alpaca_account_label", "Broker account of the order."),
        col("symbol", "Ticker ordered.", NOT_NULL, Pattern(SYMBOL_REGEX, label="symbol")),
        col("side", "`buy` or `sell`.", NOT_NULL, OneOf(SIDES)),
        col("arrival_price", "Price when the order was sent (the decision price)."),
        col("avg_fill_price", "Average fill price; NULL when nothing filled.", POSITIVE),
        col("submitted_qty", "Shares ordered.", POSITIVE),
        col("filled_qty", "Shares filled.", NOT_NULL, NON_NEGATIVE),
        col("fill_ratio", "`filled_qty` / `submitted_qty`.", FRACTION),
        col("signed_qty", "Filled shares signed by side (+ buy, − sell).", NOT_NULL),
        col("slippage_bps", "Fill vs arrival in basis points; positive is worse, on either side."),
        col("shortfall_notional", "Fill vs arrival times filled shares, in currency; positive is worse."),
        col("realized_shortfall_bps", "Realized implementation shortfall in basis points."),
        col("expected_shortfall_bps_p50", "Venue/simulator median expected shortfall, in basis points."),
        col(
            "expected_shortfall_bps_p95",
            "Venue/simulator 95th-percentile expected shortfall, in basis points.",
        ),
        col("simulator_version", "Version of the simulated venue that filled the order, if simulated."),
        col("divergence_bps", "Realized minus expected (p50) shortfall, in basis points."),
        col("churn_qty", "Shares that reversed the session's prior position.", NOT_NULL, NON_NEGATIVE),
        col("churn_ratio", "`churn_qty` / `filled_qty`.", FRACTION),
        col("decision_price", "Price the decision was made at."),
        col("market_arrival_price", "Market price when the order reached the venue."),
        col("delay_cost_notional", "Shortfall share from decision price to market arrival, in currency."),
        col("impact_cost_notional", "Shortfall share from market arrival to fill, in currency."),
        col("fees_notional", "Fees, in currency.", NOT_NULL),
        col("implementation_shortfall_notional", "Delay + impact + fees, in currency."),
        col("expected_adapter", "Venue adapter the routing policy chose."),
        col("actual_adapter", "Venue adapter that answered."),
        _ts("computed_at", "The metrics' logical time: the fill time, else the submit time.", NOT_NULL),
        *_lane(),
        _created_at("The row's logical time: `computed_at`."),
    ),
    rules=(NotBefore("submitted_qty", "filled_qty"),),
)

LLM_DECISION_REVIEWS = TableContract(
    table="llm_decision_reviews",
    meaning="The LLM advisory's review of a decision and what the policy made of it (docs/llm-advisory.md).",
    asset="llm_decision_reviews",
    noun="review",
    natural_key=NaturalKey(("trade_decision_id",)),
    columns=(
        _id("trade_decision_id"),
        col("trade_decision_id", "The decision reviewed.", NOT_NULL, ref=_DECISION),
        col("model", "Model asked.", NOT_NULL),
        col("prompt_version", "Version of the review prompt.", NOT_NULL),
        col("input_json", "The decision as sent for review.", NOT_NULL, JSON_OBJECT),
        col(
            "response_json",
            "Request/response hashes, the policy resolution, problems and refusal flags.",
            NOT_NULL,
            JSON_OBJECT,
        ),
        col(
            "verdict",
            "The model's verdict; `error` without a usable answer, `refusal` when the model declined.",
            NOT_NULL,
            OneOf((*VERDICTS, VERDICT_ERROR, VERDICT_REFUSAL)),
        ),
        col("confidence", "The model's confidence in its verdict.", FRACTION),
        col(
            "adjusted_qty",
            "Quantity the model proposed (as proposed; the bounded value is in the resolution).",
            NON_NEGATIVE,
        ),
        col("adjusted_order_type", "Order type the model proposed, as proposed."),
        col("rationale", "The model's rationale."),
        col("risk_flags", "Risk flags the model raised.", JSON_ARRAY),
        col("tokens_prompt", "Prompt tokens used.", NON_NEGATIVE),
        col("tokens_completion", "Completion tokens used.", NON_NEGATIVE),
        *_lane(),
        _ts("reviewed_at", "When the review was made (wall clock).", NOT_NULL),
        col(
            "model_version_hash",
            "sha256 of model, served model, version lock, prompt version and template.",
            NOT_NULL,
            sha256(),
        ),
        col(
            "rollout_stage",
            "The advisory's rollout stage at review time.",
            NOT_NULL,
            OneOf(tuple(s.value for s in RolloutStage)),
        ),
        col("effective_verdict", "The verdict after the policy (fail modes, guardrails).", NOT_NULL),
        col(
            "action",
            "What the policy resolved to.",
            NOT_NULL,
            OneOf(tuple(a.value for a in AdvisoryAction)),
        ),
        col("shadow", "Whether the review was advisory only.", NOT_NULL),
        col("applied", "Whether the action was carried out (never in shadow).", NOT_NULL),
        col("error_kind", "Kind of non-answer, or `refusal`.", OneOf((*ERROR_KINDS, OUTCOME_REFUSAL))),
        col("error_code", "The non-answer's code (`timeout`, `malformed_json`, `model_refusal`, ...)."),
        col("error_detail", "The non-answer's message."),
        col(
            "guardrail_mismatch", "Whether a guardrail overrode the proposal (bounds, order type).", NOT_NULL
        ),
        col("latency_ms", "Round-trip time of the call, in milliseconds.", NON_NEGATIVE),
        _created_at("The row's logical time: the decision's `event_ts`."),
    ),
)

SKIP_REASON_WHY = "a skipped window names why it was skipped"
SKIP_ARTIFACT_WHY = "a skipped run references the artifact that explains the skip"
REPORT_ARTIFACT_WHY = "a passed run references its evaluation report"
DECISION_REASON_WHY = "the reason a decision was allowed or denied is stated, not blank"

RESEARCH_RUNS = TableContract(
    table="research_runs",
    meaning="The research run of one lane window: what it was computed from, with which code and settings.",
    asset="research_runs",
    noun="run",
    natural_key=NaturalKey(("lane", "window_start", "run_kind")),
    row_label="run_id",
    suite=SuiteMeta(1, "Every run is identifiable, pinned to a dataset digest, and a skipped run says why."),
    columns=(
        _id("lane, window_start, run_kind"),
        col(
            "run_id",
            "sha256 (first 24 hex) of lane, window, dataset, configuration and code version.",
            NotNull(at_rest=True),
            Unique(at_rest=True),
            Pattern("^[0-9a-f]{24}$", at_rest=True, label="run_id"),
        ),
        col("run_kind", "`lane_window` for a window's own run.", NOT_NULL),
        col(
            "status",
            "`running` (opened, its chain not committed) → `passed` (the whole chain committed in one "
            "transaction) | `failed` (the research step raised; see `error`) | `skipped` (empty window); "
            "later `rejected` / `rolled_back`.",
            NOT_NULL,
            OneOf(RUN_STATUSES, at_rest=True),
        ),
        col("strategy_id", "The lane's strategy.", ref=_STRATEGY),
        col("strategy_name", "The strategy's name."),
        col("strategy_type", "The strategy's implementation type."),
        col("strategy_version", "The strategy's version."),
        col("code_commit", "Version of this code that computed the run."),
        col("feature_version", "Version of the feature definitions."),
        col("feature_schema_version", "Version of the signal feature schema."),
        col(
            "feature_spec_hash",
            "sha256 of strategy, research settings, policy and dataset; NULL when skipped.",
            sha256(),
        ),
        col("signal_source", "The reference's signal source name (`autonomy-signals`)."),
        col(
            "dataset_version",
            "sha256 of the signal frame the run was computed from.",
            NotNull(at_rest=True),
            sha256(at_rest=True, why="sha256 of the signal frame the run was computed from"),
        ),
        _ts("dataset_from", "First instant of the data read (the lookback's start)."),
        _ts("dataset_to", "Last instant of the data read."),
        col("dataset_snapshot_ref", "`<source>:<from>/<to>`, or `no_signal_window` when skipped."),
        col(
            "runner_version", "The research runner's version (`run_autonomous_lane_no_signals` when skipped)."
        ),
        col("runner_binary_hash", "sha256 of the research settings (lookback, folds, cost model).", sha256()),
        col("gate_report_trace_id", "Trace id of the gate report of the run's promotion evaluation."),
        col("recommendation_trace_id", "Trace id of the recommendation that used the run."),
        *_lane(),
        _ts("window_end", "End (UTC, exclusive) of the lane window.", NOT_NULL),
        col(
            "no_signal_reason",
            "Why the window was skipped (the ingest verdict's reason).",
            NotNull(
                when=("status", "skipped"),
                at_rest=True,
                why="a skipped window without a reason is indistinguishable from a silently dropped one",
            ),
            NotEmpty(when=("status", "skipped"), audit=True, why=SKIP_REASON_WHY),
        ),
        col("policy_checksum", "sha256 of the promotion policy in force.", sha256()),
        col("artifact_manifest_hash", "sha256 of `artifact_refs`.", sha256()),
        col(
            "artifact_refs",
            "Content-addressed artifacts of the run (kind, path, sha256).",
            JSON_ARRAY,
            NotEmpty(when=("status", "skipped"), audit=True, why=SKIP_ARTIFACT_WHY),
            NotEmpty(when=("status", "passed"), audit=True, why=REPORT_ARTIFACT_WHY),
        ),
        _created_at("The row's logical time: the window end."),
        col("lane_catalog_checksum", "sha256 of the lane catalog that configured the lane.", sha256()),
        col(
            "error",
            "Why a `failed` run failed: the research step's exception (type and message), as the failure "
            "hook recorded it; NULL on a run that did not fail.",
            NotNull(when=("status", "failed")),
        ),
    ),
    rules=(NotBefore("window_end", "window_start", or_equal=False), NotBefore("dataset_to", "dataset_from")),
)

RESEARCH_CANDIDATES = TableContract(
    table="research_candidates",
    meaning="One parameter set (grid point) a run evaluated, losers included, with its lifecycle.",
    asset="research_candidates",
    noun="candidate",
    natural_key=NaturalKey(("candidate_id",), at_rest=True),
    suite=SuiteMeta(1, "Candidates are uniquely identified and carry their parameter-set hash."),
    columns=(
        _id("candidate_id"),
        col(
            "run_id",
            "The run that evaluated the candidate.",
            NOT_NULL,
            ref=Reference("research_runs.run_id", reconciled=True),
        ),
        col("candidate_id", "`cand-<run_id[:12]>-<candidate_hash[:8]>`.", NotNull(at_rest=True)),
        col(
            "candidate_hash",
            "sha256 (first 32 hex) of run id, dataset version and parameter set.",
            Pattern("^[0-9a-f]{32}$", at_rest=True, label="candidate_hash"),
        ),
        col("parameter_set", "The strategy parameters evaluated.", JSON_OBJECT),
        col("decision_count", "Decisions over the lookback.", NOT_NULL, NON_NEGATIVE),
        col("trade_count", "Trades over the lookback.", NOT_NULL, NON_NEGATIVE),
        col("symbols_covered", "Symbols with signals in the run's data.", NOT_NULL, NON_NEGATIVE),
        col("universe_definition", "The symbol universe (source and symbols).", JSON_OBJECT),
        col("promotion_target", "Mode the candidate would be promoted to.", OneOf(TARGET_MODES)),
        col(
            "lifecycle_role",
            "Role in the lane as the research run wrote it (`challenger`); never updated: the current role "
            "is the candidate's latest `candidate_lifecycle_events` row.",
            NOT_NULL,
            OneOf(("challenger", "champion", "demoted")),
        ),
        col(
            "lifecycle_status",
            "Status in that role as the research run wrote it (`evaluated`); the current status is the "
            "candidate's latest `candidate_lifecycle_events` row.",
            NOT_NULL,
            OneOf(("evaluated", "active", "standby", "paused")),
        ),
        col("metadata_bundle", "Lookback metrics and the cost model.", JSON_OBJECT),
        col("recommendation_bundle", "The recommendation made from the candidate, if any.", JSON_OBJECT),
        *_lane(),
        _created_at("The row's logical time: the window end."),
    ),
)

RESEARCH_FOLD_METRICS = TableContract(
    table="research_fold_metrics",
    meaning="Backtest metrics of one candidate on one walk-forward fold.",
    asset="research_fold_metrics",
    noun="fold",
    natural_key=NaturalKey(("candidate_id", "fold_name"), at_rest=True, why=UNIQUE_AGAIN),
    suite=SuiteMeta(
        1, "Walk-forward folds are ordered, never test on their training data, and costs are not negative."
    ),
    columns=(
        _id("candidate_id, fold_name"),
        col(
            "candidate_id",
            "The candidate backtested.",
            NOT_NULL,
            ref=Reference(_CANDIDATE.target, reconciled=True),
        ),
        col("fold_name", "`fold_<n>`.", NOT_NULL),
        col("fold_order", "Position of the fold, from 1.", NOT_NULL, Range(min=1, at_rest=True)),
        _ts("train_start", "Start of the fold's training span.", NOT_NULL),
        _ts("train_end", "End of the fold's training span.", NOT_NULL),
        _ts("test_start", "Start of the fold's test span (after the purge gap).", NOT_NULL),
        _ts("test_end", "End of the fold's test span.", NOT_NULL),
        col("decision_count", "Decisions in the test span.", NOT_NULL, NON_NEGATIVE),
        col("trade_count", "Trades in the test span.", NOT_NULL, NON_NEGATIVE),
        col("gross_pnl", "PnL before costs, in currency."),
        col("net_pnl", "PnL after costs, in currency."),
        col(
            "max_drawdown",
            "Largest peak-to-trough fall of cumulative net PnL, in currency (≥ 0).",
            NON_NEGATIVE,
        ),
        col("turnover_ratio", "Traded notional over capital.", NON_NEGATIVE),
        col("cost_bps", "Costs in basis points of traded notional.", Range(min=0, at_rest=True)),
        col("cost_assumptions", "The cost model applied.", JSON_OBJECT),
        col(
            "regime_label", "Market regime of the test span (`trend_up`, `trend_down`, `range`, `high_vol`)."
        ),
        *_lane(),
        _created_at("The row's logical time: the window end."),
    ),
    rules=(
        NotBefore(
            "test_start",
            "train_end",
            at_rest=True,
            why="train_end <= test_start: a fold whose test overlaps its training leaks look-ahead",
        ),
        NotBefore("train_end", "train_start"),
        NotBefore("test_end", "test_start"),
    ),
)

RESEARCH_STRESS_METRICS = TableContract(
    table="research_stress_metrics",
    meaning="A candidate's result under one stress case (spread, volatility, liquidity, halt).",
    asset="research_stress_metrics",
    noun="stress",
    natural_key=NaturalKey(("candidate_id", "stress_case")),
    columns=(
        _id("candidate_id, stress_case"),
        col(
            "candidate_id",
            "The candidate stressed.",
            NOT_NULL,
            ref=Reference(_CANDIDATE.target, reconciled=True),
        ),
        col("stress_case", "The stress case.", NOT_NULL, OneOf(STRESS_CASES)),
        col("metric_bundle", "Metrics under stress (net PnL, drawdown, costs).", JSON_OBJECT),
        col("pessimistic_pnl_delta", "Stressed minus baseline net PnL, in currency."),
        *_lane(),
        _created_at("The row's logical time: the window end."),
    ),
)

RESEARCH_PROMOTIONS = TableContract(
    table="research_promotions",
    meaning=(
        "A promotion decision on a candidate: the window's own request (approver role "
        f"`{SCHEDULER_ROLE}`), and the promotion, rollback and replay jobs' decisions, demotions and "
        "denials. Append-only: no row is ever updated or deleted."
    ),
    asset="research_promotions",
    noun="promotion",
    natural_key=NaturalKey(("lane", "window_start", "revision"), scope=("approver_role", SCHEDULER_ROLE)),
    row_label="run_id",
    columns=(
        _id(
            "for the window's own request run_id, run kind and, from the second revision, the revision; "
            "other writers use their own keys"
        ),
        col("candidate_id", "The candidate decided on (the run id on a replay denial).", NOT_NULL),
        col("requested_mode", "Stage requested.", OneOf(STAGES)),
        col("approved_mode", "Stage approved; NULL when not allowed.", OneOf(STAGES)),
        col("approver", "Who decided (`torghut_assets`, `torghut_gates`, a person)."),
        col("approver_role", "The decider's role; tells the writers apart."),
        col(
            "approve_reason",
            "Canonical JSON of the decision when allowed (exactly one of the two reasons).",
            NotEmpty(nullable=True, audit=True, why=DECISION_REASON_WHY),
        ),
        col(
            "deny_reason",
            "Canonical JSON of the decision when not allowed.",
            NotEmpty(nullable=True, audit=True, why=DECISION_REASON_WHY),
        ),
        col("paper_candidate_patch_ref", "Reference of the paper configuration patch applied."),
        _ts("effective_time", "When an allowed decision takes effect."),
        col("decision_action", "What was decided.", NOT_NULL, OneOf(("hold", "promote", "deny", "demote"))),
        col(
            "decision_rationale",
            "`promoted:` / `promotion_blocked_or_held:` / `demoted:` and the reason codes.",
            NotEmpty(audit=True, why="a decision says why, in words a reviewer reads"),
        ),
        col(
            "evidence_bundle",
            "The evidence the decision was made on.",
            JSON_OBJECT,
            NotEmpty(audit=True, why="a decision carries the evidence it was made on"),
        ),
        col("recommendation_trace_id", "Trace id of the gate report behind the decision."),
        col("successor_candidate_id", "For a demotion, the candidate that replaced it.", ref=_CANDIDATE),
        col(
            "rollback_candidate_id", "For a promotion, the champion a rollback would restore.", ref=_CANDIDATE
        ),
        col(
            "override_id", "The approval presented, if any.", ref=Reference("approval_overrides.override_id")
        ),
        col("policy_checksum", "sha256 of the policy in force.", sha256()),
        col(
            "gate_evaluation_id",
            "The gate evaluation the decision used.",
            ref=Reference("gate_evaluations.id"),
        ),
        col(
            "run_id",
            "The research run the decision belongs to.",
            ref=Reference("research_runs.run_id", reconciled=True),
        ),
        *_lane(),
        _created_at(
            "The row's logical time: the window end for the window's own request, else the decision time."
        ),
        col(
            "revision",
            "The window's own requests in order, 1, 2, 3, ...: a re-run that requests something else "
            "appends the next revision, and the latest is the current request. 1 on other writers' rows.",
            NOT_NULL,
            Range(min=1),
        ),
    ),
)

CONTRACTS: tuple[TableContract, ...] = (
    SIGNALS,
    SIGNAL_INGEST_WINDOWS,
    RESEARCH_RUNS,
    RESEARCH_CANDIDATES,
    RESEARCH_FOLD_METRICS,
    RESEARCH_STRESS_METRICS,
    RESEARCH_PROMOTIONS,
    STRATEGIES,
    TRADE_DECISIONS,
    LLM_DECISION_REVIEWS,
    EXECUTIONS,
    EXECUTION_TCA_METRICS,
)
"""In this order the reconciliation resolves their references (and the dictionary lists them)."""

_BY_TABLE = {c.table: c for c in CONTRACTS}


def contract(table: str) -> TableContract:
    try:
        return _BY_TABLE[table]
    except KeyError:
        raise KeyError(f"no table contract for {table!r}") from None


def contracts_written_by(asset: str) -> tuple[TableContract, ...]:
    """The lane-window tables `asset` writes (partitioned ones: what its partition check reads)."""
    return tuple(c for c in CONTRACTS if c.asset == asset and c.partition_column is not None)


def reconciled_links() -> tuple[Link, ...]:
    """The logical foreign keys the nightly reconciliation resolves, in contract order."""
    return tuple(
        Link(
            table=c.table,
            label_column=c.label_column,
            column=column,
            target_table=ref.table,
            target_column=ref.column,
            name=f"{c.noun}→{contract(ref.table).noun}",
        )
        for c in CONTRACTS
        for column, ref in c.references
        if ref.reconciled
    )


# --- auditable rows --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRules:
    """What makes a row of `table` auditable: the column rules every writer enforces before it writes
    and the nightly `audit_rows_complete` check judges over its lookback (`ledger/audit_rules.py`).
    `time_column` places a row in the lookback; `label_columns` name it in findings."""

    table: str
    time_column: str
    label_columns: tuple[str, ...]
    rules: tuple[tuple[str, ColumnRule], ...]


GATE_EVALUATIONS_AUDIT = AuditRules(
    table="gate_evaluations",
    time_column="created_at",
    label_columns=("id", "candidate_id"),
    rules=(
        (
            "reasons",
            NotEmpty(when=("promotion_allowed", False), audit=True, why="a denial names the gates' reasons"),
        ),
        ("gates", NotEmpty(audit=True, why="every gate's result is the evaluation's evidence")),
        ("report_json", NotEmpty(audit=True, why="the full gate report the decision was judged on")),
    ),
)
ROLLBACK_INCIDENTS_AUDIT = AuditRules(
    table="rollback_incidents",
    time_column="created_at",
    label_columns=("id", "lane"),
    rules=(
        ("reasons", NotEmpty(audit=True, why="a rollback or halt names its trigger and reasons")),
        ("trigger", NotEmpty(audit=True, why="what started it (manual, drift, live re-evaluation)")),
        ("actor", NotEmpty(audit=True, why="who or what is accountable for it")),
        ("before_state", NotEmpty(audit=True, why="the lane as it was")),
        ("after_state", NotEmpty(audit=True, why="the lane as it was left")),
        ("evidence_refs", NotEmpty(audit=True, why="the transition and gate evaluation it rests on")),
        (
            "evidence_hash",
            Pattern(
                SHA256_REGEX, label="sha256_hex", audit=True, why="the sha256 the evidence chain repeats"
            ),
        ),
    ),
)


def _audited(contract: TableContract, *, time_column: str, label_columns: tuple[str, ...]) -> AuditRules:
    rules = tuple(
        (column, rule) for column, rule in contract.all_rules() if rule.audit and isinstance(rule, ColumnRule)
    )
    return AuditRules(contract.table, time_column, label_columns, rules)


def audit_rules() -> tuple[AuditRules, ...]:
    """Per audited table, what makes its rows auditable: the `audit` rules of the `research_runs` and
    `research_promotions` contracts (a promotion decided today may be about an older window, so its
    lookback is its decision time), then the governance tables' own."""
    return (
        _audited(RESEARCH_RUNS, time_column="window_start", label_columns=("run_id",)),
        _audited(RESEARCH_PROMOTIONS, time_column="created_at", label_columns=("id", "run_id")),
        GATE_EVALUATIONS_AUDIT,
        ROLLBACK_INCIDENTS_AUDIT,
    )


def audit_rules_for(table: str) -> AuditRules | None:
    """The table's audit rules, or None when the table has none."""
    return next((a for a in audit_rules() if a.table == table), None)


# --- great-expectations suites ---------------------------------------------------------------------------


def suite_tables() -> tuple[str, ...]:
    return tuple(c.table for c in CONTRACTS if c.suite is not None)


def _expectation(kind: str, kwargs: dict[str, Any], why: str | None) -> dict[str, Any]:
    expectation: dict[str, Any] = {"type": kind, "kwargs": kwargs}
    if why is not None:
        expectation["meta"] = {"why": why}
    return expectation


def suite_document(table: str) -> dict[str, Any]:
    """The table's great-expectations suite: its `at_rest` rules, as `ledger/quality.py` loads them."""
    c = contract(table)
    if c.suite is None:
        raise ValueError(f"{table} has no at-rest suite")
    expectations: list[dict[str, Any]] = []
    for column, rule in c.all_rules():
        if not rule.at_rest:
            continue
        if isinstance(rule, ColumnRule):
            rendered = rule.expectation(column)
            if rendered is None:
                raise ValueError(f"{table}.{column}: rule {rule.name} has no great-expectations form")
        elif isinstance(rule, NotBefore | UniqueTogether):
            rendered = rule.expectation()
        else:
            raise TypeError(f"{table}.{column}: unknown rule {rule!r}")
        expectations.append(_expectation(*rendered, rule.why))
    return {
        "name": table,
        "meta": {"suite_version": c.suite.version, "table": table, "purpose": c.suite.purpose},
        "expectations": expectations,
    }


def canonical_suite(document: Mapping[str, Any]) -> dict[str, Any]:
    """A suite with its expectations in a fixed order: the order of a suite file carries no meaning."""
    return {
        **document,
        "expectations": sorted(document["expectations"], key=lambda e: json.dumps(e, sort_keys=True)),
    }


# --- data dictionary -------------------------------------------------------------------------------------


def _literal(value: Any) -> str:
    return f"`{value!r}`" if isinstance(value, str) else f"`{value}`"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rule_text(rule: Rule) -> str:
    text = rule.describe()
    notes = [
        n
        for n in (
            "at rest" if rule.at_rest else None,
            "audit" if rule.audit else None,
            "warn" if rule.severity == "warn" else None,
        )
        if n
    ]
    return f"{text} ({', '.join(notes)})" if notes else text


def _sql_types(table: str) -> dict[str, str]:
    from sqlalchemy.dialects import postgresql

    from torghut_assets.ledger import schema

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return {
        c.name: str(c.type.compile(dialect=dialect)).lower() for c in schema.metadata.tables[table].columns
    }


def _render_table(c: TableContract) -> list[str]:
    types = _sql_types(c.table)
    lines = [f"## `{c.table}`", "", c.meaning, ""]
    partition = (
        f"the `{c.asset}` asset, partition (`lane`, `{c.partition_column}`)"
        if c.partition_column
        else f"the `{c.asset}` asset (not partitioned)"
    )
    lines.append(f"- **Written by:** {partition}")
    lines.append(f"- **Natural key:** {_rule_text(c.natural_key).removeprefix('natural key ')}")
    refs = [
        f"`{column}` → `{ref.target}`" + (" (reconciled nightly)" if ref.reconciled else "")
        for column, ref in c.references
    ]
    lines.append(f"- **References:** {'; '.join(refs) if refs else 'none'}")
    if c.rules:
        lines.append(f"- **Row rules:** {'; '.join(_rule_text(r) for r in c.rules)}")
    if c.suite is not None:
        lines.append(f"- **Nightly suite:** `gx_{c.table}` (version {c.suite.version}): {c.suite.purpose}")
    lines += ["", "| Column | Type | Meaning | Rules |", "|---|---|---|---|"]
    for column in c.columns:
        rules = "; ".join(_rule_text(r) for r in column.rules) or "—"
        lines.append(f"| `{column.name}` | {types[column.name]} | {_cell(column.meaning)} | {_cell(rules)} |")
    return [*lines, ""]


def render_data_dictionary() -> str:
    """`docs/data-dictionary.md`, generated from the contracts (and the column types of `schema.py`)."""
    lines = [
        "# Data dictionary",
        "",
        "<!-- Generated from torghut_assets/ledger/table_contracts.py by `make data-dictionary`; do not edit."
        " A test fails when this file and the contracts disagree. -->",
        "",
        "The tables the lane-window assets write, one section per table contract. Every rule is checked on",
        "each lane window by the asset's blocking `<asset>_table_contract` check (a *warn* rule is reported",
        "without blocking); rules marked *at rest* are also in the table's nightly great-expectations suite",
        "(docs/reconciliation.md). Value rules skip NULL; only *not null* judges it. Types are PostgreSQL's.",
        "",
        "| Table | Meaning |",
        "|---|---|",
        *(f"| [`{c.table}`](#{c.table}) | {_cell(c.meaning)} |" for c in CONTRACTS),
        "",
    ]
    for c in CONTRACTS:
        lines += _render_table(c)
    lines += _render_audit_rules()
    return "\n".join(lines).rstrip("\n") + "\n"


def _render_audit_rules() -> list[str]:
    lines = [
        "## Auditable rows",
        "",
        "What every row of these tables must carry to be auditable (rules marked *audit* above, and the",
        "governance tables' own). Every writer refuses a row that breaks one, and the nightly",
        "`audit_rows_complete` check names each stored row of its lookback that does",
        "(docs/reconciliation.md).",
        "",
        "| Table | In the lookback by | Named by | Column | Rule | Why |",
        "|---|---|---|---|---|---|",
    ]
    for audit in audit_rules():
        named = ", ".join(f"`{c}`" for c in audit.label_columns)
        for column, rule in audit.rules:
            lines.append(
                f"| `{audit.table}` | `{audit.time_column}` | {named} | `{column}` "
                f"| {_cell(rule.describe())} | {_cell(rule.why or '')} |"
            )
    return [*lines, ""]


# --- regeneration ----------------------------------------------------------------------------------------


def write_generated(root: Path, suite_dir: Path | None = None) -> list[Path]:
    """Rewrite the data dictionary under `root` and every suite file that differs from its contract;
    returns the files written. A suite file is compared canonically, so one that only orders its
    expectations differently is left as it is."""
    if suite_dir is None:
        from torghut_assets.ledger.quality import SUITE_DIR

        suite_dir = SUITE_DIR
    written: list[Path] = []
    dictionary = root / DICTIONARY_PATH
    text = render_data_dictionary()
    if not dictionary.is_file() or dictionary.read_text() != text:
        dictionary.parent.mkdir(parents=True, exist_ok=True)
        dictionary.write_text(text)
        written.append(dictionary)
    for table in suite_tables():
        path = suite_dir / f"{table}.json"
        document = suite_document(table)
        current = json.loads(path.read_text()) if path.is_file() else None
        if current is None or canonical_suite(current) != canonical_suite(document):
            path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
            written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m torghut_assets.ledger.table_contracts",
        description="Regenerate docs/data-dictionary.md and the at-rest suites from the table contracts.",
    )
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root (default: cwd)")
    args = parser.parse_args(argv)
    written = write_generated(args.root)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print("data dictionary and suites are current")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
