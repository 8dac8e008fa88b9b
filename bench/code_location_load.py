"""Code location load: `dagster definitions validate` of torghut_assets vs of an empty Definitions."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

NAME = "Code location load"
BASELINE = "`dagster definitions validate` of an empty Definitions"
TARGET = "< 3 s absolute, < 2× empty"
TARGET_RATIO = 2.0
BACKEND_NAMES = ("sqlite",)
SIZE_UNIT = None  # the size key growth is measured in (None: one size)
DAGSTER = str(Path(sys.executable).with_name("dagster"))


def meets(ratio: float, project_seconds: float) -> bool:
    return ratio < TARGET_RATIO and project_seconds < 3.0


def sizes(scale: str) -> list[dict[str, Any]]:
    return [{"module": "torghut_assets.definitions"}]


def size_label(size: dict[str, Any]) -> str:
    return "whole code location"


def prepare(size: dict[str, Any], backend: str, cache: Path) -> dict[str, Any]:
    return dict(size)


def _validate(module: str) -> Callable[[], int]:
    def run() -> int:
        done = subprocess.run(
            [DAGSTER, "definitions", "validate", "-m", module], capture_output=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr.decode()[-2000:])
        return done.returncode

    return run


def project(state: dict[str, Any]) -> Callable[[], int]:
    return _validate(state["module"])


def baseline(state: dict[str, Any]) -> Callable[[], int]:
    return _validate("bench.empty_definitions")


def compare(project_result: int, baseline_result: int) -> tuple[bool, str]:
    return project_result == baseline_result == 0, "both validate"
