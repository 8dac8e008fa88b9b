"""The markdown table every report and asset page uses, so a table reads the same in the UI, in a
reconciliation report and in a CLI printout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """None renders as an empty cell: an absent figure is shown as absent, never as the word None."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
