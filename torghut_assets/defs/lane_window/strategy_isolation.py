"""A lane window whose strategy fails fails alone, and says why in one line (docs/strategies.md).

Why here and not in each asset: every step that calls a strategy (decisions, research candidates, folds,
stress, replay) must turn a strategy's failure into the same thing: a `dg.Failure` of that lane window's
step naming the lane, the window, the strategy and the problem, without the strategy's stack trace
(the strategy's own frames are noise to an operator; the message says what it raised). The step fails
before its ledger transaction, so nothing of the window is written; other lanes are other partitions,
hence other runs, and never see it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from torghut_assets.domain.lanes import LaneWindow
from torghut_assets.domain.strategy_calls import strategy_scope
from torghut_assets.domain.strategy_interface import StrategyLoadError, StrategyRunError

STRATEGY_UNAVAILABLE = "strategy_unavailable"
FAILURE_CODE_KEY = "strategy_error_code"


def strategy_failure(window: LaneWindow, ref: str, code: str, problem: str) -> dg.Failure:
    return dg.Failure(
        description=(
            f"lane {window.lane} window {window.start.isoformat()}: strategy {ref} failed ({code}): {problem}"
        ),
        metadata={
            "lane": window.lane,
            "window": window.start.isoformat(),
            "strategy": ref,
            FAILURE_CODE_KEY: code,
            "problem": problem,
        },
        allow_retries=False,
    )


@contextmanager
def isolated_strategy(window: LaneWindow, timeout_seconds: float) -> Iterator[None]:
    """Strategy calls in the block name the window and get `timeout_seconds` each; a strategy that raises,
    answers garbage, overruns or does not load becomes a `dg.Failure` of this window (see module doc)."""
    ref = window.config.strategy_type
    with strategy_scope(window=window.label(), timeout_seconds=timeout_seconds):
        try:
            yield
        except StrategyRunError as exc:
            raise strategy_failure(window, exc.strategy, exc.code, exc.problem) from None
        except StrategyLoadError as exc:
            raise strategy_failure(window, ref, STRATEGY_UNAVAILABLE, str(exc)) from None


def is_strategy_failure(exc: BaseException) -> bool:
    return isinstance(exc, dg.Failure) and FAILURE_CODE_KEY in (exc.metadata or {})
