"""The benchmarks import the package inside their functions (so `bench.run` loads only what a workload
needs): a name that moves must not leave a benchmark that fails only when someone runs it."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _package_imports() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(BENCH.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("torghut_assets"):
                found += [(path.name, node.module, alias.name) for alias in node.names]
    return found


@pytest.mark.parametrize(("bench_file", "module", "name"), _package_imports())
def test_every_name_a_benchmark_imports_from_the_package_exists(
    bench_file: str, module: str, name: str
) -> None:
    imported = importlib.import_module(module)
    assert hasattr(imported, name) or importlib.util.find_spec(f"{module}.{name}") is not None, (
        f"{bench_file} imports {name} from {module}, which has no such name"
    )
