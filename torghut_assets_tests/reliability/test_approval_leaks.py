"""Nothing that could be replayed as an approval is stored where others can read it (issue 23, item 4).

The whole flow runs once per backend, the way an approver and an operator run it: the approver makes a
key pair with `torghut-assets approvers keygen`, the public key goes into the approvers file, the
approver signs approvals on their machine with `torghut-assets approve --key`, and an operator launches
`promotion_job` with one while the lane's continuity alert is latched (denied: the approval is spent
anyway), and with another once it cleared (it promotes), then again (refused: used). In `dev`, an
approval is also minted from the Launchpad asset (HMAC; its token goes to a 0600 file). Debug logging is
on.

The operator's run configs hold the tokens (Dagster keeps them), so the flow ends as someone who can
read run configs would: it lifts every approval token from the runs' configs and presents each to
`promotion_job` again. Every one is refused `approval_replayed`, naming the promotion that spent it and
that promotion's outcome (single use means single presentation).

Then every surface the product wrote is scanned for each token, its signature part and its payload
part: the Dagster instance's event log (every event record, serialized), the compute logs folder, every
ledger table, the artifact files, Python logs and the runs' console output. None may contain them.
(The CLI's own output, which hands the token to its approver, and the 0600 dev token file are the two
intended places, and are checked to hold it, so the scan is not vacuous.)
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from torghut_assets.cli import main as cli
from torghut_assets.defs.governance.approvals import approval_overrides
from torghut_assets.domain.continuity import ContinuityState
from torghut_assets.domain.signed_approvals import TOKEN_PREFIX, claimed_approval_id, signature_part
from torghut_assets.ledger import schema
from torghut_assets.ledger.continuity_store import save_state
from torghut_assets_tests.defs.governance_harness import (
    LANE,
    GovernedLedger,
    promotion_run_config,
    resolved_promotion_job,
    verdict_metadata,
)
from torghut_assets_tests.reliability.governed_snapshot import BACKENDS, governed_copy

APPROVER = "head@torghut"


@dataclass(frozen=True)
class Replay:
    """A token lifted from a promotion run's config and presented to `promotion_job` again."""

    token: str
    allowed: bool  # the verdict: a denied replay is a successful run recording DENY
    approval: str | None  # the run's `approval` metadata: the approval's verdict
    spent_by: dict[str, Any] | None  # the run's `approval_spent_by` metadata


@dataclass
class Flow:
    tokens: dict[str, str] = field(default_factory=dict)  # name -> token
    outcomes: dict[str, bool] = field(default_factory=dict)
    replays: list[Replay] = field(default_factory=list)
    spent: dict[str, dict[str, Any]] = field(default_factory=dict)  # approval id -> approval_uses row
    spenders: dict[str, dict[str, Any]] = field(default_factory=dict)  # promotion id -> research_promotions
    cli_output: str = ""
    token_file: Path | None = None
    events: list[str] = field(default_factory=list)
    run_configs: list[str] = field(default_factory=list)
    compute_logs: dict[str, str] = field(default_factory=dict)
    ledger: list[str] = field(default_factory=list)
    artifacts: dict[str, str] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    console: str = ""
    promotion_rows: list[dict[str, Any]] = field(default_factory=list)

    def needles(self) -> dict[str, str]:
        """Each token, and the parts of it: its signature (the replayable secret) and its payload."""
        found: dict[str, str] = {}
        for name, token in self.tokens.items():
            found[name] = token
            found[f"{name} signature"] = signature_part(token)
            if token.startswith(TOKEN_PREFIX):
                found[f"{name} payload"] = token.split(".")[1]
        return found


class _Collect(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(self.format(record))


def found_in(texts: dict[str, str] | list[str], needles: dict[str, str]) -> dict[str, list[str]]:
    items = texts.items() if isinstance(texts, dict) else enumerate(texts)
    hits: dict[str, list[str]] = {}
    for where, text in items:
        for name, needle in needles.items():
            at = text.find(needle)
            if at >= 0:
                hits.setdefault(name, []).append(f"{where}: …{text[max(0, at - 60) : at + 20]}…")
    return hits


@pytest.fixture(scope="module", params=BACKENDS)
def governed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GovernedLedger]:
    yield from governed_copy(request, tmp_path_factory)


