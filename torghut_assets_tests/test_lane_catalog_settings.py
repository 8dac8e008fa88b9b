"""The lane catalog as configuration: `TORGHUT_LANE_CATALOG` picks the file, its problems are settings
problems (one line each, naming file, lane and key), `TORGHUT_LANE_MODES` overrides its modes for
operations, and `config check` shows the catalog in effect."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from torghut_assets import catalog_loader
from torghut_assets.catalog_loader import DEFAULT_LANE_CATALOG_PATH, read_catalog
from torghut_assets.cli import main
from torghut_assets.config_registry import REGISTRY
from torghut_assets.defs.lane_window.trading_session import TradingSessionResource
from torghut_assets.domain.lanes import LaneMode
from torghut_assets.settings import SettingsError, load_settings
from torghut_assets_tests.desk_package import BOLLINGER, desk_package_installed

DESK = """
version = 3

[accounts.paper]
equity = 100000.0
broker = "alpaca"

[accounts.sim]
equity = 20000.0

[lanes.trend]
strategy = "ema_trend"
account = "paper"
mode = "paper"

[lanes.sim_trend]
strategy = "ema_trend"
account = "sim"
"""

BAD = """
version = 3

[accounts.paper]
equity = -5

[lanes.trend]
strategy = "no_such_strategy"
account = "paper"
limits = { max_position_pct_equity = 2.0 }

[lanes.other]
strategy = "ema_trend"
account = "desk9"
"""


def write(tmp_path: Path, text: str, name: str = "desk.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_catalog_is_used_when_the_variable_is_unset() -> None:
    settings = load_settings({})
    assert settings.lane_catalog is not None
    assert settings.lane_catalog.source == str(DEFAULT_LANE_CATALOG_PATH)
    assert sorted(settings.lane_catalog.lanes) == ["ema_trend", "macd_rsi"]


def test_an_unreadable_catalog_is_a_settings_problem_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(SettingsError) as raised:
        load_settings({"TORGHUT_LANE_CATALOG": str(missing)})
    assert raised.value.problems == (
        f"TORGHUT_LANE_CATALOG: {missing}: cannot be read: No such file or directory",
    )


def test_every_catalog_problem_is_listed_once_with_file_lane_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, BAD)
    with pytest.raises(SettingsError) as raised:
        load_settings({"TORGHUT_LANE_CATALOG": str(path)})
    at = f"TORGHUT_LANE_CATALOG: {path}"
    assert raised.value.problems == (
        f"{at}: account 'paper': equity: must be > 0, got -5",
        f"{at}: lane 'other': account: 'desk9' is not a declared account (paper)",
        f"{at}: lane 'trend': limits.max_position_pct_equity: must be at most 1, got 2.0",
        f"{at}: lane 'trend': strategy: strategy 'no_such_strategy' is not a built-in "
        "(ema_trend, legacy_macd_rsi) nor an import path 'package.module:attribute'",
    )


def test_the_catalog_sets_the_modes_and_the_lane_modes_variable_overrides_them(tmp_path: Path) -> None:
    path = str(write(tmp_path, DESK))
    assert load_settings({"TORGHUT_LANE_CATALOG": path}).lane_modes == {"trend": LaneMode.PAPER}
    overridden = load_settings({"TORGHUT_LANE_CATALOG": path, "TORGHUT_LANE_MODES": "trend=replay"})
    assert overridden.lane_modes == {"trend": LaneMode.REPLAY}
    with pytest.raises(SettingsError, match="lane 'nope' is not a configured lane"):
        load_settings({"TORGHUT_LANE_CATALOG": path, "TORGHUT_LANE_MODES": "nope=paper"})


def test_a_live_lane_in_the_catalog_needs_trading_mode_live(tmp_path: Path) -> None:
    path = str(write(tmp_path, DESK.replace('mode = "paper"', 'mode = "live"')))
    with pytest.raises(SettingsError) as raised:
        load_settings({"TORGHUT_LANE_CATALOG": path, "TRADING_MODE": "paper"})
    assert raised.value.problems == (
        "TORGHUT_LANE_CATALOG: lane 'trend' is in live mode but TRADING_MODE=paper",
    )


def test_the_override_cannot_send_a_simulated_account_to_a_real_venue(tmp_path: Path) -> None:
    path = str(write(tmp_path, DESK))
    with pytest.raises(SettingsError) as raised:
        load_settings({"TORGHUT_LANE_CATALOG": path, "TORGHUT_LANE_MODES": "sim_trend=paper"})
    assert raised.value.problems == (
        "TORGHUT_LANE_MODES puts sim_trend in paper mode but its account 'sim' has broker = 'none' in the "
        "lane catalog (simulated only)",
    )


def test_a_lane_the_override_does_not_name_runs_in_its_catalog_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_loader, "_loaded", read_catalog(write(tmp_path, DESK)))
    session = TradingSessionResource(lane_modes="")
    assert (session.mode("trend"), session.mode("sim_trend"), session.mode("retired")) == (
        LaneMode.PAPER,
        LaneMode.REPLAY,
        LaneMode.REPLAY,
    )
    assert TradingSessionResource(lane_modes="trend=replay").mode("trend") is LaneMode.REPLAY


# --- config check -----------------------------------------------------------------------------------------


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for setting in REGISTRY:
        monkeypatch.delenv(setting.name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    return monkeypatch


def test_config_check_shows_the_catalog_file_checksum_accounts_and_lanes(
    environment: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, DESK + f'\n[lanes.bollinger]\nstrategy = "{BOLLINGER}"\naccount = "sim"\n')
    environment.setenv("TORGHUT_LANE_CATALOG", str(path))
    environment.setenv("TORGHUT_LANE_MODES", "trend=replay")
    with desk_package_installed(environment):
        assert main(["config", "check"]) == 0
    output = capsys.readouterr().out
    checksum = hashlib.sha256(path.read_bytes()).hexdigest()
    assert f"lane catalog: {path}\n  version 3  sha256 {checksum}\n" in output
    assert "  account sim: equity 20000, broker none\n" in output
    assert (
        "  lane bollinger: strategy desk_strategies:BollingerReversion, account sim, mode replay\n" in output
    )
    assert (
        "  lane trend: strategy ema_trend, account paper, mode paper (replay by TORGHUT_LANE_MODES)\n"
        in output
    )


def test_config_check_refuses_a_bad_catalog_naming_each_problem(
    environment: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, BAD)
    environment.setenv("TORGHUT_LANE_CATALOG", str(path))
    assert main(["config", "check"]) == 1
    output = capsys.readouterr().out
    assert "INVALID: 4 problem(s):" in output
    assert (
        f"  - TORGHUT_LANE_CATALOG: {path}: lane 'other': account: 'desk9' is not a declared account"
        in output
    )


def test_the_code_location_refuses_to_load_a_bad_catalog_listing_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, BAD)
    env = {"TORGHUT_LANE_CATALOG": str(path), "DAGSTER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", "import torghut_assets.definitions"], capture_output=True, text=True, env=env
    )
    assert out.returncode != 0
    assert "CatalogError: lane catalog has 4 problem(s):" in out.stderr
    assert (
        f"  - {path}: lane 'trend': limits.max_position_pct_equity: must be at most 1, got 2.0" in out.stderr
    )
