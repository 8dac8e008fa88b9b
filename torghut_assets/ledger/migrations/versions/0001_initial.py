"""initial ledger

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approval_overrides",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("override_id", sa.String(length=64), nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=False),
        sa.Column("approver", sa.String(length=128), nullable=False),
        sa.Column("approver_role", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "scope",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("policy_checksum", sa.String(length=64), nullable=False),
        sa.Column("gate_evaluation_id", sa.Uuid(as_uuid=False), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_overrides")),
        sa.UniqueConstraint("override_id", name=op.f("uq_approval_overrides_override_id")),
    )
    op.create_table(
        "continuity_events",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("actionable", sa.Boolean(), nullable=False),
        sa.Column("market_session_open", sa.Boolean(), nullable=False),
        sa.Column("signal_lag_seconds", sa.Float(), nullable=True),
        sa.Column("streak", sa.Integer(), nullable=False),
        sa.Column("alert_active", sa.Boolean(), nullable=False),
        sa.Column("transition", sa.String(length=32), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_continuity_events")),
    )
    with op.batch_alter_table("continuity_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_continuity_events_lane_window_start"), ["lane", "window_start"], unique=False
        )

    op.create_table(
        "continuity_state",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("last_window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("streak", sa.Integer(), server_default="0", nullable=False),
        sa.Column("alert_active", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("alert_reason", sa.String(length=64), nullable=True),
        sa.Column("alert_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recovery_streak", sa.Integer(), server_default="0", nullable=False),
        sa.Column("emergency_stop_active", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "emergency_reasons",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("emergency_recovery_streak", sa.Integer(), server_default="0", nullable=False),
        sa.Column("emergency_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_continuity_state")),
        sa.UniqueConstraint("lane", name=op.f("uq_continuity_state_lane")),
    )
    op.create_table(
        "evidence_log",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_kind", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("lane", sa.String(length=64), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_log")),
        sa.UniqueConstraint("entry_hash", name=op.f("uq_evidence_log_entry_hash")),
        sa.UniqueConstraint("seq", name=op.f("uq_evidence_log_seq")),
    )
    with op.batch_alter_table("evidence_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evidence_log_entry_kind_subject_seq"),
            ["entry_kind", "subject", "seq"],
            unique=False,
        )

    op.create_table(
        "gate_evaluations",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=False),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.String(length=32), nullable=False),
        sa.Column("policy_checksum", sa.String(length=64), nullable=False),
        sa.Column("promotion_target", sa.String(length=16), nullable=False),
        sa.Column("promotion_allowed", sa.Boolean(), nullable=False),
        sa.Column("recommended_mode", sa.String(length=16), nullable=False),
        sa.Column(
            "gates",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "reasons",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("uncertainty_gate_action", sa.String(length=16), nullable=True),
        sa.Column(
            "report_json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("code_version", sa.String(length=64), nullable=True),
        sa.Column("gate_report_trace_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_evaluations")),
    )
    with op.batch_alter_table("gate_evaluations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gate_evaluations_candidate_id"), ["candidate_id"], unique=False)

    op.create_table(
        "research_candidates",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=False),
        sa.Column("candidate_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "parameter_set",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("decision_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("trade_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("symbols_covered", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "universe_definition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("promotion_target", sa.String(length=16), nullable=True),
        sa.Column("lifecycle_role", sa.String(length=16), server_default="challenger", nullable=False),
        sa.Column("lifecycle_status", sa.String(length=16), server_default="evaluated", nullable=False),
        sa.Column(
            "metadata_bundle",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "recommendation_bundle",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_research_candidates")),
        sa.UniqueConstraint("candidate_id", name=op.f("uq_research_candidates_candidate_id")),
    )
    with op.batch_alter_table("research_candidates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_research_candidates_lane_window_start"), ["lane", "window_start"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_research_candidates_run_id"), ["run_id"], unique=False)

    op.create_table(
        "research_fold_metrics",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=False),
        sa.Column("fold_name", sa.String(length=32), nullable=False),
        sa.Column("fold_order", sa.Integer(), nullable=False),
        sa.Column("train_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("train_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("test_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("test_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("trade_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("gross_pnl", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True),
        sa.Column("net_pnl", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True),
        sa.Column("max_drawdown", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True),
        sa.Column("turnover_ratio", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True),
        sa.Column("cost_bps", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True),
        sa.Column(
            "cost_assumptions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("regime_label", sa.String(length=32), nullable=True),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_research_fold_metrics")),
        sa.UniqueConstraint(
            "candidate_id", "fold_name", name=op.f("uq_research_fold_metrics_candidate_id_fold_name")
        ),
    )
    with op.batch_alter_table("research_fold_metrics", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_research_fold_metrics_lane_window_start"), ["lane", "window_start"], unique=False
        )

    op.create_table(
        "research_promotions",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=False),
        sa.Column("requested_mode", sa.String(length=16), nullable=True),
        sa.Column("approved_mode", sa.String(length=16), nullable=True),
        sa.Column("approver", sa.String(length=128), nullable=True),
        sa.Column("approver_role", sa.String(length=64), nullable=True),
        sa.Column("approve_reason", sa.Text(), nullable=True),
        sa.Column("deny_reason", sa.Text(), nullable=True),
        sa.Column("paper_candidate_patch_ref", sa.String(length=256), nullable=True),
        sa.Column("effective_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_action", sa.String(length=16), server_default="hold", nullable=False),
        sa.Column("decision_rationale", sa.Text(), nullable=True),
        sa.Column(
            "evidence_bundle",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("recommendation_trace_id", sa.String(length=64), nullable=True),
        sa.Column("successor_candidate_id", sa.String(length=64), nullable=True),
        sa.Column("rollback_candidate_id", sa.String(length=64), nullable=True),
        sa.Column("override_id", sa.String(length=64), nullable=True),
        sa.Column("policy_checksum", sa.String(length=64), nullable=True),
        sa.Column("gate_evaluation_id", sa.Uuid(as_uuid=False), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "(approve_reason IS NULL) <> (deny_reason IS NULL)",
            name=op.f("ck_research_promotions_exactly_one_of_approve_or_deny_reason"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_research_promotions")),
    )
    with op.batch_alter_table("research_promotions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_research_promotions_candidate_id"), ["candidate_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_research_promotions_lane_window_start"), ["lane", "window_start"], unique=False
        )

    op.create_table(
        "research_runs",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("run_kind", sa.String(length=32), server_default="lane_window", nullable=False),
        sa.Column("status", sa.String(length=32), server_default="running", nullable=False),
        sa.Column("strategy_id", sa.Uuid(as_uuid=False), nullable=True),
        sa.Column("strategy_name", sa.String(length=128), nullable=True),
        sa.Column("strategy_type", sa.String(length=64), nullable=True),
        sa.Column("strategy_version", sa.String(length=32), nullable=True),
        sa.Column("code_commit", sa.String(length=64), nullable=True),
        sa.Column("feature_version", sa.String(length=32), nullable=True),
        sa.Column("feature_schema_version", sa.String(length=32), nullable=True),
        sa.Column("feature_spec_hash", sa.String(length=64), nullable=True),
        sa.Column("signal_source", sa.String(length=64), nullable=True),
        sa.Column("dataset_version", sa.String(length=64), nullable=True),
        sa.Column("dataset_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dataset_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dataset_snapshot_ref", sa.String(length=256), nullable=True),
        sa.Column("runner_version", sa.String(length=64), nullable=True),
        sa.Column("runner_binary_hash", sa.String(length=64), nullable=True),
        sa.Column("gate_report_trace_id", sa.String(length=64), nullable=True),
        sa.Column("recommendation_trace_id", sa.String(length=64), nullable=True),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("no_signal_reason", sa.String(length=64), nullable=True),
        sa.Column("policy_checksum", sa.String(length=64), nullable=True),
        sa.Column("artifact_manifest_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "artifact_refs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_research_runs")),
        sa.UniqueConstraint(
            "lane",
            "window_start",
            "window_end",
            "run_kind",
            name=op.f("uq_research_runs_lane_window_start_window_end_run_kind"),
        ),
        sa.UniqueConstraint("run_id", name=op.f("uq_research_runs_run_id")),
    )
    op.create_table(
        "research_stress_metrics",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=False),
        sa.Column("stress_case", sa.String(length=32), nullable=False),
        sa.Column(
            "metric_bundle",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "pessimistic_pnl_delta", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True
        ),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_research_stress_metrics")),
        sa.UniqueConstraint(
            "candidate_id", "stress_case", name=op.f("uq_research_stress_metrics_candidate_id_stress_case")
        ),
    )
    with op.batch_alter_table("research_stress_metrics", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_research_stress_metrics_lane_window_start"), ["lane", "window_start"], unique=False
        )

    op.create_table(
        "rollback_incidents",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("triggered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "reasons",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "safety_snapshot",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("signal_lag_seconds", sa.Float(), nullable=True),
        sa.Column("autonomy_failure_streak", sa.Integer(), nullable=True),
        sa.Column("fallback_ratio", sa.Float(), nullable=True),
        sa.Column("fallback_total", sa.Integer(), nullable=True),
        sa.Column("orders_submitted_total", sa.Integer(), nullable=True),
        sa.Column("max_drawdown", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True),
        sa.Column("last_run_id", sa.String(length=64), nullable=True),
        sa.Column("gate_artifact", sa.String(length=256), nullable=True),
        sa.Column(
            "rollback_hooks",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "provenance",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "cancelled_open_orders",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "verification",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("evidence_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollback_incidents")),
    )
    op.create_table(
        "rollout_transitions",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("transition_id", sa.String(length=64), nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=True),
        sa.Column("from_stage", sa.String(length=32), nullable=False),
        sa.Column("to_stage", sa.String(length=32), nullable=False),
        sa.Column("transition_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "gate_results_json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "reason_codes_json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("blocking_gate", sa.String(length=64), nullable=True),
        sa.Column("evidence_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollout_transitions")),
        sa.UniqueConstraint("transition_id", name=op.f("uq_rollout_transitions_transition_id")),
    )
    op.create_table(
        "route_control_events",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("control", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("operator", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_control_events")),
    )
    with op.batch_alter_table("route_control_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_route_control_events_control_at"), ["control", "at"], unique=False
        )

    op.create_table(
        "route_parity_reports",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("report_id", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("primary_adapter", sa.String(length=32), nullable=False),
        sa.Column("secondary_adapter", sa.String(length=32), nullable=False),
        sa.Column(
            "symbols",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("pair_count", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column(
            "reasons",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "artifact_ref",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_parity_reports")),
        sa.UniqueConstraint("report_id", name=op.f("uq_route_parity_reports_report_id")),
    )
    op.create_table(
        "signal_ingest_windows",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("source_mode", sa.String(length=32), nullable=False),
        sa.Column("signals_total", sa.Integer(), nullable=False),
        sa.Column("rejected_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "rejected_by_reason",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("symbols_covered", sa.Integer(), server_default="0", nullable=False),
        sa.Column("no_signal_reason", sa.String(length=64), nullable=True),
        sa.Column("signal_lag_seconds", sa.Float(), nullable=True),
        sa.Column("market_session_open", sa.Boolean(), nullable=False),
        sa.Column("newest_signal_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dataset_version", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signal_ingest_windows")),
        sa.UniqueConstraint("lane", "window_start", name=op.f("uq_signal_ingest_windows_lane_window_start")),
    )
    op.create_table(
        "signals",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("lane_window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("event_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ingest_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("is_final", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("window_size", sa.String(length=16), nullable=False),
        sa.Column("window_step", sa.String(length=16), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("price", sa.Numeric(precision=20, scale=8, asdecimal=False), nullable=True),
        sa.Column("close", sa.Numeric(precision=20, scale=8, asdecimal=False), nullable=True),
        sa.Column("vwap", sa.Numeric(precision=20, scale=8, asdecimal=False), nullable=True),
        sa.Column("volume", sa.BigInteger(), nullable=True),
        sa.Column("macd", sa.Float(), nullable=True),
        sa.Column("macd_signal", sa.Float(), nullable=True),
        sa.Column("macd_hist", sa.Float(), nullable=True),
        sa.Column("ema12", sa.Float(), nullable=True),
        sa.Column("ema26", sa.Float(), nullable=True),
        sa.Column("rsi14", sa.Float(), nullable=True),
        sa.Column("boll_mid", sa.Float(), nullable=True),
        sa.Column("boll_upper", sa.Float(), nullable=True),
        sa.Column("boll_lower", sa.Float(), nullable=True),
        sa.Column("vwap_session", sa.Float(), nullable=True),
        sa.Column("vwap_w5m", sa.Float(), nullable=True),
        sa.Column("imbalance_spread", sa.Float(), nullable=True),
        sa.Column("imbalance_bid_px", sa.Float(), nullable=True),
        sa.Column("imbalance_ask_px", sa.Float(), nullable=True),
        sa.Column("vol_realized_w60s", sa.Float(), nullable=True),
        sa.Column("imbalance_bid_sz", sa.BigInteger(), nullable=True),
        sa.Column("imbalance_ask_sz", sa.BigInteger(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signals")),
        sa.UniqueConstraint(
            "lane", "symbol", "event_ts", "seq", name=op.f("uq_signals_lane_symbol_event_ts_seq")
        ),
    )
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_signals_lane_lane_window_start"), ["lane", "lane_window_start"], unique=False
        )

    op.create_table(
        "strategies",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("strategy_type", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="100", nullable=False),
        sa.Column("base_timeframe", sa.String(length=16), server_default="1Min", nullable=False),
        sa.Column("universe_type", sa.String(length=32), server_default="static", nullable=False),
        sa.Column(
            "universe_symbols",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "max_position_pct_equity", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True
        ),
        sa.Column(
            "max_notional_per_trade", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True
        ),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_strategies")),
        sa.UniqueConstraint("name", name=op.f("uq_strategies_name")),
    )
    op.create_table(
        "trade_cursor",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("account_label", sa.String(length=64), nullable=False),
        sa.Column("cursor_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cursor_seq", sa.BigInteger(), nullable=True),
        sa.Column("cursor_symbol", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trade_cursor")),
        sa.UniqueConstraint("source", "account_label", name=op.f("uq_trade_cursor_source_account_label")),
    )
    op.create_table(
        "trade_decisions",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("strategy_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("alpaca_account_label", sa.String(length=64), server_default="paper", nullable=False),
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("timeframe", sa.String(length=16), nullable=False),
        sa.Column(
            "decision_json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.Column("decision_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), server_default="planned", nullable=False),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signal_event_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signal_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["strategy_id"],
            ["strategies.id"],
            name=op.f("fk_trade_decisions_strategy_id_strategies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trade_decisions")),
        sa.UniqueConstraint(
            "alpaca_account_label",
            "decision_hash",
            name=op.f("uq_trade_decisions_alpaca_account_label_decision_hash"),
        ),
    )
    with op.batch_alter_table("trade_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trade_decisions_lane_window_start"), ["lane", "window_start"], unique=False
        )

    op.create_table(
        "executions",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("trade_decision_id", sa.Uuid(as_uuid=False), nullable=True),
        sa.Column("alpaca_account_label", sa.String(length=64), nullable=False),
        sa.Column("alpaca_order_id", sa.String(length=128), nullable=False),
        sa.Column("client_order_id", sa.String(length=128), nullable=True),
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("order_type", sa.String(length=16), nullable=False),
        sa.Column("time_in_force", sa.String(length=16), nullable=False),
        sa.Column("submitted_qty", sa.Numeric(precision=20, scale=8, asdecimal=False), nullable=False),
        sa.Column(
            "filled_qty",
            sa.Numeric(precision=20, scale=8, asdecimal=False),
            server_default="0",
            nullable=False,
        ),
        sa.Column("avg_fill_price", sa.Numeric(precision=20, scale=8, asdecimal=False), nullable=True),
        sa.Column(
            "fees", sa.Numeric(precision=28, scale=10, asdecimal=False), server_default="0", nullable=False
        ),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column(
            "execution_expected_adapter", sa.String(length=32), server_default="unknown", nullable=False
        ),
        sa.Column("execution_actual_adapter", sa.String(length=32), server_default="unknown", nullable=False),
        sa.Column("execution_fallback_reason", sa.String(length=128), nullable=True),
        sa.Column("execution_fallback_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("execution_correlation_id", sa.String(length=128), nullable=True),
        sa.Column("execution_idempotency_key", sa.String(length=128), nullable=True),
        sa.Column(
            "execution_audit_json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "raw_order",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("last_update_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("order_feed_last_event_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("order_feed_last_seq", sa.BigInteger(), nullable=True),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "(execution_fallback_count = 0 AND execution_fallback_reason IS NULL) OR (execution_fallback_count > 0 AND execution_fallback_reason IS NOT NULL)",
            name=op.f("ck_executions_fallback_reason_iff_count"),
        ),
        sa.ForeignKeyConstraint(
            ["trade_decision_id"],
            ["trade_decisions.id"],
            name=op.f("fk_executions_trade_decision_id_trade_decisions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_executions")),
        sa.UniqueConstraint(
            "alpaca_account_label",
            "alpaca_order_id",
            name=op.f("uq_executions_alpaca_account_label_alpaca_order_id"),
        ),
        sa.UniqueConstraint(
            "alpaca_account_label",
            "client_order_id",
            name=op.f("uq_executions_alpaca_account_label_client_order_id"),
        ),
    )
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_executions_lane_window_start"), ["lane", "window_start"], unique=False
        )

    op.create_table(
        "llm_decision_reviews",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("trade_decision_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("prompt_version", sa.String(length=64), nullable=False),
        sa.Column(
            "input_json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "response_json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("confidence", sa.Numeric(precision=6, scale=4, asdecimal=False), nullable=True),
        sa.Column("adjusted_qty", sa.Numeric(precision=20, scale=8, asdecimal=False), nullable=True),
        sa.Column("adjusted_order_type", sa.String(length=16), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.Column(
            "risk_flags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("tokens_prompt", sa.Integer(), nullable=True),
        sa.Column("tokens_completion", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trade_decision_id"],
            ["trade_decisions.id"],
            name=op.f("fk_llm_decision_reviews_trade_decision_id_trade_decisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_decision_reviews")),
    )
    op.create_table(
        "execution_tca_metrics",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("execution_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("trade_decision_id", sa.Uuid(as_uuid=False), nullable=True),
        sa.Column("strategy_id", sa.Uuid(as_uuid=False), nullable=True),
        sa.Column("alpaca_account_label", sa.String(length=64), nullable=True),
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("arrival_price", sa.Numeric(precision=20, scale=8, asdecimal=False), nullable=True),
        sa.Column("avg_fill_price", sa.Numeric(precision=20, scale=8, asdecimal=False), nullable=True),
        sa.Column("submitted_qty", sa.Numeric(precision=20, scale=8, asdecimal=False), nullable=True),
        sa.Column("filled_qty", sa.Numeric(precision=20, scale=8, asdecimal=False), nullable=False),
        sa.Column("fill_ratio", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True),
        sa.Column(
            "signed_qty",
            sa.Numeric(precision=20, scale=8, asdecimal=False),
            server_default="0",
            nullable=False,
        ),
        sa.Column("slippage_bps", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True),
        sa.Column("shortfall_notional", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True),
        sa.Column(
            "realized_shortfall_bps", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True
        ),
        sa.Column(
            "expected_shortfall_bps_p50", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True
        ),
        sa.Column(
            "expected_shortfall_bps_p95", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True
        ),
        sa.Column("simulator_version", sa.String(length=64), nullable=True),
        sa.Column("divergence_bps", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True),
        sa.Column(
            "churn_qty",
            sa.Numeric(precision=20, scale=8, asdecimal=False),
            server_default="0",
            nullable=False,
        ),
        sa.Column("churn_ratio", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True),
        sa.Column("decision_price", sa.Numeric(precision=20, scale=8, asdecimal=False), nullable=True),
        sa.Column("market_arrival_price", sa.Numeric(precision=20, scale=8, asdecimal=False), nullable=True),
        sa.Column("delay_cost_notional", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True),
        sa.Column("impact_cost_notional", sa.Numeric(precision=28, scale=10, asdecimal=False), nullable=True),
        sa.Column(
            "fees_notional",
            sa.Numeric(precision=28, scale=10, asdecimal=False),
            server_default="0",
            nullable=False,
        ),
        sa.Column(
            "implementation_shortfall_notional",
            sa.Numeric(precision=28, scale=10, asdecimal=False),
            nullable=True,
        ),
        sa.Column("expected_adapter", sa.String(length=32), nullable=True),
        sa.Column("actual_adapter", sa.String(length=32), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name=op.f("fk_execution_tca_metrics_execution_id_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_execution_tca_metrics")),
        sa.UniqueConstraint("execution_id", name=op.f("uq_execution_tca_metrics_execution_id")),
    )
    with op.batch_alter_table("execution_tca_metrics", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_execution_tca_metrics_lane_window_start"), ["lane", "window_start"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("execution_tca_metrics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_execution_tca_metrics_lane_window_start"))

    op.drop_table("execution_tca_metrics")
    op.drop_table("llm_decision_reviews")
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_executions_lane_window_start"))

    op.drop_table("executions")
    with op.batch_alter_table("trade_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trade_decisions_lane_window_start"))

    op.drop_table("trade_decisions")
    op.drop_table("trade_cursor")
    op.drop_table("strategies")
    with op.batch_alter_table("signals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signals_lane_lane_window_start"))

    op.drop_table("signals")
    op.drop_table("signal_ingest_windows")
    op.drop_table("route_parity_reports")
    with op.batch_alter_table("route_control_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_route_control_events_control_at"))

    op.drop_table("route_control_events")
    op.drop_table("rollout_transitions")
    op.drop_table("rollback_incidents")
    with op.batch_alter_table("research_stress_metrics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_research_stress_metrics_lane_window_start"))

    op.drop_table("research_stress_metrics")
    op.drop_table("research_runs")
    with op.batch_alter_table("research_promotions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_research_promotions_lane_window_start"))
        batch_op.drop_index(batch_op.f("ix_research_promotions_candidate_id"))

    op.drop_table("research_promotions")
    with op.batch_alter_table("research_fold_metrics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_research_fold_metrics_lane_window_start"))

    op.drop_table("research_fold_metrics")
    with op.batch_alter_table("research_candidates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_research_candidates_run_id"))
        batch_op.drop_index(batch_op.f("ix_research_candidates_lane_window_start"))

    op.drop_table("research_candidates")
    with op.batch_alter_table("gate_evaluations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gate_evaluations_candidate_id"))

    op.drop_table("gate_evaluations")
    with op.batch_alter_table("evidence_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_log_entry_kind_subject_seq"))

    op.drop_table("evidence_log")
    op.drop_table("continuity_state")
    with op.batch_alter_table("continuity_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_continuity_events_lane_window_start"))

    op.drop_table("continuity_events")
    op.drop_table("approval_overrides")
