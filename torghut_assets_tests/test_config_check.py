"""`torghut-assets config check`: every declared variable with its effective value and origin, secrets
masked, exit 1 with the problem list when the code location would refuse to load."""

from __future__ import annotations

from pathlib import Path

import pytest

from torghut_assets.cli import main
from torghut_assets.config_registry import REGISTRY
from torghut_assets.env_setting import mask
from torghut_assets_tests.test_settings import (
    CONTRADICTORY_PRODUCTION,
    CONTRADICTORY_PRODUCTION_PROBLEMS,
    PRODUCTION_OK,
)

SECRET_VALUES = {
    "TORGHUT_DATABASE_URL": "postgresql+psycopg2://torghut:Ledger-Pw-7731@ledger-db:5432/torghut",
    "TORGHUT_SIGNAL_SOURCE_URL": "postgresql+psycopg2://ta_reader:Signals-Pw-5512@ta-db/ta",
    "APCA_API_KEY_ID": "PKZX81TESTKEYID4471",
    "APCA_API_SECRET_KEY": "alpaca-secret-Qw8e7r6t5y4u3i2o1p",
    "TORGHUT_APPROVAL_SECRET": "approval-hmac-secret-0123456789abcdefXYZ",
    "TORGHUT_ALERT_WEBHOOK_URL": "https://hooks.example.internal/services/T0/B0/WebhookToken991",
    "LLM_API_KEY": "sk-llm-key-ABCDEF0123456789",
    "DAGSTER_PG_PASSWORD": "dagster-pg-Pw-2209",
}
# The part of each secret that must never be printed, whole or in part.
SECRET_CORES = (
    "Ledger-Pw-7731",
    "Signals-Pw-5512",
    "TESTKEYID4471",
    "Qw8e7r6t5y4u3i2o1p",
    "0123456789abcdefXYZ",
    "WebhookToken991",
    "ABCDEF0123456789",
    "Pw-2209",
)


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean environment: none of the declared variables set, a private DAGSTER_HOME."""
    for setting in REGISTRY:
        monkeypatch.delenv(setting.name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    return monkeypatch


def _check(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["config", "check"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _row(output: str, name: str) -> list[str]:
    (line,) = [line for line in output.splitlines() if line.split()[:1] == [name]]
    return line.split(maxsplit=2)


def test_a_bare_environment_is_valid_and_every_declared_variable_is_listed(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = _check(capsys)
    assert code == 0
    assert "OK: the code location loads with profile 'dev'" in output
    assert all(_row(output, s.name) for s in REGISTRY)


def test_each_value_says_whether_it_came_from_the_environment_or_a_default(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("TRADING_MODE", "paper")
    _, output = _check(capsys)
    assert _row(output, "TRADING_MODE") == ["TRADING_MODE", "env", "paper"]
    assert _row(output, "TORGHUT_SIGNAL_SOURCE") == ["TORGHUT_SIGNAL_SOURCE", "default", "simulator"]
    assert _row(output, "TORGHUT_ARTIFACT_ROOT") == [
        "TORGHUT_ARTIFACT_ROOT",
        "unset",
        "- ($DAGSTER_HOME/artifacts)",
    ]


def test_secrets_are_masked_and_never_printed(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {**PRODUCTION_OK, **SECRET_VALUES}.items():
        environment.setenv(name, value)
    code, output = _check(capsys)
    # production refuses the dev-only HMAC approval secret (docs/approvals.md), naming it, not showing it
    assert code == 1
    assert "INVALID: 1 problem(s):\n  - TORGHUT_APPROVAL_SECRET is refused in production" in output
    for name, value in SECRET_VALUES.items():
        assert _row(output, name) == [name, "env", f"{mask(value)}  [secret]"]
    assert [core for core in SECRET_CORES if core in output or core[-6:] in output] == []


def test_a_malformed_secret_is_reported_without_showing_it(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("TORGHUT_SIGNAL_SOURCE_URL", "ta_reader:Signals-Pw-5512@ta-db/ta")
    code, output = _check(capsys)
    assert code == 1
    assert "TORGHUT_SIGNAL_SOURCE_URL=****(34 chars) must be a URL (scheme://...)" in output
    assert "Signals-Pw-5512" not in output


def test_a_password_inside_a_url_is_hidden(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("JANGAR_SYMBOLS_URL", "http://torghut:Jangar-Pw-31@jangar.internal/symbols")
    _, output = _check(capsys)
    assert _row(output, "JANGAR_SYMBOLS_URL")[2] == "http://torghut:***@jangar.internal/symbols"
    assert "Jangar-Pw-31" not in output


def test_an_invalid_production_configuration_exits_1_listing_every_problem(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in CONTRADICTORY_PRODUCTION.items():
        environment.setenv(name, value)
    code, output = _check(capsys)
    assert code == 1
    listed = "\n".join(f"  - {problem}" for problem in CONTRADICTORY_PRODUCTION_PROBLEMS)
    assert f"INVALID: 4 problem(s):\n{listed}" in output


def test_a_variable_named_like_ours_but_never_read_is_flagged(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("TORGHUT_DATABSE_URL", "postgresql+psycopg2://torghut@ledger-db/torghut")
    code, output = _check(capsys)
    assert code == 0
    assert "warning: TORGHUT_DATABSE_URL is set but torghut_assets does not read it (a typo?)" in output
