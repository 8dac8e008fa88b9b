"""Settings are validated when the code location loads; production refuses dev shortcuts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from torghut_assets.settings import SettingsError, load_settings

PRODUCTION_OK = {
    "TORGHUT_ENV": "production",
    "APCA_API_KEY_ID": "PKTEST",
    "APCA_API_SECRET_KEY": "not-a-real-secret",
    "TORGHUT_SIGNAL_SOURCE": "sql",
    "TORGHUT_SIGNAL_SOURCE_URL": "postgresql+psycopg2://torghut@db/ta",
    "TRADING_UNIVERSE_SOURCE": "jangar",
    "JANGAR_SYMBOLS_URL": "http://jangar.internal/symbols",
}


def test_dev_defaults_need_no_environment() -> None:
    settings = load_settings({})
    assert (settings.profile, settings.effective_signal_source, settings.universe_source) == (
        "dev",
        "simulator",
        "static",
    )


def test_a_complete_production_profile_loads() -> None:
    assert load_settings(PRODUCTION_OK).effective_signal_source == "sql"


def test_production_refuses_a_static_universe() -> None:
    env = {
        **PRODUCTION_OK,
        "TRADING_UNIVERSE_SOURCE": "static",
        "TRADING_UNIVERSE_STATIC_SYMBOLS": "AAPL,MSFT",
    }
    with pytest.raises(SettingsError, match="TRADING_UNIVERSE_SOURCE"):
        load_settings(env)


def test_production_lists_every_problem_at_once() -> None:
    env = {"TORGHUT_ENV": "production", "TORGHUT_SIGNAL_SOURCE": "alpaca"}
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    text = str(raised.value)
    assert "APCA_API_KEY_ID" in text and "TRADING_UNIVERSE_SOURCE" in text
    assert len(raised.value.problems) >= 2


def test_dev_source_without_credentials_falls_back_to_the_simulator_and_says_so() -> None:
    settings = load_settings({"TORGHUT_SIGNAL_SOURCE": "alpaca"})
    assert settings.effective_signal_source == "simulator"
    assert settings.fallback_note and "APCA_API_KEY_ID" in settings.fallback_note


def test_unknown_values_are_named() -> None:
    with pytest.raises(SettingsError, match="TORGHUT_SIGNAL_SOURCE='kafka'"):
        load_settings({"TORGHUT_SIGNAL_SOURCE": "kafka"})


def test_loading_the_code_location_with_a_bad_production_profile_fails_with_the_message() -> None:
    env = {"TORGHUT_ENV": "production", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", "import torghut_assets.definitions"], capture_output=True, text=True, env=env
    )
    assert out.returncode != 0
    assert "TORGHUT_SIGNAL_SOURCE=simulator is refused in production" in out.stderr


def test_production_refuses_an_empty_lean_allowlist() -> None:
    env = {
        **PRODUCTION_OK,
        "TRADING_LEAN_RUNNER_URL": "http://lean:8080",
        "TRADING_EXECUTION_ADAPTER_POLICY": "allowlist",
        "TRADING_EXECUTION_FALLBACK_ADAPTER": "none",
    }
    with pytest.raises(SettingsError, match="TRADING_EXECUTION_ADAPTER_SYMBOLS"):
        load_settings(env)


def test_production_needs_an_execution_venue() -> None:
    with pytest.raises(SettingsError, match="needs an execution venue"):
        env = {k: v for k, v in PRODUCTION_OK.items() if not k.startswith("APCA_")}
        load_settings({**env, "TRADING_EXECUTION_FALLBACK_ADAPTER": "none"})
