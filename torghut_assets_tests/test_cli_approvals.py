"""`torghut-assets approvers keygen|check` and `torghut-assets approve --key` (docs/approvals.md): an
approver makes their own key pair and signs approvals on their own machine, with no database and no
server secret."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest

from torghut_assets.cli import main
from torghut_assets.config_registry import REGISTRY
from torghut_assets.domain import signed_approvals as sa2
from torghut_assets_tests.test_settings import PRODUCTION_OK

CANDIDATE = "cand-4f1c0a9e2b7d-a"


@pytest.fixture
def laptop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An approver's machine: none of the product's variables, and a ledger URL nothing may open."""
    for setting in REGISTRY:
        monkeypatch.delenv(setting.name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORGHUT_DATABASE_URL", "postgresql+psycopg2://nobody@203.0.113.1:1/none")
    return tmp_path


def _keygen(laptop: Path, capsys: pytest.CaptureFixture[str], *roles: str, approver: str = "cio@desk") -> str:
    role_args = [arg for role in roles for arg in ("--role", role)]
    code = main(["approvers", "keygen", "--approver", approver, "--out", str(laptop / "keys"), *role_args])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def _approvers_file(laptop: Path, *keygen_outputs: str, version: int = 1) -> Path:
    path = laptop / "approvers.toml"
    entries = [out[out.index("[[approvers]]") :] for out in keygen_outputs]
    path.write_text(f"version = {version}\n\n" + "\n".join(entries), encoding="utf-8")
    return path


def _approve(key: Path, *extra: str, stage: str = "live_l1", role: str = "head_of_trading") -> int:
    return main(
        [
            "approve",
            "--key",
            str(key),
            "--candidate",
            CANDIDATE,
            "--stage",
            stage,
            "--approver",
            "cio@desk",
            "--role",
            role,
            "--reason",
            "paper period reviewed",
            *extra,
        ]
    )


def test_keygen_writes_a_private_key_only_its_owner_can_read_and_prints_the_entry_to_register(
    laptop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _keygen(laptop, capsys, "head_of_trading", "risk_officer")
    key = laptop / "keys" / "cio_desk.ed25519.pem"
    assert key.stat().st_mode & 0o777 == 0o600 and (laptop / "keys").stat().st_mode & 0o777 == 0o700
    private = sa2.load_private_key(key.read_bytes())
    registry = sa2.Approvers.from_toml(_approvers_file(laptop, out).read_bytes())
    registered = registry.get("cio@desk")
    assert registered is not None and registered.public_key == sa2.public_key_bytes(private)
    assert registered.roles == {"head_of_trading", "risk_officer"}
    assert f"key id {registered.key_id}" in out
    assert key.read_text() not in out  # the private key is never printed


def test_keygen_never_overwrites_a_key_and_refuses_an_unknown_role(
    laptop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _keygen(laptop, capsys, "risk_officer")
    before = (laptop / "keys" / "cio_desk.ed25519.pem").read_bytes()
    assert main(["approvers", "keygen", "--approver", "cio@desk", "--out", str(laptop / "keys")]) == 1
    assert "not overwriting" in capsys.readouterr().err
    assert (laptop / "keys" / "cio_desk.ed25519.pem").read_bytes() == before
    code = main(["approvers", "keygen", "--approver", "x@desk", "--role", "intern", "--out", str(laptop)])
    assert code == 1 and "unknown role(s) intern" in capsys.readouterr().err


def test_approve_with_a_key_signs_locally_without_any_database_and_prints_the_token_last(
    laptop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = _approvers_file(laptop, _keygen(laptop, capsys, "head_of_trading"))
    key = laptop / "keys" / "cio_desk.ed25519.pem"
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    assert _approve(key, "--approvers", str(registry), "--symbols", "aapl,msft") == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # the approvers file accepts it
    token = captured.out.strip().splitlines()[-1]
    check = sa2.verify_signed_token(
        token,
        approvers=sa2.Approvers.from_toml(registry.read_bytes()),
        candidate_id=CANDIDATE,
        target_stage="live_l1",
        now=dt.datetime.now(dt.UTC),
        used_approval_ids=(),
    )
    assert check.verdict.valid and check.approval is not None
    assert check.approval.source == "cli" and check.approval.symbols == ("AAPL", "MSFT")
    assert before <= check.approval.issued_at and check.approval.expires_at - check.approval.issued_at == (
        dt.timedelta(hours=24)
    )
    assert f"approval {check.approval.approval_id} for {CANDIDATE} -> live_l1" in captured.out
    assert not (laptop / "home").exists()  # no SQLite ledger was created either


def test_approve_warns_when_the_approvers_file_would_refuse_the_approval(
    laptop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = _approvers_file(laptop, _keygen(laptop, capsys, "risk_officer"))
    assert _approve(laptop / "keys" / "cio_desk.ed25519.pem", "--approvers", str(registry)) == 0
    captured = capsys.readouterr()
    assert "would refuse this approval: approval_role_not_held_by_approver" in captured.err
    assert captured.out.strip().splitlines()[-1].startswith("tav2.")


def test_approve_refuses_a_request_the_rules_forbid_listing_why(
    laptop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _keygen(laptop, capsys, "risk_officer")
    key = laptop / "keys" / "cio_desk.ed25519.pem"
    assert _approve(key, "--expires-in-hours", "48", role="risk_officer") == 1
    err = capsys.readouterr().err
    assert "may not approve a live stage" in err and "validity must be in (0, 24 h]" in err


def test_approve_asks_for_the_passphrase_of_an_encrypted_key(
    laptop: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "correct horse battery")
    keygen = ["approvers", "keygen", "--approver", "cio@desk", "--role", "head_of_trading"]
    code = main([*keygen, "--out", str(laptop / "keys"), "--passphrase"])
    assert code == 0 and "encrypted" in capsys.readouterr().out
    key = laptop / "keys" / "cio_desk.ed25519.pem"
    assert b"ENCRYPTED" in key.read_bytes()
    assert _approve(key) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("tav2.")
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "wrong")
    assert _approve(key) == 1 and "approval refused" in capsys.readouterr().err


def test_approve_warns_about_a_private_key_others_can_read(
    laptop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _keygen(laptop, capsys, "head_of_trading")
    key = laptop / "keys" / "cio_desk.ed25519.pem"
    key.chmod(0o644)
    assert _approve(key) == 0
    assert "is readable by others (mode 644); chmod 600 it" in capsys.readouterr().err


def test_in_production_approve_without_a_key_is_refused_before_touching_anything(
    laptop: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in PRODUCTION_OK.items():
        monkeypatch.setenv(name, value)
    request = ["approve", "--candidate", CANDIDATE, "--stage", "paper", "--approver", "cio@desk"]
    assert main([*request, "--role", "risk_officer", "--reason", "r"]) == 1
    assert "production approvals are signed with your own key" in capsys.readouterr().err
    assert not (laptop / "home").exists()


def test_approvers_check_prints_the_version_checksum_and_approvers(
    laptop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = _approvers_file(laptop, _keygen(laptop, capsys, "risk_officer"), version=7)
    assert main(["approvers", "check", "--file", str(registry)]) == 0
    out = capsys.readouterr().out
    assert f"version 7, sha256 {hashlib.sha256(registry.read_bytes()).hexdigest()}" in out
    assert "cio@desk: key " in out and "roles risk_officer" in out


def test_approvers_check_lists_every_problem_of_an_invalid_file(
    laptop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = laptop / "approvers.toml"
    bad.write_text('version = "one"\n[[approvers]]\nid = "cio@desk"\nroles = []\n', encoding="utf-8")
    assert main(["approvers", "check", "--file", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "3 problem(s)" in err and str(bad) in err and "approver 'cio@desk': public_key is required" in err


def test_the_shipped_approvers_file_checks_and_lists_no_one(
    laptop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["approvers", "check"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("approvers file ")
