"""Which lane catalog this process runs, read once: `TORGHUT_LANE_CATALOG`, else the shipped
`policy/lane_catalog.toml` (docs/lane-catalog.md).

The catalog is read the first time the lanes are asked for (`domain.lanes.LANES`, the lane partitions)
and kept for the life of the process: a code location reload starts a new process (or re-imports the
module), which reads the file again. Parsing and validation are `domain/lane_catalog_parse.py`; this
module only decides the path and reads the bytes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path

from torghut_assets.config_registry import configured
from torghut_assets.domain.lane_catalog import CatalogError, LaneCatalog
from torghut_assets.domain.lane_catalog_parse import parse_catalog

DEFAULT_LANE_CATALOG_PATH = Path(__file__).parent / "policy" / "lane_catalog.toml"

_lock = threading.Lock()
_loaded: LaneCatalog | None = None


def catalog_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(configured(env, "TORGHUT_LANE_CATALOG") or DEFAULT_LANE_CATALOG_PATH)


def read_catalog(path: Path) -> LaneCatalog:
    """The catalog at `path`; a file that cannot be read is a `CatalogError` naming it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogError([f"{path}: cannot be read: {exc.strerror or exc}"]) from exc
    except ValueError as exc:  # e.g. a NUL byte in the path
        raise CatalogError([f"{path!r}: not a usable path: {exc}"]) from exc
    return parse_catalog(data, str(path))


def load_catalog(env: Mapping[str, str] | None = None) -> LaneCatalog:
    """The catalog the environment names, read now (settings validation, `config check`)."""
    return read_catalog(catalog_path(env))


def configured_catalog() -> LaneCatalog:
    """This process's catalog: read from the environment's path on first use, then kept."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = load_catalog()
        return _loaded


__all__ = [
    "DEFAULT_LANE_CATALOG_PATH",
    "CatalogError",
    "catalog_path",
    "configured_catalog",
    "load_catalog",
    "read_catalog",
]
