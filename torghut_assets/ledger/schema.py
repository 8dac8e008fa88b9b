"""SQLAlchemy Core tables of the Torghut ledger.

Names follow the reference service (docs/ledger.md) so operators' SQL keeps working. Every
table has a uuid `id` and `created_at`; lane-window tables add `lane` and `window_start` (in `signals`
the reference already uses `window_start` for the TA aggregation window, so the lane window there is
`lane_window_start`). Row ids are uuid5 of the row's natural key, which is what makes re-materializing a
partition an exact replacement rather than a duplicate.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from torghut_assets.domain.signal_frame import INDICATOR_COLUMNS

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
QTY = sa.Numeric(20, 8, asdecimal=False)
PRICE = sa.Numeric(20, 8, asdecimal=False)
METRIC = sa.Numeric(28, 10, asdecimal=False)
UUID = sa.Uuid(as_uuid=False)


def _id() -> sa.Column[str]:
    return sa.Column("id", UUID, primary_key=True)


def _created_at() -> sa.Column[object]:
    return sa.Column("created_at", TS, nullable=False, server_default=sa.func.now())


def _lane_window(start_column: str = "window_start") -> list[sa.Column[object]]:
    return [
        sa.Column("lane", sa.String(64), nullable=False),
        sa.Column(start_column, TS, nullable=False),
    ]


strategies = sa.Table(
    "strategies",
    metadata,
    _id(),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("description", sa.Text),
    sa.Column("strategy_type", sa.String(64), nullable=False),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("priority", sa.Integer, nullable=False, server_default="100"),
    sa.Column("base_timeframe", sa.String(16), nullable=False, server_default="1Min"),
    sa.Column("universe_type", sa.String(32), nullable=False, server_default="static"),
    sa.Column("universe_symbols", JSON),
    sa.Column("max_position_pct_equity", METRIC),
    sa.Column("max_notional_per_trade", METRIC),
    sa.Column("params", JSON),
    _created_at(),
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
)

signals = sa.Table(
    "signals",
    metadata,
    _id(),
    *_lane_window("lane_window_start"),
    sa.Column("symbol", sa.String(16), nullable=False),
    sa.Column("event_ts", TS, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("ingest_ts", TS, nullable=False),
    sa.Column("is_final", sa.SmallInteger, nullable=False, server_default="1"),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("window_size", sa.String(16), nullable=False),
    sa.Column("window_step", sa.String(16)),
    sa.Column("window_start", TS),
    sa.Column("window_end", TS),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("price", PRICE),
    sa.Column("close", PRICE),
    sa.Column("vwap", PRICE),
    sa.Column("volume", sa.BigInteger),
    *[sa.Column(name, sa.Float) for name in INDICATOR_COLUMNS],
    sa.Column("imbalance_bid_sz", sa.BigInteger),
    sa.Column("imbalance_ask_sz", sa.BigInteger),
    sa.Column("content_hash", sa.String(64), nullable=False),
    _created_at(),
    sa.UniqueConstraint("lane", "symbol", "event_ts", "seq"),
    sa.Index(None, "lane", "lane_window_start"),
)

signal_ingest_windows = sa.Table(
    "signal_ingest_windows",
    metadata,
    _id(),
    *_lane_window(),
    sa.Column("window_end", TS, nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("source_mode", sa.String(32), nullable=False),
    sa.Column("signals_total", sa.Integer, nullable=False),
    sa.Column("rejected_total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rejected_by_reason", JSON),
    sa.Column("symbols_covered", sa.Integer, nullable=False, server_default="0"),
    sa.Column("no_signal_reason", sa.String(64)),
    # The cause behind the reason, e.g. universe_source_unavailable:error:jangar_http_error_cache_stale
    sa.Column("no_signal_detail", sa.String(128)),
    sa.Column("signal_lag_seconds", sa.Float),
    sa.Column("market_session_open", sa.Boolean, nullable=False),
    sa.Column("newest_signal_ts", TS),
    sa.Column("dataset_version", sa.String(64), nullable=False),
    _created_at(),
    sa.UniqueConstraint("lane", "window_start"),
)

trade_decisions = sa.Table(
    "trade_decisions",
    metadata,
    _id(),
    sa.Column("strategy_id", UUID, sa.ForeignKey("strategies.id", ondelete="CASCADE"), nullable=False),
    sa.Column("alpaca_account_label", sa.String(64), nullable=False, server_default="paper"),
    sa.Column("symbol", sa.String(16), nullable=False),
    sa.Column("timeframe", sa.String(16), nullable=False),
    sa.Column("decision_json", JSON, nullable=False),
    sa.Column("rationale", sa.Text),
    sa.Column("decision_hash", sa.String(64)),
    sa.Column("status", sa.String(32), nullable=False, server_default="planned"),
    sa.Column("executed_at", TS),
    *_lane_window(),
    sa.Column("signal_event_ts", TS, nullable=False),
    sa.Column("signal_seq", sa.BigInteger, nullable=False),
    _created_at(),
    sa.UniqueConstraint("alpaca_account_label", "decision_hash"),
    sa.Index(None, "lane", "window_start"),
    sa.Index(None, "created_at"),
)

executions = sa.Table(
    "executions",
    metadata,
    _id(),
    sa.Column("trade_decision_id", UUID, sa.ForeignKey("trade_decisions.id", ondelete="SET NULL")),
    sa.Column("alpaca_account_label", sa.String(64), nullable=False),
    sa.Column("alpaca_order_id", sa.String(128), nullable=False),
    sa.Column("client_order_id", sa.String(128)),
    sa.Column("symbol", sa.String(16), nullable=False),
    sa.Column("side", sa.String(8), nullable=False),
    sa.Column("order_type", sa.String(16), nullable=False),
    sa.Column("time_in_force", sa.String(16), nullable=False),
    sa.Column("submitted_qty", QTY, nullable=False),
    sa.Column("filled_qty", QTY, nullable=False, server_default="0"),
    sa.Column("avg_fill_price", PRICE),
    sa.Column("fees", METRIC, nullable=False, server_default="0"),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("execution_expected_adapter", sa.String(32), nullable=False, server_default="unknown"),
    sa.Column("execution_actual_adapter", sa.String(32), nullable=False, server_default="unknown"),
    sa.Column("execution_fallback_reason", sa.String(128)),
    sa.Column("execution_fallback_count", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("execution_correlation_id", sa.String(128)),
    sa.Column("execution_idempotency_key", sa.String(128)),
    sa.Column("execution_audit_json", JSON),
    sa.Column("raw_order", JSON),
    sa.Column("last_update_at", TS),
    sa.Column("order_feed_last_event_ts", TS),
    sa.Column("order_feed_last_seq", sa.BigInteger),
    *_lane_window(),
    _created_at(),
    sa.UniqueConstraint("alpaca_account_label", "alpaca_order_id"),
    sa.UniqueConstraint("alpaca_account_label", "client_order_id"),
    sa.Index(None, "lane", "window_start"),
    sa.Index(None, "created_at"),
    sa.Index(None, "trade_decision_id"),
    sa.CheckConstraint(
        "(execution_fallback_count = 0 AND execution_fallback_reason IS NULL)"
        " OR (execution_fallback_count > 0 AND execution_fallback_reason IS NOT NULL)",
        name="fallback_reason_iff_count",
    ),
)

execution_tca_metrics = sa.Table(
    "execution_tca_metrics",
    metadata,
    _id(),
    sa.Column(
        "execution_id", UUID, sa.ForeignKey("executions.id", ondelete="CASCADE"), nullable=False, unique=True
    ),
    sa.Column("trade_decision_id", UUID),
    sa.Column("strategy_id", UUID),
    sa.Column("alpaca_account_label", sa.String(64)),
    sa.Column("symbol", sa.String(16), nullable=False),
    sa.Column("side", sa.String(8), nullable=False),
    sa.Column("arrival_price", PRICE),
    sa.Column("avg_fill_price", PRICE),
    sa.Column("submitted_qty", QTY),
    sa.Column("filled_qty", QTY, nullable=False),
    sa.Column("fill_ratio", METRIC),
    sa.Column("signed_qty", QTY, nullable=False, server_default="0"),
    sa.Column("slippage_bps", METRIC),
    sa.Column("shortfall_notional", METRIC),
    sa.Column("realized_shortfall_bps", METRIC),
    sa.Column("expected_shortfall_bps_p50", METRIC),
    sa.Column("expected_shortfall_bps_p95", METRIC),
    sa.Column("simulator_version", sa.String(64)),
    sa.Column("divergence_bps", METRIC),
    sa.Column("churn_qty", QTY, nullable=False, server_default="0"),
    sa.Column("churn_ratio", METRIC),
    sa.Column("decision_price", PRICE),
    sa.Column("market_arrival_price", PRICE),
    sa.Column("delay_cost_notional", METRIC),
    sa.Column("impact_cost_notional", METRIC),
    sa.Column("fees_notional", METRIC, nullable=False, server_default="0"),
    sa.Column("implementation_shortfall_notional", METRIC),
    sa.Column("expected_adapter", sa.String(32)),
    sa.Column("actual_adapter", sa.String(32)),
    sa.Column("computed_at", TS, nullable=False),
    *_lane_window(),
    _created_at(),
    sa.Index(None, "lane", "window_start"),
    sa.Index(None, "computed_at"),
)

research_runs = sa.Table(
    "research_runs",
    metadata,
    _id(),
    sa.Column("run_id", sa.String(64), nullable=False, unique=True),
    sa.Column("run_kind", sa.String(32), nullable=False, server_default="lane_window"),
    sa.Column("status", sa.String(32), nullable=False, server_default="running"),
    sa.Column("strategy_id", UUID),
    sa.Column("strategy_name", sa.String(128)),
    sa.Column("strategy_type", sa.String(64)),
    sa.Column("strategy_version", sa.String(32)),
    sa.Column("code_commit", sa.String(64)),
    sa.Column("feature_version", sa.String(32)),
    sa.Column("feature_schema_version", sa.String(32)),
    sa.Column("feature_spec_hash", sa.String(64)),
    sa.Column("signal_source", sa.String(64)),
    sa.Column("dataset_version", sa.String(64)),
    sa.Column("dataset_from", TS),
    sa.Column("dataset_to", TS),
    sa.Column("dataset_snapshot_ref", sa.String(256)),
    sa.Column("runner_version", sa.String(64)),
    sa.Column("runner_binary_hash", sa.String(64)),
    sa.Column("gate_report_trace_id", sa.String(64)),
    sa.Column("recommendation_trace_id", sa.String(64)),
    *_lane_window(),
    sa.Column("window_end", TS, nullable=False),
    sa.Column("no_signal_reason", sa.String(64)),
    sa.Column("policy_checksum", sa.String(64)),
    sa.Column("artifact_manifest_hash", sa.String(64)),
    sa.Column("artifact_refs", JSON),
    _created_at(),
    sa.Column("lane_catalog_checksum", sa.String(64)),
    # Why a `failed` run failed (the exception of the research step, as the failure hook saw it).
    sa.Column("error", sa.Text),
    sa.UniqueConstraint("lane", "window_start", "window_end", "run_kind"),
)

research_candidates = sa.Table(
    "research_candidates",
    metadata,
    _id(),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("candidate_id", sa.String(64), nullable=False, unique=True),
    sa.Column("candidate_hash", sa.String(64)),
    sa.Column("parameter_set", JSON),
    sa.Column("decision_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("trade_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("symbols_covered", sa.Integer, nullable=False, server_default="0"),
    sa.Column("universe_definition", JSON),
    sa.Column("promotion_target", sa.String(16)),
    sa.Column("lifecycle_role", sa.String(16), nullable=False, server_default="challenger"),
    sa.Column("lifecycle_status", sa.String(16), nullable=False, server_default="evaluated"),
    sa.Column("metadata_bundle", JSON),
    sa.Column("recommendation_bundle", JSON),
    *_lane_window(),
    _created_at(),
    sa.Index(None, "run_id"),
    sa.Index(None, "lane", "window_start"),
)

research_fold_metrics = sa.Table(
    "research_fold_metrics",
    metadata,
    _id(),
    sa.Column("candidate_id", sa.String(64), nullable=False),
    sa.Column("fold_name", sa.String(32), nullable=False),
    sa.Column("fold_order", sa.Integer, nullable=False),
    sa.Column("train_start", TS, nullable=False),
    sa.Column("train_end", TS, nullable=False),
    sa.Column("test_start", TS, nullable=False),
    sa.Column("test_end", TS, nullable=False),
    sa.Column("decision_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("trade_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("gross_pnl", METRIC),
    sa.Column("net_pnl", METRIC),
    sa.Column("max_drawdown", METRIC),
    sa.Column("turnover_ratio", METRIC),
    sa.Column("cost_bps", METRIC),
    sa.Column("cost_assumptions", JSON),
    sa.Column("regime_label", sa.String(32)),
    *_lane_window(),
    _created_at(),
    sa.UniqueConstraint("candidate_id", "fold_name"),
    sa.Index(None, "lane", "window_start"),
)

research_stress_metrics = sa.Table(
    "research_stress_metrics",
    metadata,
    _id(),
    sa.Column("candidate_id", sa.String(64), nullable=False),
    sa.Column("stress_case", sa.String(32), nullable=False),
    sa.Column("metric_bundle", JSON),
    sa.Column("pessimistic_pnl_delta", METRIC),
    *_lane_window(),
    _created_at(),
    sa.UniqueConstraint("candidate_id", "stress_case"),
    sa.Index(None, "lane", "window_start"),
)

research_promotions = sa.Table(
    "research_promotions",
    metadata,
    _id(),
    sa.Column("candidate_id", sa.String(64), nullable=False),
    sa.Column("requested_mode", sa.String(16)),
    sa.Column("approved_mode", sa.String(16)),
    sa.Column("approver", sa.String(128)),
    sa.Column("approver_role", sa.String(64)),
    sa.Column("approve_reason", sa.Text),
    sa.Column("deny_reason", sa.Text),
    sa.Column("paper_candidate_patch_ref", sa.String(256)),
    sa.Column("effective_time", TS),
    sa.Column("decision_action", sa.String(16), nullable=False, server_default="hold"),
    sa.Column("decision_rationale", sa.Text),
    sa.Column("evidence_bundle", JSON),
    sa.Column("recommendation_trace_id", sa.String(64)),
    sa.Column("successor_candidate_id", sa.String(64)),
    sa.Column("rollback_candidate_id", sa.String(64)),
    sa.Column("override_id", sa.String(64)),
    sa.Column("policy_checksum", sa.String(64)),
    sa.Column("gate_evaluation_id", UUID),
    sa.Column("run_id", sa.String(64)),
    *_lane_window(),
    _created_at(),
    # Append-only: the window's own requests form a stream per lane window, 1, 2, 3, ...; a re-run that
    # requests something else appends the next revision, and the latest revision is the current request
    # (other writers' rows are single events and keep 1).
    sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
    sa.CheckConstraint(
        "(approve_reason IS NULL) <> (deny_reason IS NULL)", name="exactly_one_of_approve_or_deny_reason"
    ),
    sa.Index(None, "candidate_id"),
    sa.Index(None, "run_id"),
    sa.Index(None, "lane", "window_start"),
    sa.Index(
        "uq_research_promotions_request_revision",
        "lane",
        "window_start",
        "revision",
        unique=True,
        postgresql_where=sa.text("approver_role = 'autonomous_scheduler'"),
        sqlite_where=sa.text("approver_role = 'autonomous_scheduler'"),
    ),
)

llm_decision_reviews = sa.Table(
    "llm_decision_reviews",
    metadata,
    _id(),
    sa.Column(
        "trade_decision_id", UUID, sa.ForeignKey("trade_decisions.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("prompt_version", sa.String(64), nullable=False),
    sa.Column("input_json", JSON, nullable=False),
    sa.Column("response_json", JSON, nullable=False),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("confidence", sa.Numeric(6, 4, asdecimal=False)),
    sa.Column("adjusted_qty", QTY),
    sa.Column("adjusted_order_type", sa.String(16)),
    sa.Column("rationale", sa.Text),
    sa.Column("risk_flags", JSON),
    sa.Column("tokens_prompt", sa.Integer),
    sa.Column("tokens_completion", sa.Integer),
    *_lane_window(),
    sa.Column("reviewed_at", TS, nullable=False),
    sa.Column("model_version_hash", sa.String(64), nullable=False),
    sa.Column("rollout_stage", sa.String(32), nullable=False),
    sa.Column("effective_verdict", sa.String(16), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # none | veto | adjust (what policy resolved to)
    sa.Column("shadow", sa.Boolean, nullable=False),
    sa.Column("applied", sa.Boolean, nullable=False),  # never true in shadow
    sa.Column("error_kind", sa.String(32)),  # parse | validation | transport | circuit_open | blocked
    sa.Column("error_code", sa.String(64)),
    sa.Column("error_detail", sa.Text),
    sa.Column("guardrail_mismatch", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("latency_ms", sa.Float),
    _created_at(),
    sa.Index(None, "lane", "window_start"),
    sa.Index(None, "reviewed_at"),
    sa.CheckConstraint("NOT (shadow AND applied)", name="shadow_never_applied"),
)

trade_cursor = sa.Table(
    "trade_cursor",
    metadata,
    _id(),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("account_label", sa.String(64), nullable=False),
    sa.Column("cursor_at", TS, nullable=False),
    sa.Column("cursor_seq", sa.BigInteger),
    sa.Column("cursor_symbol", sa.String(16)),
    _created_at(),
    sa.UniqueConstraint("source", "account_label"),
)

gate_evaluations = sa.Table(
    "gate_evaluations",
    metadata,
    _id(),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("candidate_id", sa.String(64), nullable=False),
    *_lane_window(),
    sa.Column("policy_version", sa.String(32), nullable=False),
    sa.Column("policy_checksum", sa.String(64), nullable=False),
    sa.Column("promotion_target", sa.String(16), nullable=False),
    sa.Column("promotion_allowed", sa.Boolean, nullable=False),
    sa.Column("recommended_mode", sa.String(16), nullable=False),
    sa.Column("gates", JSON, nullable=False),
    sa.Column("reasons", JSON, nullable=False),
    sa.Column("uncertainty_gate_action", sa.String(16)),
    sa.Column("report_json", JSON, nullable=False),
    sa.Column("evaluated_at", TS, nullable=False),
    sa.Column("code_version", sa.String(64)),
    sa.Column("gate_report_trace_id", sa.String(64), nullable=False),
    _created_at(),
    sa.Index(None, "candidate_id"),
)

continuity_events = sa.Table(
    "continuity_events",
    metadata,
    _id(),
    *_lane_window(),
    sa.Column("reason", sa.String(64)),
    sa.Column("actionable", sa.Boolean, nullable=False),
    sa.Column("market_session_open", sa.Boolean, nullable=False),
    sa.Column("signal_lag_seconds", sa.Float),
    sa.Column("streak", sa.Integer, nullable=False),
    sa.Column("alert_active", sa.Boolean, nullable=False),
    sa.Column("transition", sa.String(32), nullable=False),
    sa.Column("detail", JSON),
    sa.Column("at", TS, nullable=False),
    _created_at(),
    sa.Index(None, "lane", "window_start"),
)

continuity_state = sa.Table(
    "continuity_state",
    metadata,
    _id(),
    sa.Column("lane", sa.String(64), nullable=False, unique=True),
    sa.Column("last_window_start", TS),
    sa.Column("reason", sa.String(64)),
    sa.Column("streak", sa.Integer, nullable=False, server_default="0"),
    sa.Column("alert_active", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("alert_reason", sa.String(64)),
    sa.Column("alert_since", TS),
    sa.Column("recovery_streak", sa.Integer, nullable=False, server_default="0"),
    sa.Column("emergency_stop_active", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("emergency_reasons", JSON),
    sa.Column("emergency_recovery_streak", sa.Integer, nullable=False, server_default="0"),
    sa.Column("emergency_since", TS),
    sa.Column("updated_at", TS, nullable=False),
    _created_at(),
)

approval_overrides = sa.Table(
    "approval_overrides",
    metadata,
    _id(),
    sa.Column("override_id", sa.String(64), nullable=False, unique=True),
    sa.Column("candidate_id", sa.String(64), nullable=False),
    sa.Column("approver", sa.String(128), nullable=False),
    sa.Column("approver_role", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("scope", JSON, nullable=False),
    sa.Column("policy_checksum", sa.String(64), nullable=False),
    sa.Column("gate_evaluation_id", UUID),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),  # never the token itself
    sa.Column("revoked_at", TS),
    # How it was signed (hmac_v1 dev / ed25519_v2), where it was minted (cli, launchpad_dev, ...), and for
    # an Ed25519 approval the signing key's id and the sha256 of the approvers file that verified it.
    sa.Column("scheme", sa.String(16)),
    sa.Column("source", sa.String(32)),
    sa.Column("key_id", sa.String(32)),
    sa.Column("approvers_checksum", sa.String(64)),
    _created_at(),
    sa.Index(None, "candidate_id"),
)

# The end of an approval's life, appended (never an update of `approval_overrides`): spent by its first
# presentation to promotion_job (that promotion decision and its outcome, `allow` / `deny`; single use
# means single presentation), or `revoked` before any use. The unique `override_id` is the single-use
# guarantee: of two promotions presenting the same approval at once, the second insert fails.
approval_uses = sa.Table(
    "approval_uses",
    metadata,
    _id(),
    sa.Column("override_id", sa.String(64), nullable=False, unique=True),
    sa.Column("used_by_promotion_id", UUID),
    sa.Column("used_outcome", sa.String(8), nullable=False),
    sa.Column("used_at", TS, nullable=False),
    _created_at(),
)

# A candidate's lifecycle in its lane (champion/active, demoted/standby, paused), appended by promotion,
# rollback and auto-freeze: revision 1, 2, 3, ... per candidate, the latest is current.
# `research_candidates.lifecycle_*` keep the state the research run wrote (challenger/evaluated).
candidate_lifecycle_events = sa.Table(
    "candidate_lifecycle_events",
    metadata,
    _id(),
    sa.Column("candidate_id", sa.String(64), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("lifecycle_role", sa.String(16), nullable=False),
    sa.Column("lifecycle_status", sa.String(16), nullable=False),
    _created_at(),
    sa.UniqueConstraint("candidate_id", "revision"),
)

rollback_incidents = sa.Table(
    "rollback_incidents",
    metadata,
    _id(),
    sa.Column("triggered_at", TS, nullable=False),
    sa.Column("reasons", JSON, nullable=False),
    sa.Column("safety_snapshot", JSON),
    sa.Column("signal_lag_seconds", sa.Float),
    sa.Column("autonomy_failure_streak", sa.Integer),
    sa.Column("fallback_ratio", sa.Float),
    sa.Column("fallback_total", sa.Integer),
    sa.Column("orders_submitted_total", sa.Integer),
    sa.Column("max_drawdown", METRIC),
    sa.Column("last_run_id", sa.String(64)),
    sa.Column("gate_artifact", sa.String(256)),
    sa.Column("rollback_hooks", JSON),
    sa.Column("provenance", JSON),
    sa.Column("cancelled_open_orders", JSON),
    sa.Column("verification", JSON),
    sa.Column("evidence_hash", sa.String(64), nullable=False),
    sa.Column("lane", sa.String(64)),
    sa.Column("transition_id", sa.String(64)),
    sa.Column("trigger", sa.String(64)),
    sa.Column("actor", sa.String(128)),
    sa.Column("before_state", JSON),
    sa.Column("after_state", JSON),
    sa.Column("evidence_refs", JSON),
    _created_at(),
)

rollout_transitions = sa.Table(
    "rollout_transitions",
    metadata,
    _id(),
    sa.Column("transition_id", sa.String(64), nullable=False, unique=True),
    sa.Column("lane", sa.String(64), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),  # per-lane order; unique, so racing writers collide
    sa.Column("candidate_id", sa.String(64)),
    sa.Column("from_candidate_id", sa.String(64)),
    sa.Column("from_stage", sa.String(32), nullable=False),
    sa.Column("to_stage", sa.String(32), nullable=False),
    sa.Column("transition_type", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("gate_results_json", JSON),
    sa.Column("reason_codes_json", JSON),
    sa.Column("blocking_gate", sa.String(64)),
    sa.Column("evidence_hash", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", TS, nullable=False),
    _created_at(),
    sa.UniqueConstraint("lane", "seq"),
)

operational_rehearsals = sa.Table(
    "operational_rehearsals",
    metadata,
    _id(),
    sa.Column("rehearsal_id", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("detail", JSON, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("evidence_hash", sa.String(64), nullable=False),
    _created_at(),
    sa.Index(None, "kind", "at"),
)

route_control_events = sa.Table(
    "route_control_events",
    metadata,
    _id(),
    sa.Column("control", sa.String(64), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("operator", sa.String(128), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("at", TS, nullable=False),
    _created_at(),
    sa.Index(None, "control", "at"),
)

route_parity_reports = sa.Table(
    "route_parity_reports",
    metadata,
    _id(),
    sa.Column("report_id", sa.String(64), nullable=False, unique=True),
    sa.Column("mode", sa.String(32), nullable=False),
    sa.Column("primary_adapter", sa.String(32), nullable=False),
    sa.Column("secondary_adapter", sa.String(32), nullable=False),
    sa.Column("symbols", JSON, nullable=False),
    sa.Column("pair_count", sa.Integer, nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("reasons", JSON, nullable=False),
    sa.Column("metrics", JSON, nullable=False),
    sa.Column("artifact_ref", JSON),
    sa.Column("evaluated_at", TS, nullable=False),
    _created_at(),
)

evidence_log = sa.Table(
    "evidence_log",
    metadata,
    _id(),
    sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
    sa.Column("entry_kind", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(128), nullable=False),
    sa.Column("lane", sa.String(64)),
    sa.Column("window_start", TS),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("content", sa.JSON, nullable=False),  # plain json: JSONB rewrites numbers, breaking re-hashing
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("recorded_at", TS, nullable=False),
    _created_at(),
    sa.Index(None, "entry_kind", "subject", "seq"),
)

alert_deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    _id(),
    sa.Column("incident_key", sa.String(200), nullable=False, unique=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("lane", sa.String(64)),
    sa.Column("incident_id", sa.String(200), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("payload", JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | sent | unconfigured
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.String(200)),
    sa.Column("first_seen_at", TS, nullable=False),
    sa.Column("last_attempt_at", TS),
    sa.Column("claimed_until", TS),
    sa.Column("sent_at", TS),
    _created_at(),
    sa.Index(None, "status", "first_seen_at"),
)

# One row per Jangar fetch attempt (cache hits make none): the newest `ok` row of a URL is the last good
# universe, reused across runs within the cache TTL and max-stale age (ledger/universe_store.py).
universe_snapshots = sa.Table(
    "universe_snapshots",
    metadata,
    _id(),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("source_key", sa.String(64), nullable=False),  # sha256 of the exact URL
    sa.Column("source_url", sa.String(500), nullable=False),  # the URL as shown (password redacted)
    sa.Column("status", sa.String(16), nullable=False),  # ok | error
    sa.Column("reason", sa.String(64), nullable=False),  # jangar_fetch_ok | the failure cause
    sa.Column("symbols", JSON, nullable=False),
    sa.Column("symbols_count", sa.Integer, nullable=False),
    sa.Column("rejected_symbols", sa.Integer, nullable=False, server_default="0"),
    sa.Column("payload_hash", sa.String(64)),
    sa.Column("detail", sa.String(300)),
    sa.Column("fetched_at", TS, nullable=False),
    _created_at(),
    sa.CheckConstraint(
        "(status = 'ok' AND symbols_count > 0) OR (status = 'error' AND symbols_count = 0)",
        name="status_matches_symbols",
    ),
    sa.Index(None, "source_key", "status", "fetched_at"),
)

LANE_WINDOW_TABLES: dict[str, str] = {
    "signals": "lane_window_start",
    "signal_ingest_windows": "window_start",
    "trade_decisions": "window_start",
    "executions": "window_start",
    "execution_tca_metrics": "window_start",
    "research_runs": "window_start",
    "research_candidates": "window_start",
    "research_fold_metrics": "window_start",
    "research_stress_metrics": "window_start",
    "research_promotions": "window_start",
    "llm_decision_reviews": "window_start",
}

emergency_stop_clearances = sa.Table(
    "emergency_stop_clearances",
    metadata,
    _id(),
    sa.Column("lane", sa.String(64), nullable=False),
    sa.Column("cleared_at", TS, nullable=False),
    sa.Column("cleared_through_window", TS),  # the last window the lane had been evaluated through
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),  # dagster_job | cli
    sa.Column("cleared_reasons", JSON, nullable=False),
    sa.Column("emergency_since", TS),
    sa.Column("evidence_hash", sa.String(64), nullable=False),
    _created_at(),
    sa.Index(None, "lane", "cleared_at"),
)

order_cancellations = sa.Table(
    "order_cancellations",
    metadata,
    _id(),
    sa.Column("trigger", sa.String(32), nullable=False),  # trading_kill_switch | emergency_stop
    sa.Column("trigger_reason", sa.String(256), nullable=False),
    sa.Column("trigger_source", sa.String(64), nullable=False),  # executions | set_route_control | ...
    sa.Column("lane", sa.String(64)),
    sa.Column("window_start", TS),
    sa.Column("venue", sa.String(32), nullable=False),
    sa.Column("order_id", sa.String(128)),  # null: the venue could not even be asked
    sa.Column("client_order_id", sa.String(128)),
    sa.Column("accepted", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(32)),
    sa.Column("detail", sa.String(500), nullable=False, server_default=""),
    sa.Column("attempted_at", TS, nullable=False),
    _created_at(),
    sa.Index(None, "attempted_at"),
    sa.Index(None, "lane", "window_start"),
)
