"""`make bench`: every workload, project vs baseline in the same run, with peak RSS and growth.

Usage: python -m bench.run [--quick] [--only research_sweep,...] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import itertools
import math
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.measure import measure

WORKLOADS = (
    "research_sweep",
    "reconciliation_scale",
    "profitability_scale",
    "ledger_ingest",
    "code_location_load",
    "lane_window_e2e",
)
CACHE = Path(os.environ.get("TORGHUT_BENCH_CACHE", Path(__file__).resolve().parent.parent / ".bench_cache"))


@dataclass(frozen=True)
class Row:
    workload: str
    backend: str
    size: str
    units: float
    project_s: float
    baseline_s: float
    project_rss: float
    baseline_rss: float
    met: bool
    target: str
    agreement: str

    @property
    def ratio(self) -> float:
        return self.project_s / self.baseline_s if self.baseline_s > 0 else math.inf


def cleanup(module: ModuleType, state: dict[str, Any]) -> None:
    """Workloads that create something outside the process (a database, files) define `cleanup`."""
    drop = getattr(module, "cleanup", None)
    if drop is not None:
        drop(state)


def _meets(module: ModuleType, row_ratio: float, project_s: float) -> bool:
    custom = getattr(module, "meets", None)
    if custom is not None:
        return bool(custom(row_ratio, project_s))
    return row_ratio <= module.TARGET_RATIO


def run_workload(name: str, scale: str, only_backends: set[str]) -> list[Row]:
    module = importlib.import_module(f"bench.{name}")
    rows = []
    for backend in module.BACKEND_NAMES:
        if only_backends and backend not in only_backends:
            continue
        for size in module.sizes(scale):
            state = module.prepare(size, backend, CACHE)
            try:
                repeats = getattr(module, "REPEATS", 3) if scale == "quick" else 1
                project = measure(f"bench.{name}", "project", state, repeats)
                baseline = measure(f"bench.{name}", "baseline", state, repeats)
            finally:
                cleanup(module, state)
            agree, note = module.compare(project.result, baseline.result)
            ratio = project.seconds / baseline.seconds if baseline.seconds > 0 else math.inf
            row = Row(
                module.NAME,
                backend,
                module.size_label(size),
                float(size[module.SIZE_UNIT]) if module.SIZE_UNIT else 1.0,
                project.seconds,
                baseline.seconds,
                project.peak_rss_mib,
                baseline.peak_rss_mib,
                agree and _meets(module, ratio, project.seconds),
                module.TARGET,
                ("" if agree else "DISAGREE: ") + note,
            )
            print(
                f"{row.workload:<22} {backend:<10} {row.size:<48} project {row.project_s:8.3f} s  "
                f"baseline {row.baseline_s:8.3f} s  ratio {row.ratio:6.2f}  rss {row.project_rss:7.0f}/"
                f"{row.baseline_rss:7.0f} MiB  {'met' if row.met else 'MISSED'}  {row.agreement}",
                flush=True,
            )
            rows.append(row)
    return rows


def growth(rows: list[Row]) -> list[str]:
    """Exponent of time in size between consecutive sizes: 1.0 is linear."""
    lines = []
    keys = sorted({(r.workload, r.backend) for r in rows})
    for workload, backend in keys:
        series = [r for r in rows if (r.workload, r.backend) == (workload, backend)]
        steps = []
        for a, b in itertools.pairwise(series):
            if b.units > a.units > 0 and a.project_s > 0 and a.baseline_s > 0:
                p = math.log(b.project_s / a.project_s) / math.log(b.units / a.units)
                q = math.log(b.baseline_s / a.baseline_s) / math.log(b.units / a.units)
                steps.append(f"×{b.units / a.units:.1f} size: project ^{p:.2f}, baseline ^{q:.2f}")
        if steps:
            lines.append(f"| {workload} | {backend} | {'; '.join(steps)} |")
    return lines


def machine() -> str:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in ln
        ),
        platform.processor(),
    )
    mem_kb = next(
        int(ln.split()[1])
        for ln in Path("/proc/meminfo").read_text().splitlines()
        if ln.startswith("MemTotal")
    )
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.0f} GiB RAM, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, {pg or 'psql not found'}, "
        f"commit {commit.stdout.strip() or '?'}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )


def markdown(rows: list[Row], scale: str) -> str:
    head = (
        "| Workload | Backend | Size | Project s | Baseline s | Ratio | Target | Met | Peak RSS project / "
        "baseline (MiB) | Agreement |\n|---|---|---|---:|---:|---:|---|---|---:|---|\n"
    )
    body = "".join(
        f"| {r.workload} | {r.backend} | {r.size} | {r.project_s:.3f} | {r.baseline_s:.3f} | {r.ratio:.2f}× | "
        f"{r.target} | {'yes' if r.met else '**missed**'} | {r.project_rss:.0f} / {r.baseline_rss:.0f} | "
        f"{r.agreement} |\n"
        for r in rows
    )
    grow = "\n".join(
        ["| Workload | Backend | Growth exponent (time ∝ size^k) |", "|---|---|---|", *growth(rows)]
    )
    return f"Scale: `{scale}`. Machine: {machine()}.\n\n{head}{body}\n{grow}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (< 5 min) for frequent runs")
    parser.add_argument("--only", default="", help="comma-separated workload modules")
    parser.add_argument("--backend", default="", help="comma-separated backends (default: all)")
    parser.add_argument("--write", type=Path, help="write the markdown table to this file")
    args = parser.parse_args(argv)
    scale = "quick" if args.quick else "full"
    names = [n for n in args.only.split(",") if n] or list(WORKLOADS)
    unknown = sorted(set(names) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(unknown)}")
    os.environ.setdefault("DAGSTER_HOME", tempfile.mkdtemp(prefix="torghut-bench-home-"))
    by_workload = {
        name: run_workload(name, scale, {b for b in args.backend.split(",") if b}) for name in names
    }
    rows = [row for workload_rows in by_workload.values() for row in workload_rows]
    print("\n" + markdown(rows, scale))
    if args.write:
        for name, workload_rows in by_workload.items():
            write_section(args.write, f"bench:{scale}:{name}", markdown(workload_rows, scale))
    return 0 if all(r.met for r in rows) else 1


def write_section(path: Path, key: str, table: str) -> None:
    """Replace one workload's table between its markers, so a partial run updates only what it ran."""
    text = path.read_text() if path.exists() else ""
    marker = f"<!-- {key} -->"
    section = f"{marker}\n{table}{marker}"
    if marker in text:
        before, _, rest = text.partition(marker)
        _, _, after = rest.partition(marker)
        text = before + section + after
    else:
        text = (text.rstrip() + "\n\n" if text else "") + f"{section}\n"
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
