"""`torghut-assets`: operator commands that are not Dagster runs (migrations, dev seeding)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from torghut_assets.ledger.engine import LedgerConfigError, create_ledger_engine, default_database_url


def _url(explicit: str | None) -> str:
    return explicit or os.environ.get("TORGHUT_DATABASE_URL") or default_database_url()


def _db_upgrade(args: argparse.Namespace) -> int:
    from torghut_assets.ledger.migrate import current_revision, upgrade

    engine = create_ledger_engine(_url(args.url))
    upgrade(engine, args.revision)
    print(f"ledger {engine.url.render_as_string(hide_password=True)} at revision {current_revision(engine)}")
    return 0


def _db_current(args: argparse.Namespace) -> int:
    from torghut_assets.ledger.migrate import current_revision, head_revision

    engine = create_ledger_engine(_url(args.url))
    current, head = current_revision(engine), head_revision()
    print(f"current={current or 'none'} head={head}")
    return 0 if current == head else 1


def _dev_seed(args: argparse.Namespace) -> int:
    from torghut_assets.dev_seed import seed_recent_windows

    for line in seed_recent_windows(windows=args.windows, market_windows=args.market_windows):
        print(line)
    return 0


def _evidence_verify(args: argparse.Namespace) -> int:
    from torghut_assets.ledger.evidence_digests import live_recompute
    from torghut_assets.ledger.evidence_log import verify_chain

    engine = create_ledger_engine(_url(args.url))
    with engine.connect() as conn:
        result = verify_chain(conn, recompute=None if args.shallow else live_recompute(conn))
    print(
        f"evidence chain {'OK' if result.ok else 'BROKEN'}: {result.entries_checked} entries, "
        f"head seq {result.head_seq} hash {result.head_hash}"
    )
    for problem in result.breaks[:50]:
        print(f"  seq {problem.seq}: {problem.problem}")
    return 0 if result.ok else 1


def _utc_time(text: str) -> dt.datetime:
    """An ISO time; one without an offset is UTC."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _evidence_export(args: argparse.Namespace) -> int:
    """Write one evidence pack (docs/evidence-pack.md); exit 1 when the scope names nothing, or when the
    pack was written but something it should hold could not be found (each listed)."""
    from torghut_assets.config_registry import configured
    from torghut_assets.services.evidence_pack import EvidenceExportError, PackScope, export_pack, open_ledger
    from torghut_assets.settings import DEFAULT_APPROVERS_PATH, DEFAULT_GATE_POLICY_PATH

    try:
        scope = PackScope(
            candidate_id=args.candidate,
            lane=args.lane,
            since=None if args.since is None else _utc_time(args.since),
            until=None if args.until is None else _utc_time(args.until),
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    out = Path(args.out) if args.out else Path(f"{scope.file_stem()}-{now:%Y%m%dT%H%M%SZ}.tar.gz")
    policy = configured(os.environ, "TORGHUT_GATE_POLICY_PATH") or str(DEFAULT_GATE_POLICY_PATH)
    approvers = configured(os.environ, "TORGHUT_APPROVERS_PATH") or str(DEFAULT_APPROVERS_PATH)
    ledger = open_ledger(_url(args.url), configured(os.environ, "TORGHUT_ARTIFACT_ROOT"))
    try:
        exported = export_pack(
            ledger,
            scope,
            out,
            policy_files=[Path(policy), *(Path(p) for p in args.policy_file or [])],
            approvers_files=[Path(approvers), *(Path(p) for p in args.approvers_file or [])],
            now=now,
        )
    except EvidenceExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        ledger.engine.dispose()
    head = exported.manifest["chain_head"]
    print(
        f"evidence pack {out}: {len(exported.manifest['decisions'])} decision(s), "
        f"{len(exported.manifest['members'])} member(s), chain head seq {head['seq']} {head['entry_hash']}"
    )
    for item in exported.missing:
        print(f"  missing {item['what']} {item['key']}: {item['reason']}", file=sys.stderr)
    if exported.missing:
        print("the pack is incomplete: verify-pack will fail on what is missing", file=sys.stderr)
    return 0 if exported.complete else 1


def _evidence_verify_pack(args: argparse.Namespace) -> int:
    """Verify a pack with no database and no network: exit 0 with a summary, 1 listing every failure."""
    from torghut_assets.services.chain_head import read_published_head
    from torghut_assets.services.evidence_pack_archive import verify_pack_file

    try:
        heads = [read_published_head(text) for text in args.published_head or []]
    except (OSError, ValueError) as exc:
        print(f"error: --published-head: {exc}", file=sys.stderr)
        return 2
    report = verify_pack_file(Path(args.file), heads)
    summary = report.summary
    chain = summary.get("chain") or {}
    if report.ok:
        print(
            f"evidence pack {args.file}: OK. {summary.get('decisions')} decision(s) of "
            f"{summary.get('scope')}; "
            f"chain seq {chain.get('first_seq')}..{chain.get('head_seq')} head {chain.get('head_hash')}; "
            f"{summary.get('artifacts')} artifact(s); {summary.get('gate_evaluations_reevaluated')} gate "
            f"evaluation(s) re-evaluated; {summary.get('approvals_verified')} approval(s) verified; "
            f"{summary.get('published_heads_compared')} published head(s) compared"
        )
        return 0
    print(f"evidence pack {args.file}: FAILED ({len(report.failures)} failure(s))")
    for failure in report.failures:
        print(f"  {failure.line()}")
    return 1


def _artifact_root() -> Path:
    """The artifact folder the code location uses: TORGHUT_ARTIFACT_ROOT, else `$DAGSTER_HOME/artifacts`."""
    from torghut_assets.config_registry import configured
    from torghut_assets.ledger.artifacts import default_artifact_root

    return default_artifact_root(configured(os.environ, "TORGHUT_ARTIFACT_ROOT"))


def _replay(args: argparse.Namespace) -> int:
    """Exit 0 when the window's research reproduces, 1 on a mismatch (each differing field printed) or
    when it cannot be replayed. The market data is the pipeline's configured source, secrets read here."""
    import pandas as pd

    from torghut_assets.adapters.market_data import MarketData
    from torghut_assets.adapters.signal_source import SignalSourceUnavailable
    from torghut_assets.domain.lane_window_keys import lane_window_from_text
    from torghut_assets.domain.research_evaluation import ResearchSettings
    from torghut_assets.domain.strategy_interface import StrategyLoadError, StrategyRunError
    from torghut_assets.ledger.artifacts import ArtifactStore
    from torghut_assets.market_data_config import market_data_config
    from torghut_assets.services.ports import Ledger
    from torghut_assets.services.replay import record_replay, replay_in_scope
    from torghut_assets.services.research_inputs import UpstreamMissingError
    from torghut_assets.settings import load_settings

    settings = load_settings()
    ledger = Ledger(create_ledger_engine(_url(args.url)), ArtifactStore(_artifact_root()))
    market_data = MarketData(market_data_config(settings).options(os.environ))
    window = lane_window_from_text(f"{args.lane}|{args.window}")
    try:
        report = replay_in_scope(
            ledger,
            market_data,
            ResearchSettings(),
            window,
            timeout_seconds=settings.strategy_timeout_seconds,
        )
    except (
        StrategyRunError,
        StrategyLoadError,
        SignalSourceUnavailable,
        UpstreamMissingError,
    ) as exc:
        print(f"{window.label()}: cannot replay: {exc}", file=sys.stderr)
        return 1
    recorded = record_replay(ledger, report, pd.Timestamp.now(tz="UTC"))
    print(
        f"{window.label()} run {report.run_id}: {'MATCH' if report.matched else 'MISMATCH'} "
        f"({report.rows_compared} rows compared)"
    )
    for diff in report.differences:
        print(f"  {diff.describe()}")
    print(f"report: {recorded['artifact']['path']}")
    return 0 if report.matched else 1


def _emergency_stop_clear(args: argparse.Namespace) -> int:
    import datetime as dt

    from torghut_assets.domain.continuity import EmergencyStopNotActive
    from torghut_assets.domain.lanes import UnknownLaneError, lane_config
    from torghut_assets.services.emergency_stop import ClearanceSource, clear_lane_emergency_stop

    try:
        lane_config(args.lane)
        engine = create_ledger_engine(_url(args.url))
        with engine.begin() as conn:
            cleared = clear_lane_emergency_stop(
                conn,
                lane=args.lane,
                actor=args.actor,
                reason=args.reason,
                source=ClearanceSource.CLI,
                at=dt.datetime.now(dt.UTC),
            )
    except (UnknownLaneError, EmergencyStopNotActive, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"emergency stop on {cleared.lane} cleared by {cleared.actor}: "
        f"{', '.join(cleared.cleared_reasons) or '(no reasons recorded)'}; clearance {cleared.clearance_id}"
    )
    return 0


def _approve(args: argparse.Namespace) -> int:
    if args.key:
        return _approve_signed(args)
    return _approve_dev_hmac(args)


def _read_private_key(path: str) -> object:
    """The Ed25519 key in a PEM file, asking for its passphrase when it is encrypted."""
    import getpass
    import stat
    from pathlib import Path

    from torghut_assets.domain.signed_approvals import load_private_key

    key_path = Path(path)
    mode = key_path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        print(
            f"warning: {key_path} is readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it",
            file=sys.stderr,
        )
    pem = key_path.read_bytes()
    try:
        return load_private_key(pem)
    except TypeError:  # encrypted: ask
        return load_private_key(pem, getpass.getpass(f"passphrase for {key_path}: ").encode("utf-8"))


def _approve_signed(args: argparse.Namespace) -> int:
    """Sign an approval with the approver's own Ed25519 key, locally: no database, no server secret."""
    import datetime as dt
    from pathlib import Path

    from torghut_assets.config_registry import configured
    from torghut_assets.domain import signed_approvals as sa2

    try:
        private_key = _read_private_key(args.key)
        assert isinstance(private_key, sa2.Ed25519PrivateKey)
        approval = sa2.new_signed_approval(
            candidate_id=args.candidate,
            target_stage=args.stage,
            approver=args.approver,
            approver_role=args.role,
            reason=args.reason,
            public_key=sa2.public_key_bytes(private_key),
            now=dt.datetime.now(dt.UTC),
            ttl=dt.timedelta(hours=args.expires_in_hours),
            symbols=[s for s in (args.symbols or "").split(",") if s.strip()],
            source=sa2.SOURCE_CLI,
            policy_checksum=args.policy_checksum,
        )
        token = sa2.sign(approval, private_key)
    except (OSError, ValueError, TypeError) as exc:
        print(f"approval refused: {exc}", file=sys.stderr)
        return 1
    registry_path = args.approvers or configured(os.environ, "TORGHUT_APPROVERS_PATH")
    if registry_path:  # a local self-check against the approvers file the server uses, when at hand
        try:
            registry = sa2.Approvers.from_toml(Path(registry_path).read_bytes(), origin=registry_path)
        except (OSError, ValueError) as exc:
            print(f"warning: approvers file not checked: {exc}", file=sys.stderr)
        else:
            check = sa2.verify_signed_token(
                token,
                approvers=registry,
                candidate_id=approval.candidate_id,
                target_stage=approval.target_stage,
                now=approval.issued_at,
                used_approval_ids=(),
                policy_checksum=approval.policy_checksum,
            )
            if not check.verdict.valid:
                print(
                    f"warning: the approvers file {registry_path} (version {registry.version}) would refuse "
                    f"this approval: {check.verdict.reason}",
                    file=sys.stderr,
                )
    print(
        f"approval {approval.approval_id} for {approval.candidate_id} -> {approval.target_stage} by "
        f"{approval.approver} ({approval.approver_role}), key {approval.key_id}, source {approval.source}"
    )
    print(
        f"single use; expires {approval.expires_at.isoformat()}; pass the last line as approval_token "
        "to promotion_job"
    )
    print(token)
    return 0


def _approve_dev_hmac(args: argparse.Namespace) -> int:
    """dev only: an HMAC approval stored in the ledger (source cli_dev_hmac)."""
    import datetime as dt

    from torghut_assets.domain.approvals import SOURCE_CLI_DEV_HMAC
    from torghut_assets.services.approvals import ApprovalRefusedError, RequestedApproval, mint_dev_approval
    from torghut_assets.services.governance_config import GovernanceConfig, GovernanceConfigError
    from torghut_assets.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if settings.profile == "production":
        print(
            "approval refused: production approvals are signed with your own key: "
            "torghut-assets approve --key PATH … (docs/approvals.md)",
            file=sys.stderr,
        )
        return 1
    governance = GovernanceConfig(
        policy_path=settings.gate_policy_path,
        approvers_path=settings.approvers_path,
        profile=settings.profile,
        approval_secret=os.environ.get("TORGHUT_APPROVAL_SECRET") or None,
        allow_dev_secret=True,
    )
    request = RequestedApproval(
        candidate_id=args.candidate,
        target_stage=args.stage,
        approver=args.approver,
        approver_role=args.role,
        reason=args.reason,
        symbols=[s for s in (args.symbols or "").split(",") if s.strip()],
        expires_in_hours=args.expires_in_hours,
    )
    engine = create_ledger_engine(_url(args.url))
    now = dt.datetime.now(dt.UTC)
    try:  # a refusal is recorded in the evidence chain by the service
        (record, token, reviewed), source = mint_dev_approval(
            engine, request, governance=governance, now=now, source=SOURCE_CLI_DEV_HMAC
        )
    except (ApprovalRefusedError, GovernanceConfigError) as exc:
        print(f"approval refused: {exc}", file=sys.stderr)
        return 1
    print(f"override {record.override_id} for {record.candidate_id} -> {record.scope.target_mode}")
    print(f"reviewed gate evaluation {reviewed['id']}; expires {record.expires_at.isoformat()}")
    print(f"dev only: signed with the {source} secret (production needs --key)")
    print(token)
    return 0


def _approvers_keygen(args: argparse.Namespace) -> int:
    """A new Ed25519 key pair: the private key to a 0600 file, the public key as an approvers entry."""
    import getpass
    import re
    from pathlib import Path

    from torghut_assets.domain import signed_approvals as sa2

    problems = []
    if not sa2.APPROVER_ID_RE.fullmatch(args.approver):
        problems.append(f"--approver must match {sa2.APPROVER_ID_RE.pattern} (e.g. an email)")
    unknown = sorted(set(args.role or []) - sa2.ALLOWED_ROLES)
    if unknown:
        problems.append(
            f"unknown role(s) {', '.join(unknown)} (allowed: {', '.join(sorted(sa2.ALLOWED_ROLES))})"
        )
    if problems:
        print("error: " + "; ".join(problems), file=sys.stderr)
        return 1
    passphrase = None
    if args.passphrase:
        passphrase = getpass.getpass("passphrase for the new key: ").encode("utf-8")
        if passphrase != getpass.getpass("again: ").encode("utf-8") or not passphrase:
            print("error: the passphrases differ (or are empty)", file=sys.stderr)
            return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = out / f"{re.sub(r'[^A-Za-z0-9._-]', '_', args.approver)}.ed25519.pem"
    private_key = sa2.Ed25519PrivateKey.generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"error: {path} exists; not overwriting a key", file=sys.stderr)
        return 1
    with os.fdopen(fd, "wb") as handle:
        handle.write(sa2.private_key_pem(private_key, passphrase))
    public = sa2.public_key_bytes(private_key)
    print(
        f"private key written to {path} (mode 0600{', encrypted' if passphrase else ''}): "
        "keep it on this machine"
    )
    print(f"key id {sa2.key_id(public)}")
    print("add this entry to the approvers file (TORGHUT_APPROVERS_PATH) and bump its version:")
    print()
    print(sa2.approver_block(args.approver, public, args.role or []), end="")
    return 0


