"""Time one side of a workload in a fresh process, so its peak RSS is its own.

Both sides of a row run in the same benchmark run, on the same prepared data, one after the other; each
in a newly spawned interpreter whose setup (imports, loading the prepared data) is not timed. Peak RSS
is the larger of the process's own high-water mark and that of any subprocess it waited for. On a
shared 2-core machine one run is noise-prone, so a side may be repeated and its best time kept.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mib: float
    result: Any


def _peak_rss_mib() -> float:
    """VmHWM, not ru_maxrss: a spawned interpreter is fork+exec of the parent, and ru_maxrss survives
    exec, so it would report the parent's peak (e.g. the data generator's)."""
    status = Path("/proc/self/status").read_text().splitlines()
    own_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    children_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own_kib, children_kib) / 1024.0


def _child(conn: Any, module: str, side: str, state: dict[str, Any], repeats: int) -> None:
    try:
        run = getattr(importlib.import_module(module), side)(state)
        best, result = float("inf"), None
        for attempt in range(repeats):
            started = time.perf_counter()
            outcome = run()
            best = min(best, time.perf_counter() - started)
            result = outcome if attempt == 0 else result
        conn.send(("ok", best, _peak_rss_mib(), result))
    except BaseException as exc:
        conn.send(("error", 0.0, _peak_rss_mib(), f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def measure(module: str, side: str, state: dict[str, Any], repeats: int = 1) -> Measured:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(child, module, side, state, repeats))
    process.start()
    child.close()
    status, seconds, rss, result = parent.recv()
    process.join()
    if status != "ok":
        raise RuntimeError(f"{module}.{side} failed: {result}")
    return Measured(seconds, rss, result)
