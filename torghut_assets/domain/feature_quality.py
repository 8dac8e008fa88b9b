"""Feature quality gates: a lane window's admitted batch either passes as a whole or fails closed.

Admission (`signal_quality.admit_signals`) judges rows one by one; this module judges the batch that
survived, the way the reference's `evaluate_feature_batch_quality` judges one ingest batch before any
strategy sees it (proompteng/lab 18622cbe3a, services/torghut/app/trading/feature_quality.py). A failed
gate records its reasons and the window decides nothing and sends nothing (docs/signal-sources.md,
"Quality gates").

The measures, each compared with its limit by strict `>` (a figure equal to its limit passes):

- `duplicate_ratio`: extra copies of a `(symbol, event_ts, seq)` key over every row the source read for
  the window (admission's `duplicate_signal` count over `source_rows`, superseded stored versions
  included), as the reference divides its duplicates by the batch's rows.
- `null_rate_by_field`: per required feature, the share of admitted rows where it is null. The gate
  fails when **any one** of `macd`, `macd_signal`, `rsi14` is over the limit; `price` is reported but
  not gated (the reference's `QUALITY_GATED_REQUIRED_FIELDS`). The rates are not pooled over the fields.
  Our own addition, not the reference's: for the gated fields, rows whose bar closed within the first
  `warmup_minutes` of its session (`0 < event_ts - open <= warmup_minutes`, the open from
  `market_calendar`) are indicator warm-up and left out of both the count and the rows it is divided
  by (`warmup_rows` says how many); with no row left the rate is 0. Our indicators restart at every
  open (`indicators.py`: `rsi14` first exists on the session's 15th bar, which closes 15 minutes after
  the open; the `adjust=False` EMAs behind `macd`/`macd_signal` exist from the first bar), while the
  reference's run continuously. `warmup_minutes=0` leaves every row in: the reference's gate exactly.
  `price` is divided by every admitted row.
- `staleness_ms_p95`: the 95th percentile (`statistics.quantiles(n=100, method="inclusive")`, truncated
  to an int) of each admitted row's `ingest_ts - event_ts` in whole milliseconds (truncated, floored at 0):
  the feed's own lag, so a replay of a past window measures the same.
- `schema_mismatch_total`: rows whose declared feature schema version has a major other than the one this
  code reads (3, `research.FEATURE_SCHEMA_VERSION`). The frame has no per-row declaration, so a source
  declares it for its whole frame in `frame.attrs["feature_schema_version"]`; undeclared or unparseable
  counts as compatible, as in the reference. Any mismatch fails the gate.

An empty batch passes (the window already has its empty-window reason).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pandas as pd

from torghut_assets.domain.market_calendar import EXCHANGE_TZ, session_opens_closes
from torghut_assets.domain.research import FEATURE_SCHEMA_VERSION
from torghut_assets.domain.signal_quality import REJECT_DUPLICATE, AdmittedSignals


class FeatureQualityReason(StrEnum):
    """Why a batch failed; the values are the reference's reason codes."""

    SCHEMA_MISMATCH = "schema_mismatch"
    REQUIRED_NULL_RATE = "required_feature_null_rate_exceeds_threshold"
    STALENESS = "feature_staleness_exceeds_budget"
    DUPLICATE_RATIO = "duplicate_ratio_exceeds_threshold"


FEATURE_QUALITY_GATE_FAILED = "feature_quality_gate_failed"
"""The window's `no_signal_reason` when a gate fails; `no_signal_detail` lists the reasons."""

REQUIRED_FEATURE_FIELDS: tuple[str, ...] = ("price", "macd", "macd_signal", "rsi14")
"""The reference's `FEATURE_VECTOR_V3_REQUIRED_FIELDS` (features.py), as frame columns."""
QUALITY_GATED_REQUIRED_FIELDS: tuple[str, ...] = tuple(f for f in REQUIRED_FEATURE_FIELDS if f != "price")
FEATURE_SCHEMA_VERSION_ATTR = "feature_schema_version"
"""`frame.attrs` key: the feature schema version a source declares for the frame it returns."""


def schema_major(declared: object) -> int | None:
    """The major of `3.0.0`, `v3`, `V3.1`; None when there is no leading number (features.py
    `_extract_major_version`)."""
    cleaned = str(declared).strip().lower()
    if cleaned.startswith("v"):
        cleaned = cleaned[1:]
    head = cleaned.split(".", 1)[0]
    return int(head) if head.isdecimal() else None


