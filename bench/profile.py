"""Profile one side of one workload with pyinstrument, on the data `bench.run` would prepare.

Usage: python -m bench.profile research_sweep [project|baseline] [--quick] [--size N] [--backend B]
"""

from __future__ import annotations

import argparse
import importlib

from pyinstrument import Profiler

from bench.run import CACHE, cleanup


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workload")
    parser.add_argument("side", nargs="?", default="project", choices=("project", "baseline"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--size", type=int, default=0, help="index into the workload's sizes")
    parser.add_argument("--backend", default="")
    args = parser.parse_args(argv)
    module = importlib.import_module(f"bench.{args.workload}")
    size = module.sizes("quick" if args.quick else "full")[args.size]
    state = module.prepare(size, args.backend or module.BACKEND_NAMES[0], CACHE)
    try:
        run = getattr(module, args.side)(state)
        profiler = Profiler()
        with profiler:
            run()
        print(profiler.output_text(unicode=True, color=False, short_mode=True))
    finally:
        cleanup(module, state)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
