"""requirements.lock pins what pyproject.toml asks for (`make lock` regenerates it; `make venv` installs
with it as constraints). A dependency added to pyproject.toml without `make lock`, or a pin that no
longer satisfies its specifier, fails here rather than on a fresh machine."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, Version]:
    found: dict[str, Version] = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep and name.strip() and version.strip(), f"not a pin: {line!r}"
        assert canonical(name) not in found, f"pinned twice: {name}"
        found[canonical(name)] = Version(version.strip())
    return found


def project_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    raw = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [r for r in map(Requirement, raw) if r.marker is None or r.marker.evaluate()]


def test_every_pin_is_exact_and_sorted() -> None:
    names = list(pins())
    assert names == sorted(names)
    assert "torghut-assets" not in names


def test_every_runtime_and_dev_requirement_is_pinned_within_its_specifier() -> None:
    locked = pins()
    problems = []
    for requirement in project_requirements():
        version = locked.get(canonical(requirement.name))
        if version is None:
            problems.append(f"{requirement} is not in requirements.lock (run `make lock`)")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement}: requirements.lock pins {version} (run `make lock`)")
    assert not problems, "\n".join(problems)


def test_the_makefile_installs_with_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "-c $(LOCK) -e '.[dev]'" in makefile
    assert "LOCK := requirements.lock" in makefile
    assert re.search(r"^\$\(STAMP\): pyproject\.toml \$\(LOCK\)$", makefile, re.MULTILINE)