def _pasted_token(run_config: Any) -> str | None:
    """The approval token an operator pasted into a promotion run's config, if any."""
    ops = run_config.get("ops", {}) if isinstance(run_config, dict) else {}
    config = ops.get("promotion_decision", {}).get("config", {})
    token = config.get("approval_token")
    return token if isinstance(token, str) else None


def _cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(list(argv))
    return code, out.getvalue() + err.getvalue()


@pytest.fixture(scope="module")
def flow(governed: GovernedLedger, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    governed.reset()
    work = tmp_path_factory.mktemp("approval-leaks")
    found = Flow()
    champion = governed.candidates[0]

    # The approver, on their machine: a key pair, and the entry an admin adds to the approvers file.
    code, keygen = _cli(
        "approvers",
        "keygen",
        "--approver",
        APPROVER,
        "--role",
        "head_of_trading",
        "--out",
        str(work / "keys"),
    )
    assert code == 0, keygen
    approvers_file = work / "approvers.toml"
    approvers_file.write_text("version = 1\n\n" + keygen[keygen.index("[[approvers]]") :], encoding="utf-8")
    key = next((work / "keys").glob("*.pem"))
    assert key.stat().st_mode & 0o777 == 0o600

    home = work / "dagster_home"
    (work / "instance").mkdir()
    instance = dg.DagsterInstance.local_temp(str(work / "instance"))
    resources = governed.resources(approvers_path=str(approvers_file), dagster_home=str(home))

    def promote(name: str, stage: str, token: str | None = None) -> dg.ExecuteInProcessResult:
        config: dict[str, Any] = {"candidate_id": champion, "target_stage": stage, "requester": "quant"}
        if token is not None:
            config["approval_token"] = token
        result = resolved_promotion_job(resources).execute_in_process(
            run_config=promotion_run_config(config), instance=instance, raise_on_error=False
        )
        # A deny is a recorded verdict (a successful run); the outcome is whether it was allowed.
        found.outcomes[name] = result.success and verdict_metadata(result)["decision"].startswith("ALLOW")
        return result

    def approve(name: str) -> None:
        """The approver signs on their own machine: no database, no server secret."""
        code, found.cli_output = _cli(
            "approve",
            "--key",
            str(key),
            "--approvers",
            str(approvers_file),
            "--candidate",
            champion,
            "--stage",
            "live_l1",
            "--approver",
            APPROVER,
            "--role",
            "head_of_trading",
            "--reason",
            "paper period reviewed",
        )
        found.outcomes[f"cli approve --key ({name})"] = code == 0
        found.tokens[name] = found.cli_output.strip().splitlines()[-1]

    def latch_continuity(latched: bool) -> None:
        since = pd.Timestamp("2026-03-03 16:00", tz="UTC")
        state = (
            ContinuityState(
                lane=LANE, alert_active=True, alert_reason="no_signals_in_window", alert_since=since
            )
            if latched
            else ContinuityState(lane=LANE)
        )
        engine = governed.engine()
        try:
            with engine.begin() as conn:
                save_state(conn, state, [], since.to_pydatetime())
        finally:
            engine.dispose()

    console_out, console_err = io.StringIO(), io.StringIO()
    handler = _Collect(found.logs)
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", "sqlalchemy.engine")}
    root.setLevel(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(console_out), contextlib.redirect_stderr(console_err):
            promote("promotion to paper", "paper")
            promote("promotion to live without approval (denied)", "live")
            # dev: an approval minted from the Launchpad (HMAC); its token goes to a private file
            minted = dg.materialize(
                [approval_overrides],
                resources=resources,
                instance=instance,
                run_config={
                    "ops": {
                        "approval_overrides": {
                            "config": {
                                "candidate_id": champion,
                                "target_stage": "live_l1",
                                "approver": APPROVER,
                                "approver_role": "head_of_trading",
                                "reason": "dev rehearsal",
                            }
                        }
                    }
                },
            )
            found.outcomes["launchpad approval (dev)"] = minted.success
            metadata = minted.asset_materializations_for_node("approval_overrides")[0].metadata
            found.token_file = Path(str(metadata["token_file"].value))
            found.tokens["launchpad dev token"] = found.token_file.read_text(encoding="utf-8").strip()
        approve("signed token (denied)")
        latch_continuity(True)
        with contextlib.redirect_stdout(console_out), contextlib.redirect_stderr(console_err):
            promote("promotion to live while latched (denied)", "live", found.tokens["signed token (denied)"])
        latch_continuity(False)
        approve("signed token")
        with contextlib.redirect_stdout(console_out), contextlib.redirect_stderr(console_err):
            promote("promotion to live with the signed approval", "live", found.tokens["signed token"])
            promote("the same approval again (refused: used)", "live_l2", found.tokens["signed token"])
            # Someone who can read run storage lifts every token from the runs' configs and replays it.
            lifted = {token: None for run in instance.get_runs() if (token := _pasted_token(run.run_config))}
            names = {token: name for name, token in found.tokens.items()}
            for token in lifted:
                replayed = promote(f"replay of the {names.get(token, 'unknown token')}", "live", token)
                meta = verdict_metadata(replayed) if replayed.success else {}
                spent_by = meta.get("approval_spent_by")
                found.replays.append(
                    Replay(
                        token=token,
                        allowed=str(meta.get("decision", "")).startswith("ALLOW"),
                        approval=None if "approval" not in meta else str(meta["approval"]),
                        spent_by=None if spent_by is None else dict(spent_by),
                    )
                )
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    found.console = console_out.getvalue() + console_err.getvalue()
    for run in instance.get_runs():
        found.events += [dg.serialize_value(record) for record in instance.all_logs(run.run_id)]
        found.run_configs.append(dg.serialize_value(run.run_config))
    compute_root = Path(instance.compute_log_manager._base_dir)  # type: ignore[attr-defined]
    found.compute_logs = {
        str(p): p.read_bytes().decode("utf-8", errors="replace")
        for p in compute_root.rglob("*")
        if p.is_file()
    }
    found.artifacts = {
        str(p): p.read_bytes().decode("utf-8", errors="replace")
        for p in (governed.root / "artifacts").rglob("*")
        if p.is_file()
    }
    engine = governed.engine()
    try:
        with engine.connect() as conn:
            for table in schema.metadata.sorted_tables:
                found.ledger += [
                    f"{table.name}: {dict(row)!r}" for row in conn.execute(sa.select(table)).mappings()
                ]
            uses = schema.approval_uses
            found.spent = {str(r["override_id"]): dict(r) for r in conn.execute(sa.select(uses)).mappings()}
            promotions = schema.research_promotions
            found.spenders = {
                str(r["id"]): dict(r)
                for r in conn.execute(
                    sa.select(promotions).where(
                        promotions.c.id.in_(
                            [str(o["used_by_promotion_id"]) for o in found.spent.values() if o["used_at"]]
                        )
                    )
                ).mappings()
            }
            found.promotion_rows = [
                dict(r)
                for r in conn.execute(
                    sa.select(promotions).where(promotions.c.approver == APPROVER)
                ).mappings()
            ]
    finally:
        engine.dispose()
    instance.dispose()
    yield found
    governed.reset()


def test_the_flow_minted_and_used_each_approval(flow: Flow) -> None:
    """The scans below mean something only if the tokens existed and were used."""
    replays = {"replay of the signed token (denied)": False, "replay of the signed token": False}
    assert flow.outcomes == {
        "promotion to paper": True,
        "promotion to live without approval (denied)": False,
        "launchpad approval (dev)": True,
        "cli approve --key (signed token (denied))": True,
        "promotion to live while latched (denied)": False,
        "cli approve --key (signed token)": True,
        "promotion to live with the signed approval": True,
        "the same approval again (refused: used)": False,
        **replays,
    }
    assert len(flow.replays) == 2
    assert flow.tokens["signed token"].startswith("tav2.")
    assert flow.tokens["signed token (denied)"].startswith("tav2.")
    assert flow.tokens["launchpad dev token"].startswith("wpat-")
    (used,) = flow.promotion_rows
    assert used["evidence_bundle"]["approval"]["source"] == "cli"
    assert flow.events and flow.compute_logs and flow.ledger and flow.logs
    assert any("approval_overrides" in line for line in flow.ledger)


def test_the_token_reaches_only_its_approver_and_the_dev_token_file(flow: Flow) -> None:
    assert flow.cli_output.strip().splitlines()[-1] == flow.tokens["signed token"]
    assert flow.token_file is not None and flow.token_file.stat().st_mode & 0o777 == 0o600
    assert flow.token_file.read_text(encoding="utf-8").strip() == flow.tokens["launchpad dev token"]


def test_the_scan_finds_a_token_where_one_is_the_promotion_runs_own_launch_config(flow: Flow) -> None:
    """A control for the scans: the operator pastes the token into promotion_job's run config, so the
    run record holds it (docs/approvals.md, "what is stored"). That run spent it, allowed or denied:
    presented again, it was refused (next test). The scan finds it there, so it would find it anywhere
    else."""
    hits = found_in(flow.run_configs, flow.needles())
    assert {"signed token", "signed token signature"} <= set(hits)
    assert {"signed token (denied)", "signed token (denied) signature"} <= set(hits)
    assert "launchpad dev token" not in hits  # never pasted anywhere in this flow


def test_every_token_in_a_run_config_is_spent_whether_its_promotion_was_allowed_or_denied(flow: Flow) -> None:
    """What the run configs hold cannot be replayed: each lifted token was refused `approval_replayed`,
    and the refusal names the promotion that spent it (its first presentation) and that outcome."""
    expected = {
        flow.tokens["signed token (denied)"]: ("deny", "promotion to live while latched"),
        flow.tokens["signed token"]: ("allow", "promotion to live with the signed approval"),
    }
    assert {r.token for r in flow.replays} == set(expected)
    for replay in flow.replays:
        outcome, _ = expected[replay.token]
        approval_id = claimed_approval_id(replay.token)
        assert approval_id is not None
        spent = flow.spent[approval_id]
        assert spent["used_at"] is not None and spent["used_outcome"] == outcome
        spender = flow.spenders[str(spent["used_by_promotion_id"])]
        assert spender["decision_action"] == {"allow": "promote", "deny": "deny"}[outcome]
        assert spender["evidence_bundle"]["approval_verdict"] == "approval_valid"
        assert not replay.allowed and replay.approval == "approval_replayed"
        assert replay.spent_by is not None
        assert (replay.spent_by["promotion_id"], replay.spent_by["outcome"]) == (
            str(spent["used_by_promotion_id"]),
            outcome,
        )
    latched = claimed_approval_id(flow.tokens["signed token (denied)"])
    denied = flow.spenders[str(flow.spent[str(latched)]["used_by_promotion_id"])]
    assert "signal_continuity_alert_latched" in denied["evidence_bundle"]["reasons"]


def test_no_approval_capable_string_is_in_the_dagster_event_log(flow: Flow) -> None:
    assert found_in(flow.events, flow.needles()) == {}


def test_no_approval_capable_string_is_in_the_compute_logs(flow: Flow) -> None:
    assert found_in(flow.compute_logs, flow.needles()) == {}


def test_no_approval_capable_string_is_in_any_ledger_table_or_artifact(flow: Flow) -> None:
    assert found_in(flow.ledger, flow.needles()) == {}
    assert found_in(flow.artifacts, flow.needles()) == {}


def test_no_approval_capable_string_is_in_python_logs_or_run_console_output(flow: Flow) -> None:
    assert found_in([*flow.logs, flow.console], flow.needles()) == {}
