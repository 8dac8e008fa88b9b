"""Deterministic row ids: the same natural key always yields the same uuid."""

from __future__ import annotations

import uuid

LEDGER_NAMESPACE = uuid.UUID("6f1c3a52-8d0e-4d8b-9a57-3b1f0c7e2a91")


def row_id(table: str, *natural_key: object) -> str:
    """uuid5 of the table and its natural key, so re-materializing a partition rewrites the same rows."""
    key = "|".join([table, *(str(part) for part in natural_key)])
    return str(uuid.uuid5(LEDGER_NAMESPACE, key))
