"""Asset metadata shown in the UI: counts, a markdown summary, artifact links."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import dagster as dg

from torghut_assets.defs.artifact_links import INLINE_MARKDOWN_LIMIT
from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.markdown import markdown_table
from torghut_assets.ledger.artifacts import ArtifactRef

__all__ = [
    "artifact_content",
    "content_addressed",
    "inline_markdown",
    "json_artifact_content",
    "markdown_table",
    "metadata_table",
    "snapshot_note",
    "window_metadata",
]


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


def metadata_table(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> dg.MetadataValue:
    """A table the asset page draws inline (`columns` are (name, Dagster type) pairs, e.g. "int");
    unlike a markdown table it is never folded behind a button, whatever its length."""
    names = [name for name, _ in columns]
    return dg.MetadataValue.table(
        records=[dg.TableRecord(dict(zip(names, row, strict=True))) for row in rows],
        schema=dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in columns]),
    )


def inline_markdown(text: str) -> dg.MetadataValue:
    """Markdown when the UI draws it inline (under 1,000 characters), else the same words as plain text,
    so a long summary is shown rather than hidden behind a button."""
    if len(text) < INLINE_MARKDOWN_LIMIT:
        return dg.MetadataValue.md(text)
    return dg.MetadataValue.text(text)


def snapshot_note(snapshot_at: dt.datetime, current: str) -> str:
    """The sentence that keeps a stale figure honest: when it was read, and where the present is."""
    stamp = snapshot_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"snapshot of {stamp}: current state in {current}"


# An artifact this small (JSON) is also shown in the metadata itself, beside its link: the UI can open it
# even where the artifact root is not served. A busy window's report is larger and stays a link.
INLINE_JSON_LIMIT = 20_000


def artifact_content(key: str, size_bytes: int, content: Any) -> dict[str, Any]:
    """`{key: content as JSON}` when the artifact is small JSON, else nothing."""
    if content is None or size_bytes >= INLINE_JSON_LIMIT:
        return {}
    return {key: dg.MetadataValue.json(content)}


def json_artifact_content(key: str, ref: ArtifactRef | Mapping[str, Any]) -> dict[str, Any]:
    """`{key: content}` of a small JSON artifact read back from the store, else nothing (a large or
    unreadable one is reached through its link alone)."""
    path = Path(str(ref.path if isinstance(ref, ArtifactRef) else ref["path"]))
    if path.suffix != ".json" or not path.is_file() or path.stat().st_size >= INLINE_JSON_LIMIT:
        return {}
    content = json.loads(path.read_text(encoding="utf-8"))
    return {key: dg.MetadataValue.json(content)} if isinstance(content, dict | list) else {}


def content_addressed(path: str) -> dict[str, str]:
    """An artifact known only by its path, as the reference `artifact_link` takes: the store names every
    file by its sha256 (`kind/<sha256>.<suffix>`), so the digest is the file's stem."""
    return {"path": path, "sha256": Path(path).stem}
