"""Indexes the nightly reconciliation and the 72 h profitability report need at scale.

Without them SQLite answers the promotion→run and execution→decision anti-joins with nested scans
(quadratic in the ledger size, found by bench/reconciliation_scale.py) and the report's time-window
aggregates scan whole tables.

Revision ID: 0005_scale_indexes
Revises: 0004_alert_deliveries
Create Date: 2026-11-24 20:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0005_scale_indexes"
down_revision = "0004_alert_deliveries"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_research_promotions_run_id", "research_promotions", ["run_id"]),
    ("ix_executions_trade_decision_id", "executions", ["trade_decision_id"]),
    ("ix_executions_created_at", "executions", ["created_at"]),
    ("ix_trade_decisions_created_at", "trade_decisions", ["created_at"]),
    ("ix_execution_tca_metrics_computed_at", "execution_tca_metrics", ["computed_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
