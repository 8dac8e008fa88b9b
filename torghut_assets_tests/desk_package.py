"""The example desk strategy package (`fixtures/desk_strategies/`), installed for one test only.

It is a separate project with its own pyproject.toml and is never installed into the environment: a test
that needs it puts its folder on sys.path (`monkeypatch.syspath_prepend`), and the modules it imported
are dropped again afterwards, so every other test runs without it, as a deployment without the desk's
package would.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

DESK_PACKAGE_ROOT = Path(__file__).parent / "fixtures" / "desk_strategies"
BOLLINGER = "desk_strategies:BollingerReversion"


def forget_desk_modules() -> None:
    for name in [m for m in sys.modules if m == "desk_strategies" or m.startswith("desk_strategies.")]:
        del sys.modules[name]


@contextmanager
def desk_package_installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`desk_strategies` importable inside the block (until `monkeypatch` restores sys.path at the end of
    the test); yields the Bollinger strategy's reference. Its modules are forgotten on the way out."""
    forget_desk_modules()
    monkeypatch.syspath_prepend(str(DESK_PACKAGE_ROOT))
    try:
        yield BOLLINGER
    finally:
        forget_desk_modules()
