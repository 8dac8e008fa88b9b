"""Canonical JSON and sha256: the basis of every id, trace id and hash link in the evidence chain.

Hashes must not depend on key order, float repr noise or timezone spelling, or replaying a window
would produce a different chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

FLOAT_DIGITS = 10


def canonical_value(value: Any) -> Any:
    """Normalize a value into plain JSON types; raises on NaN/inf, which are never valid evidence."""
    if value is None or isinstance(value, bool | str):
        return value.value if isinstance(value, StrEnum) else value  # a vocabulary member is its value
    if isinstance(value, np.generic):
        return canonical_value(value.item())
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite number {value!r} cannot enter the evidence chain")
        rounded = round(value, FLOAT_DIGITS)
        return 0.0 if rounded == 0 else rounded
    if isinstance(value, pd.Timestamp | dt.datetime):
        ts = pd.Timestamp(value)
        if ts.tzinfo is None:
            raise ValueError(f"naive timestamp {value!r} cannot enter the evidence chain")
        return ts.tz_convert("UTC").isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): canonical_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [canonical_value(v) for v in value]
        return sorted(items, key=canonical_json) if isinstance(value, set | frozenset) else items
    raise TypeError(f"{type(value).__name__} is not canonical-JSON serializable")


def canonical_json(value: Any) -> str:
    """Sorted keys, compact separators, fixed float precision, UTC 'Z' timestamps."""
    return json.dumps(
        canonical_value(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def sha256_hex(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def frame_content_hash(frame: pd.DataFrame, columns: list[str] | None = None) -> str:
    """Order-independent hash of a frame's content: rows sorted, floats at fixed precision, NaN empty.

    CSV with a fixed float format is both canonical and fast enough for tens of thousands of rows.
    """
    cols = columns or sorted(frame.columns)
    ordered = frame[cols].copy()
    for col in cols:
        if isinstance(ordered[col].dtype, pd.DatetimeTZDtype):
            ordered[col] = ordered[col].dt.tz_convert("UTC")
        elif pd.api.types.is_datetime64_dtype(ordered[col].dtype):
            raise ValueError(f"column {col!r} holds naive timestamps; evidence hashes need UTC-aware times")
    ordered = ordered.sort_values(cols, kind="mergesort").reset_index(drop=True)
    text = ordered.to_csv(
        index=False,
        float_format=f"%.{FLOAT_DIGITS}g",
        date_format="%Y-%m-%dT%H:%M:%S.%fZ",
        na_rep="",
        lineterminator="\n",
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
