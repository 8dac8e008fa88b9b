"""Settings are validated when the code location loads; production refuses dev shortcuts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from torghut_assets.domain.gates import GatePolicy
from torghut_assets.settings import SettingsError, load_settings

PRODUCTION_OK = {
    "TORGHUT_ENV": "production",
    "TORGHUT_DATABASE_URL": "postgresql+psycopg2://torghut:pw@ledger-db:5432/torghut",
    "TORGHUT_ARTIFACT_ROOT": "/var/lib/torghut/artifacts",
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


CONTRADICTORY_PRODUCTION = {
    **PRODUCTION_OK,
    "TORGHUT_SIGNAL_SOURCE": "simulator",
    "TRADING_UNIVERSE_SOURCE": "static",
    "TRADING_UNIVERSE_STATIC_SYMBOLS": "AAPL,MSFT",
    "TRADING_LEAN_RUNNER_URL": "http://lean:8080",
    "TRADING_EXECUTION_ADAPTER_POLICY": "allowlist",
    "TORGHUT_APPROVAL_SECRET": "test-approval-secret-0123456789abcdef",
}
CONTRADICTORY_PRODUCTION_PROBLEMS = [
    "TORGHUT_APPROVAL_SECRET is refused in production: dev only: HMAC secret (at least 32 bytes) of "
    "Launchpad approvals; production verifies approvers' Ed25519 signatures and refuses it "
    "(docs/approvals.md)",
    "TORGHUT_SIGNAL_SOURCE=simulator is refused in production: use 'sql' or 'alpaca'",
    "TRADING_UNIVERSE_SOURCE='static' is refused in profile 'production': production takes its universe "
    "from TRADING_UNIVERSE_SOURCE='jangar' only (a static list is accepted only in profile 'dev')",
    "TRADING_EXECUTION_ADAPTER_POLICY=allowlist with an empty TRADING_EXECUTION_ADAPTER_SYMBOLS",
]


def test_a_contradictory_production_profile_lists_each_problem_once() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(CONTRADICTORY_PRODUCTION)
    assert list(raised.value.problems) == CONTRADICTORY_PRODUCTION_PROBLEMS


def test_production_needs_its_ledger_database_and_shared_artifact_folder() -> None:
    env = {
        k: v for k, v in PRODUCTION_OK.items() if k not in ("TORGHUT_DATABASE_URL", "TORGHUT_ARTIFACT_ROOT")
    }
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    assert [p.split(":")[0] for p in raised.value.problems] == [
        "production needs TORGHUT_DATABASE_URL",
        "production needs TORGHUT_ARTIFACT_ROOT",
    ]


def test_a_variable_reported_missing_is_not_reported_again_by_the_rules() -> None:
    env = {
        k: v for k, v in PRODUCTION_OK.items() if k not in ("TRADING_UNIVERSE_SOURCE", "JANGAR_SYMBOLS_URL")
    }
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    assert [p.split(":")[0] for p in raised.value.problems] == [
        "production needs TRADING_UNIVERSE_SOURCE",
        "production needs JANGAR_SYMBOLS_URL",
    ]


def test_a_malformed_value_is_reported_once_and_not_again_by_the_rules() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({**PRODUCTION_OK, "TORGHUT_SIGNAL_SOURCE": "Kafka"})
    assert list(raised.value.problems) == [
        "TORGHUT_SIGNAL_SOURCE='kafka' is not one of 'simulator', 'sql', 'alpaca'"
    ]


def test_a_url_variable_that_is_not_a_url_is_refused_in_any_profile() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"TRADING_LEAN_RUNNER_URL": "lean:8080"})
    assert list(raised.value.problems) == ["TRADING_LEAN_RUNNER_URL='lean:8080' must be an http(s):// URL"]


def test_a_malformed_secret_is_named_but_never_shown() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"TORGHUT_DATABASE_URL": "torghut:hunter2@ledger-db/torghut"})
    assert list(raised.value.problems) == ["TORGHUT_DATABASE_URL=****(33 chars) must be a URL (scheme://...)"]


def test_dev_source_without_credentials_falls_back_to_the_simulator_and_says_so() -> None:
    settings = load_settings({"TORGHUT_SIGNAL_SOURCE": "alpaca"})
    assert settings.effective_signal_source == "simulator"
    assert settings.fallback_note and "APCA_API_KEY_ID" in settings.fallback_note


def test_unknown_values_are_named() -> None:
    with pytest.raises(SettingsError, match="TORGHUT_SIGNAL_SOURCE='kafka'"):
        load_settings({"TORGHUT_SIGNAL_SOURCE": "kafka"})


def test_loading_the_code_location_with_a_contradictory_production_profile_fails_listing_every_problem(
    tmp_path: Path,
) -> None:
    env = {**CONTRADICTORY_PRODUCTION, "DAGSTER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", "import torghut_assets.definitions"], capture_output=True, text=True, env=env
    )
    assert out.returncode != 0
    listed = "\n".join(f"  - {p}" for p in CONTRADICTORY_PRODUCTION_PROBLEMS)
    assert f"SettingsError: torghut_assets configuration has 4 problem(s):\n{listed}\n" in out.stderr


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


def test_production_loads_without_an_approval_secret() -> None:
    assert "TORGHUT_APPROVAL_SECRET" not in PRODUCTION_OK
    assert load_settings(PRODUCTION_OK).approval_secret_set is False


def test_production_refuses_an_approval_secret_no_secret_that_can_mint_approvals_on_the_server() -> None:
    env = {**PRODUCTION_OK, "TORGHUT_APPROVAL_SECRET": "test-approval-secret-0123456789abcdef"}
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    (problem,) = raised.value.problems
    assert problem.startswith("TORGHUT_APPROVAL_SECRET is refused in production: dev only")
    assert "test-approval-secret" not in str(raised.value)


def test_a_short_approval_secret_in_production_is_reported_once_as_refused() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({**PRODUCTION_OK, "TORGHUT_APPROVAL_SECRET": "short"})
    assert [p.split(":")[0] for p in raised.value.problems] == [
        "TORGHUT_APPROVAL_SECRET is refused in production"
    ]


def test_the_approvers_file_defaults_to_the_shipped_one_and_can_be_pointed_elsewhere(tmp_path: Path) -> None:
    from torghut_assets.settings import DEFAULT_APPROVERS_PATH

    assert load_settings({}).approvers_path == str(DEFAULT_APPROVERS_PATH)
    own = tmp_path / "approvers.toml"
    own.write_text("version = 4\napprovers = []\n", encoding="utf-8")
    assert load_settings({**PRODUCTION_OK, "TORGHUT_APPROVERS_PATH": str(own)}).approvers_path == str(own)


def test_an_unreadable_approvers_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(SettingsError, match=r"TORGHUT_APPROVERS_PATH=.*nope\.toml.* cannot be read"):
        load_settings({"TORGHUT_APPROVERS_PATH": str(missing)})


def test_an_invalid_approvers_file_lists_every_problem_naming_the_file_and_the_approver(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "approvers.toml"
    bad.write_text(
        'version = 0\n[[approvers]]\nid = "cio@desk"\npublic_key = "AAAA"\nroles = ["intern"]\n',
        encoding="utf-8",
    )
    with pytest.raises(SettingsError) as raised:
        load_settings({**PRODUCTION_OK, "TORGHUT_APPROVERS_PATH": str(bad)})
    problems = raised.value.problems
    assert len(problems) == 3 and all(
        p.startswith(f"TORGHUT_APPROVERS_PATH={str(bad)!r}: ") for p in problems
    )
    assert "version must be a positive integer" in problems[0]
    assert "approver 'cio@desk': public_key" in problems[1]
    assert "approver 'cio@desk': unknown role(s) intern" in problems[2]


def test_a_short_approval_secret_is_refused_in_any_profile() -> None:
    with pytest.raises(SettingsError, match="at least 32 bytes"):
        load_settings({"TORGHUT_APPROVAL_SECRET": "short"})


def test_an_unreadable_gate_policy_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(SettingsError, match=r"nope\.toml"):
        load_settings({"TORGHUT_GATE_POLICY_PATH": str(missing)})


def test_a_gate_policy_with_an_unknown_key_is_refused_at_load(tmp_path: Path) -> None:
    policy = tmp_path / "gates.toml"
    policy.write_text('policy_version = "x"\nmax_drawdon = 3.0\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="unknown gate policy keys: max_drawdon"):
        load_settings({"TORGHUT_GATE_POLICY_PATH": str(policy)})


def test_the_shipped_gate_policy_loads_with_live_rollout_off() -> None:
    settings = load_settings({})
    policy = GatePolicy.from_toml(Path(settings.gate_policy_path).read_text(encoding="utf-8"))
    assert policy.live_rollout_enabled is False
    assert policy.require_forecast_evidence is False


def test_every_lane_is_replay_unless_named_in_the_lane_modes() -> None:
    settings = load_settings({"TORGHUT_LANE_MODES": "macd_rsi=paper"})
    assert {lane: mode.value for lane, mode in settings.lane_modes.items()} == {"macd_rsi": "paper"}
    assert load_settings({}).lane_modes == {}


def test_lane_modes_name_every_problem_at_once() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"TORGHUT_LANE_MODES": "macd_rsi=papr,nope=paper,ema_trend"})
    message = str(raised.value)
    assert "mode 'papr' is not one of replay, paper, live" in message
    assert "lane 'nope' is not a configured lane" in message
    assert "'ema_trend' is not lane=mode" in message


def test_a_live_lane_needs_trading_mode_live() -> None:
    with pytest.raises(SettingsError, match="live mode but TRADING_MODE=paper"):
        load_settings({"TORGHUT_LANE_MODES": "macd_rsi=live", "TRADING_MODE": "paper"})


def test_a_static_universe_is_refused_whenever_orders_can_reach_a_real_venue_even_in_dev() -> None:
    env = {"TORGHUT_LANE_MODES": "macd_rsi=paper", "TRADING_LEAN_RUNNER_URL": "http://127.0.0.1:8088"}
    with pytest.raises(SettingsError, match="TRADING_UNIVERSE_SOURCE=static is refused"):
        load_settings(env)
    assert load_settings({"TRADING_LEAN_RUNNER_URL": "http://127.0.0.1:8088"}).lane_modes == {}
    assert load_settings({"TORGHUT_LANE_MODES": "macd_rsi=paper"}).lane_modes


def test_the_planned_decision_timeout_follows_the_reference_default_and_can_be_disabled() -> None:
    assert load_settings({}).planned_decision_timeout_seconds == 600
    assert (
        load_settings({"TRADING_PLANNED_DECISION_TIMEOUT_SECONDS": "0"}).planned_decision_timeout_seconds == 0
    )
    with pytest.raises(SettingsError, match="TRADING_PLANNED_DECISION_TIMEOUT_SECONDS must be >= 0"):
        load_settings({"TRADING_PLANNED_DECISION_TIMEOUT_SECONDS": "-5"})