def _approvers_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from torghut_assets.config_registry import configured
    from torghut_assets.domain.signed_approvals import Approvers, ApproversFileError
    from torghut_assets.settings import DEFAULT_APPROVERS_PATH

    path = args.file or configured(os.environ, "TORGHUT_APPROVERS_PATH") or str(DEFAULT_APPROVERS_PATH)
    try:
        registry = Approvers.from_toml(Path(path).read_bytes(), origin=path)
    except ApproversFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"error: approvers file {path}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
        return 1
    print(f"approvers file {path}: version {registry.version}, sha256 {registry.checksum}")
    for approver in sorted(registry.approvers.values(), key=lambda a: a.approver_id):
        until = f", until {approver.not_after.isoformat()}" if approver.not_after else ""
        print(
            f"  {approver.approver_id}: key {approver.key_id}, "
            f"roles {', '.join(sorted(approver.roles))}{until}"
        )
    return 0


def _config_check(args: argparse.Namespace) -> int:
    from torghut_assets.config_report import check_report

    lines, ok = check_report(os.environ)
    print("\n".join(lines).lstrip("\n"))
    return 0 if ok else 1


def _metrics_serve(args: argparse.Namespace) -> int:
    import datetime as dt

    from torghut_assets.adapters.prometheus_text import serve
    from torghut_assets.domain.route_metrics import Sample
    from torghut_assets.services.route_metrics import compute_samples
    from torghut_assets.settings import load_settings

    policy = load_settings().llm_policy
    engine = create_ledger_engine(_url(args.url))

    def compute() -> list[Sample]:
        with engine.connect() as conn:
            return compute_samples(conn, dt.datetime.now(dt.UTC), policy)

    server, thread = serve(compute, host=args.host, port=args.port)
    print(f"serving http://{args.host}:{server.server_port}/metrics from the ledger", flush=True)
    try:
        thread.join()
    except KeyboardInterrupt:
        server.shutdown()
    return 0


