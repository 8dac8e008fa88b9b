"""Field rules shared by the Launchpad configs that act on a lane: the lane must be in the catalog, and
whoever acts must be named and say why (actions are attributed and explained in the ledger)."""

from __future__ import annotations

from typing import Any

from torghut_assets.domain.lanes import lane_config


def configured_lane(cls: Any, value: str) -> str:
    """A lane the catalog declares (the error names the configured lanes)."""
    lane_config(value)
    return value


def attributed(cls: Any, value: str) -> str:
    """Stripped text that is not blank: an anonymous or unexplained action is refused before it runs."""
    if not value.strip():
        raise ValueError("must not be blank: every action on a lane is attributed and explained")
    return value.strip()
