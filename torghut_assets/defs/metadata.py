"""Asset metadata shown in the UI: counts, a markdown summary, artifact links."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import dagster as dg

from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.markdown import markdown_table

__all__ = ["markdown_table", "window_metadata"]


def window_metadata(window: LaneWindow, rows: int, summary: str, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "lane": window.lane,
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
        "dagster/row_count": dg.MetadataValue.int(rows),
        "summary": dg.MetadataValue.md(summary),
    }
    for key, value in extra.items():
        values[key] = _metadata_value(value)
    return values


def _metadata_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dg.MetadataValue.json(dict(value))
    if isinstance(value, list):
        return dg.MetadataValue.json(value)
    if value is None:
        return dg.MetadataValue.text("null")
    if isinstance(value, StrEnum):  # Dagster serializes only plain strings, not domain vocabulary members
        return value.value
    return value
