"""telemetry: one observation per machine and instant

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 16:45:00

Several workers share the machines' stream, and a broker may deliver a message again:
`machine_observation` keeps one row per machine and `observed_at`, so a report delivered
twice is recorded (and applied) once. Rows that already repeat an instant are kept once
(the first) before the unique index replaces the plain one. (0019 keys the rows by their
content too: a different report at the same instant is applied, as the contract says.)

`machine` is rewritten at every report (thousands a second): with half of each page
left free, PostgreSQL updates a row in place of its page (no index entry), which keeps
the table and its indexes from growing with every report.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        DELETE FROM machine_observation WHERE id NOT IN (
            SELECT min(id) FROM machine_observation GROUP BY machine_id, observed_at
        )
        """
    )
    op.drop_index("ix_machine_observation_machine_at", table_name="machine_observation")
    op.create_index(
        "uq_machine_observation_machine_at",
        "machine_observation",
        ["machine_id", "observed_at"],
        unique=True,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE machine SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE machine RESET (fillfactor)")
    op.drop_index("uq_machine_observation_machine_at", table_name="machine_observation")
    op.create_index(
        "ix_machine_observation_machine_at",
        "machine_observation",
        ["machine_id", "observed_at"],
        unique=False,
    )