READ_SCHEMA_MAJOR = schema_major(FEATURE_SCHEMA_VERSION)


def declares_compatible_schema(declared: object) -> bool:
    """True unless a version is declared whose major differs from the one read here
    (features.py `signal_declares_compatible_schema`)."""
    if declared is None:
        return True
    major = schema_major(declared)
    return major is None or major == READ_SCHEMA_MAJOR


DEFAULT_FEATURE_WARMUP_MINUTES = 15
"""`indicators.compute_signals` leaves `rsi14` null on each session's first 14 bars (closing 1-14 minutes
after the open) and gives its first value on the 15th, which closes 15 minutes after it: the warm-up runs
through that first value. The `adjust=False` EMAs behind `macd` and `macd_signal` have a value from the
first bar, so they have no warm-up nulls."""


@dataclass(frozen=True)
class FeatureQualityLimits:
    """The reference's `FeatureQualityThresholds`, names and defaults (TRADING_FEATURE_MAX_*), plus our
    session warm-up (TRADING_FEATURE_WARMUP_MINUTES; 0 is the reference's behaviour)."""

    max_required_null_rate: float = 0.01
    max_staleness_ms: int = 120_000
    max_duplicate_ratio: float = 0.02
    warmup_minutes: int = DEFAULT_FEATURE_WARMUP_MINUTES

    def __post_init__(self) -> None:
        for name in ("max_required_null_rate", "max_staleness_ms", "max_duplicate_ratio", "warmup_minutes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"feature quality limit {name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"feature quality limit {name} must be a finite number >= 0, got {value!r}")
        for name in ("max_staleness_ms", "warmup_minutes"):
            if not float(getattr(self, name)).is_integer():
                raise ValueError(f"feature quality limit {name} must be whole, got {getattr(self, name)!r}")

    def as_dict(self) -> dict[str, float | int]:
        return {
            "max_required_null_rate": self.max_required_null_rate,
            "max_staleness_ms": int(self.max_staleness_ms),
            "max_duplicate_ratio": self.max_duplicate_ratio,
            "warmup_minutes": int(self.warmup_minutes),
        }


@dataclass(frozen=True)
class FeatureQualityReport:
    """Every figure measured on one window's batch, the limits it was judged by, and the failed reasons."""

    limits: FeatureQualityLimits
    rows_total: int = 0
    source_rows: int = 0
    duplicate_total: int = 0
    duplicate_ratio: float = 0.0
    null_rate_by_field: Mapping[str, float] = field(
        default_factory=lambda: dict.fromkeys(REQUIRED_FEATURE_FIELDS, 0.0)
    )
    warmup_rows: int = 0
    """Admitted rows inside their session's warm-up, left out of the gated fields' null rates."""
    staleness_ms_p95: int = 0
    declared_schema_version: str | None = None
    schema_mismatch_total: int = 0
    reasons: tuple[FeatureQualityReason, ...] = ()

    @property
    def accepted(self) -> bool:
        return not self.reasons

    @property
    def detail(self) -> str | None:
        """The failed reasons, comma-separated in sorted order (at most 127 characters: fits
        `signal_ingest_windows.no_signal_detail`); None when the batch passed."""
        return ",".join(r.value for r in self.reasons) if self.reasons else None

    def as_metadata(self) -> dict[str, object]:
        return {
            "accepted": self.accepted,
            "reasons": [r.value for r in self.reasons],
            "limits": self.limits.as_dict(),
            "rows_total": self.rows_total,
            "source_rows": self.source_rows,
            "duplicate_total": self.duplicate_total,
            "duplicate_ratio": self.duplicate_ratio,
            "null_rate_by_field": dict(self.null_rate_by_field),
            "gated_null_fields": list(QUALITY_GATED_REQUIRED_FIELDS),
            "warmup_rows": self.warmup_rows,
            "staleness_ms_p95": self.staleness_ms_p95,
            "declared_schema_version": self.declared_schema_version,
            "schema_mismatch_total": self.schema_mismatch_total,
        }


def evaluate_feature_quality(
    admitted: AdmittedSignals,
    limits: FeatureQualityLimits | None = None,
    *,
    declared_schema_version: object = None,
) -> FeatureQualityReport:
    """Judge one lane window's admitted batch against `limits` (the reference defaults when None)."""
    limits = limits or FeatureQualityLimits()
    frame = admitted.frame
    rows = len(frame)
    declared = None if declared_schema_version is None else str(declared_schema_version)
    if rows == 0:
        return FeatureQualityReport(
            limits=limits, source_rows=admitted.source_rows, declared_schema_version=declared
        )
    duplicates = int(admitted.rejected.get(REJECT_DUPLICATE, 0))
    duplicate_ratio = duplicates / admitted.source_rows
    warmup = in_session_warmup(frame["event_ts"], limits.warmup_minutes)
    null_rates = required_null_rates(frame, warmup)
    staleness = staleness_p95_ms(row_staleness_ms(frame))
    mismatched = 0 if declares_compatible_schema(declared) else rows
    failed = set()
    if mismatched > 0:
        failed.add(FeatureQualityReason.SCHEMA_MISMATCH)
    if any(null_rates[name] > limits.max_required_null_rate for name in QUALITY_GATED_REQUIRED_FIELDS):
        failed.add(FeatureQualityReason.REQUIRED_NULL_RATE)
    if staleness > limits.max_staleness_ms:
        failed.add(FeatureQualityReason.STALENESS)
    if duplicate_ratio > limits.max_duplicate_ratio:
        failed.add(FeatureQualityReason.DUPLICATE_RATIO)
    return FeatureQualityReport(
        limits=limits,
        rows_total=rows,
        source_rows=admitted.source_rows,
        duplicate_total=duplicates,
        duplicate_ratio=duplicate_ratio,
        null_rate_by_field=null_rates,
        warmup_rows=int(warmup.sum()),
        staleness_ms_p95=staleness,
        declared_schema_version=declared,
        schema_mismatch_total=mismatched,
        reasons=tuple(sorted(failed)),
    )


def in_session_warmup(event_ts: pd.Series, minutes: int) -> npt.NDArray[np.bool_]:
    """Per row: did its bar close within the first `minutes` of its session, `0 < event_ts - open <=
    minutes` with the open of the exchange date of `event_ts` (`market_calendar.session_opens_closes`)?
    Rows on a closed day or at/before the open are not warm-up; `minutes=0` marks none."""
    if minutes <= 0 or event_ts.empty:
        return np.zeros(len(event_ts), dtype=bool)
    ts = pd.DatetimeIndex(event_ts)
    local_day = ts.tz_convert(EXCHANGE_TZ).tz_localize(None).to_numpy().astype("datetime64[D]")
    utc = ts.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[us]")
    opens, _ = session_opens_closes(local_day)
    in_session = ~np.isnat(opens)
    since_open = np.where(in_session, utc - opens, np.timedelta64(0, "us"))
    limit = np.timedelta64(int(minutes), "m").astype("timedelta64[us]")
    return np.asarray(in_session & (since_open > np.timedelta64(0, "us")) & (since_open <= limit))


def required_null_rates(frame: pd.DataFrame, warmup: npt.NDArray[np.bool_]) -> dict[str, float]:
    """Each required field's null share: the gated fields over the rows outside `warmup` (0 when there
    are none), `price` over every row."""
    nulls = frame[list(REQUIRED_FEATURE_FIELDS)].isna().to_numpy()
    judged = ~warmup
    judged_rows = int(judged.sum())
    rates = {}
    for i, name in enumerate(REQUIRED_FEATURE_FIELDS):
        if name in QUALITY_GATED_REQUIRED_FIELDS:
            rates[name] = int(nulls[judged, i].sum()) / judged_rows if judged_rows else 0.0
        else:
            rates[name] = int(nulls[:, i].sum()) / len(frame)
    return rates


def row_staleness_ms(frame: pd.DataFrame) -> list[int]:
    """Each row's `ingest_ts - event_ts` as the reference computes it (features.py `_staleness_ms`):
    `max(0, int(delta.total_seconds() * 1000))`, the same float operations, so 1.001 s counts 1000 ms."""
    lag = (frame["ingest_ts"] - frame["event_ts"]).to_numpy().astype("timedelta64[us]").astype(np.int64)
    seconds = lag / 1e6  # timedelta.total_seconds(): the exact microseconds over 10**6, correctly rounded
    return np.maximum(np.trunc(seconds * 1000.0), 0.0).astype(np.int64).tolist()  # type: ignore[no-any-return]


def staleness_p95_ms(values: list[int]) -> int:
    """feature_quality.py `_p95`: 0 for none, the value for one, else the inclusive 95th percentile."""
    if not values:
        return 0
    if len(values) == 1:
        return values[0]
    return int(statistics.quantiles(values, n=100, method="inclusive")[94])