def _artifacts_serve(args: argparse.Namespace) -> int:
    from torghut_assets.adapters.artifact_server import ArtifactServer, serve_artifacts

    root = Path(args.root) if args.root else _artifact_root()

    def announce(server: ArtifactServer) -> None:
        print(
            f"serving {root} read-only at {server.base_url}\n"
            f"TORGHUT_ARTIFACT_BASE_URL={server.base_url}  (or the URL a browser reaches this port at)",
            flush=True,
        )

    try:
        serve_artifacts(root, args.host, args.port, ready=announce)
    except OSError as exc:
        print(f"error: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


def _add_artifacts_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`artifacts serve`: the evidence artifacts at a URL a browser can open (TORGHUT_ARTIFACT_BASE_URL)."""
    artifacts = sub.add_parser("artifacts", help="evidence artifacts").add_subparsers(
        dest="artifacts_command", required=True
    )
    serve = artifacts.add_parser(
        "serve",
        help="serve the artifact root read-only over HTTP (content-addressed files only, no listing), "
        "for TORGHUT_ARTIFACT_BASE_URL",
    )
    serve.add_argument("--host", default="127.0.0.1", help="bind address (0.0.0.0 to expose)")
    serve.add_argument("--port", type=int, default=3001)
    serve.add_argument(
        "--root", help="the artifact root (default: TORGHUT_ARTIFACT_ROOT, else $DAGSTER_HOME/artifacts)"
    )
    serve.set_defaults(func=_artifacts_serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="torghut-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    db = sub.add_parser("db", help="ledger schema migrations").add_subparsers(
        dest="db_command", required=True
    )
    up = db.add_parser("upgrade", help="migrate the ledger to a revision (default head)")
    up.add_argument("revision", nargs="?", default="head")
    up.add_argument(
        "--url", help="SQLAlchemy URL (default: TORGHUT_DATABASE_URL or SQLite under DAGSTER_HOME)"
    )
    up.set_defaults(func=_db_upgrade)
    cur = db.add_parser("current", help="print the ledger revision; exit 1 if behind head")
    cur.add_argument("--url")
    cur.set_defaults(func=_db_current)
    evidence = sub.add_parser("evidence", help="hash-chained evidence log").add_subparsers(
        dest="evidence_command", required=True
    )
    verify = evidence.add_parser("verify", help="walk the chain; exit 1 on any break or tampered row")
    verify.add_argument("--url")
    verify.add_argument(
        "--shallow", action="store_true", help="chain only; skip recomputing live row digests"
    )
    verify.set_defaults(func=_evidence_verify)
    export = evidence.add_parser(
        "export",
        help="write one evidence pack (.tar.gz or .zip) of a candidate's promotion, or of every promotion "
        "decision of a lane in a time range (docs/evidence-pack.md)",
    )
    export.add_argument("--candidate", help="the candidate whose evidence to export")
    export.add_argument("--lane", help="with --from and --to: every promotion decision of this lane")
    export.add_argument("--from", dest="since", help="ISO time, inclusive (UTC when no offset)")
    export.add_argument("--to", dest="until", help="ISO time, exclusive (UTC when no offset)")
    export.add_argument("--out", help="the archive (.tar.gz or .zip); default evidence-<scope>-<time>.tar.gz")
    export.add_argument(
        "--policy-file",
        action="append",
        help="an older gate policy file to look in for a checksum the rows record (repeatable)",
    )
    export.add_argument(
        "--approvers-file",
        action="append",
        help="an older approvers file to look in for a sha256 the rows record (repeatable)",
    )
    export.add_argument(
        "--url", help="ledger URL (default: TORGHUT_DATABASE_URL or SQLite under DAGSTER_HOME)"
    )
    export.set_defaults(func=_evidence_export)
    verify_pack = evidence.add_parser(
        "verify-pack",
        help="verify an evidence pack offline (no database, no network); exit 1 listing every failure",
    )
    verify_pack.add_argument("file")
    verify_pack.add_argument(
        "--published-head",
        action="append",
        help="a chain head published outside the ledger: SEQ:HASH, its JSON, or a file holding it "
        "(repeatable)",
    )
    verify_pack.set_defaults(func=_evidence_verify_pack)
    replay = sub.add_parser("replay", help="recompute a lane window's research and compare with the ledger")
    replay.add_argument("--lane", required=True)
    replay.add_argument("--window", required=True, help="window start, e.g. 2026-03-03-15:00 (UTC)")
    replay.add_argument(
        "--url", help="ledger URL (default: TORGHUT_DATABASE_URL or SQLite under DAGSTER_HOME)"
    )
    replay.set_defaults(func=_replay)
    stop = sub.add_parser("emergency-stop", help="a lane's emergency stop").add_subparsers(
        dest="emergency_stop_command", required=True
    )
    clear = stop.add_parser(
        "clear", help="clear a latched emergency stop (attributed, explained, recorded as evidence)"
    )
    clear.add_argument("--lane", required=True)
    clear.add_argument("--actor", required=True, help="who clears it, e.g. oncall@desk")
    clear.add_argument("--reason", required=True, help="why trading may resume")
    clear.add_argument(
        "--url", help="ledger URL (default: TORGHUT_DATABASE_URL or SQLite under DAGSTER_HOME)"
    )
    clear.set_defaults(func=_emergency_stop_clear)
    approve = sub.add_parser(
        "approve",
        help="sign a scoped, expiring, single-use approval with your own key (--key); prints the token "
        "on the last line",
    )
    approve.add_argument(
        "--key",
        help="your Ed25519 private key (PEM, from `approvers keygen`); signs locally, no database needed. "
        "Without it (dev only): an HMAC approval stored in the ledger",
    )
    approve.add_argument("--candidate", required=True)
    approve.add_argument("--stage", required=True, help="paper | live_l1 | live_l2 | live_l3")
    approve.add_argument("--approver", required=True, help="your id in the approvers file")
    approve.add_argument("--role", required=True, help="risk_officer | head_of_trading")
    approve.add_argument("--reason", required=True)
    approve.add_argument("--symbols", help="comma-separated symbols in scope")
    approve.add_argument("--expires-in-hours", type=float, default=24.0, help="validity, at most 24")
    approve.add_argument(
        "--policy-checksum",
        help="bind the approval to this gate policy checksum (from the gate report you reviewed)",
    )
    approve.add_argument(
        "--approvers",
        help="with --key: check the approval against this approvers file before printing it "
        "(default: TORGHUT_APPROVERS_PATH when set)",
    )
    approve.add_argument(
        "--url", help="dev HMAC only: ledger URL (default: TORGHUT_DATABASE_URL or SQLite under DAGSTER_HOME)"
    )
    approve.set_defaults(func=_approve)
    approvers = sub.add_parser("approvers", help="approvers' keys and the approvers file").add_subparsers(
        dest="approvers_command", required=True
    )
    keygen = approvers.add_parser(
        "keygen", help="new Ed25519 key pair: private key to a 0600 file, public key as an approvers entry"
    )
    keygen.add_argument(
        "--approver", required=True, help="your id as approvals will carry it (e.g. an email)"
    )
    keygen.add_argument("--out", required=True, help="folder for the private key (created 0700)")
    keygen.add_argument(
        "--role", action="append", help="risk_officer | head_of_trading (repeat for both); goes in the entry"
    )
    keygen.add_argument("--passphrase", action="store_true", help="encrypt the private key (asks twice)")
    keygen.set_defaults(func=_approvers_keygen)
    check_approvers = approvers.add_parser(
        "check", help="validate the approvers file; print its version, sha256 and approvers"
    )
    check_approvers.add_argument("--file", help="default: TORGHUT_APPROVERS_PATH or the shipped file")
    check_approvers.set_defaults(func=_approvers_check)
    config = sub.add_parser("config", help="environment variables").add_subparsers(
        dest="config_command", required=True
    )
    check = config.add_parser(
        "check", help="print every variable in effect (secrets masked); exit 1 listing problems if invalid"
    )
    check.set_defaults(func=_config_check)
    metrics = sub.add_parser("metrics", help="operator metrics (Prometheus text)").add_subparsers(
        dest="metrics_command", required=True
    )
    serve = metrics.add_parser("serve", help="serve /metrics, computed from the ledger on every scrape")
    serve.add_argument("--port", type=int, default=9464)
    serve.add_argument("--host", default="127.0.0.1", help="bind address (0.0.0.0 to expose)")
    serve.add_argument(
        "--url", help="ledger URL (default: TORGHUT_DATABASE_URL or SQLite under DAGSTER_HOME)"
    )
    serve.set_defaults(func=_metrics_serve)
    seed = sub.add_parser("dev-seed", help="materialize recent lane windows into the local Dagster instance")
    seed.add_argument("--windows", type=int, default=2, help="most recent closed windows per lane")
    seed.add_argument(
        "--market-windows", type=int, default=3, help="most recent market-hours windows per lane"
    )
    seed.set_defaults(func=_dev_seed)
    _add_artifacts_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except LedgerConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
