"""Write requirements.lock: every package that `pip install -e '.[dev]'` installs, pinned (`make lock`).

pip's own resolver does the work (`pip install --dry-run --ignore-installed --report`), so nothing is
installed. The only network it needs is the package index.

- By default the current pins are kept wherever pyproject.toml still allows them. The old lock is passed
  as constraints: a new dependency gets the newest version that fits, a dropped one leaves the lock.
  If pyproject.toml now conflicts with a pin, the whole set is resolved afresh and the script says so.
- `--upgrade` (`make lock UPGRADE=1`) resolves afresh: the newest versions pyproject.toml allows.

The result is deterministic: the same resolution writes the same bytes. `make venv` installs with
`-c requirements.lock`, so a fresh machine gets exactly these versions.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
PROJECT = "torghut-assets"
# Like pip-compile, leave out the packaging tools themselves: the venv brings its own (`make venv`
# upgrades pip; setuptools is the one ensurepip installs), and pinning them here would replace them.
UNPINNED = frozenset({PROJECT, "pip", "setuptools"})
HEADER = """\
# Every package `pip install -e '.[dev]'` installs (runtime dependencies + the dev extra), pinned.
# `make venv` installs with `-c requirements.lock`. As a constraints file it pins versions and installs
# nothing by itself: a package listed here that the platform does not need is ignored. pip and
# setuptools are left to the virtualenv.
# Regenerate with `make lock` (keeps these pins where pyproject.toml allows them) or
# `make lock UPGRADE=1` (the newest versions pyproject.toml allows). Do not edit by hand.
# Resolved with CPython {python} on {platform}.
"""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def resolve(constraints: Path | None) -> dict[str, str] | None:
    """{name: version} that pip would install for `.[dev]`; None if pip cannot resolve it."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--dry-run",
            "--ignore-installed",
            "--report",
            str(report),
        ]
        if constraints is not None:
            command += ["--constraint", str(constraints)]
        command.append(f"{ROOT}[dev]")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            return None
        data = json.loads(report.read_text())
    pins = {canonical(item["metadata"]["name"]): item["metadata"]["version"] for item in data["install"]}
    return {name: version for name, version in pins.items() if name not in UNPINNED}


def render(pins: dict[str, str]) -> str:
    header = HEADER.format(
        python=".".join(platform.python_version_tuple()[:2]),
        platform=f"{platform.system()} {platform.machine()}",
    )
    return header + "".join(f"{name}=={pins[name]}\n" for name in sorted(pins))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true", help="ignore the current pins")
    parser.add_argument("--output", type=Path, default=LOCK)
    args = parser.parse_args(argv)
    pins = None
    if not args.upgrade and args.output.is_file():
        pins = resolve(args.output)
        if pins is None:
            sys.stderr.write(f"{args.output.name}: a pin conflicts with pyproject.toml; resolving afresh\n")
    if pins is None:
        pins = resolve(None)
    if pins is None:
        print("pip could not resolve .[dev]; the lock is unchanged", file=sys.stderr)
        return 1
    text = render(pins)
    changed = not args.output.is_file() or args.output.read_text() != text
    args.output.write_text(text)
    print(f"{args.output.name}: {len(pins)} packages pinned{'' if changed else ', unchanged'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
