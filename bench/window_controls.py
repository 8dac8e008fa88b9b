"""What this round's window controls cost, as ratios against the work the window already does.

Two pairs, each timed in this process on the same data, best of `--repeats`:

- feature quality gate: `evaluate_feature_quality` (duplicate ratio, warm-up-aware null rates, p95
  staleness, schema) against `admit_signals` on the same raw window — the admission every window
  already pays;
- plug-in strategy: `strategy_actions` on the desk's example strategy (sorted copy, worker thread with
  its time budget, output checks, actions put back in frame order) against the least any caller must
  do: sort the frame and call the strategy's own `actions`.

Usage: python -m bench.window_controls [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bench.datagen import minute_signals
from torghut_assets.domain.feature_quality import FeatureQualityLimits, evaluate_feature_quality
from torghut_assets.domain.signal_quality import admit_signals
from torghut_assets.domain.strategies import strategy_actions
from torghut_assets.domain.strategy_registry import resolve_strategy, strategy_spec

DESK_PACKAGE = Path(__file__).resolve().parents[1] / "torghut_assets_tests" / "fixtures" / "desk_strategies"


def best(call: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def one_window(n_symbols: int) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp]:
    """The second hour of a session (bars past the warm-up) for `n_symbols` symbols."""
    frame = minute_signals(n_symbols, 1)
    start = frame["event_ts"].min().floor("h") + pd.Timedelta(hours=1)
    end = start + pd.Timedelta(hours=1)
    window = frame[(frame["event_ts"] > start) & (frame["event_ts"] <= end)].reset_index(drop=True)
    return window, start, end


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sizes = (50, 200) if args.quick else (100, 500, 2000)
    sys.path.insert(0, str(DESK_PACKAGE))
    ref = "desk_strategies:BollingerReversion"
    print(
        "| symbols | rows | gate ms | admission ms | gate/admission | plug-in ms | direct ms | plug-in/direct |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        print(row(n, ref, args.repeats))


def row(n: int, ref: str, repeats: int) -> str:
    plugin = resolve_strategy(ref)
    spec = strategy_spec(ref)
    params = dict(spec.params)
    window, start, end = one_window(n)
    universe = sorted(window["symbol"].unique())
    admitted = admit_signals(window, window_start=start, window_end=end, universe=universe)
    limits = FeatureQualityLimits()
    admission = best(
        lambda: admit_signals(window, window_start=start, window_end=end, universe=universe), repeats
    )
    gate = best(lambda: evaluate_feature_quality(admitted, limits), repeats)
    frame = admitted.frame
    wrapped = best(lambda: strategy_actions(frame, spec), repeats)
    direct = best(
        lambda: plugin.actions(
            frame.sort_values(["symbol", "event_ts", "seq"]).reset_index(drop=True), params
        ),
        repeats,
    )
    return (
        f"| {n} | {len(frame)} | {gate * 1e3:.1f} | {admission * 1e3:.1f} | {gate / admission:.2f} "
        f"| {wrapped * 1e3:.1f} | {direct * 1e3:.1f} | {wrapped / direct:.2f} |"
    )


if __name__ == "__main__":
    main()
