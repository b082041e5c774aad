"""telemetry: one observation per machine and instant

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 16:45:00

Several workers share the machines' stream, and a broker may deliver a message again:
`machine_observation` keeps one row per machine and `observed_at`, so a report delivered
twice is recorded (and applied) once. Rows that already repeat an instant are kept once
(the first) before the unique index replaces the plain one.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        DELETE FROM machine_observation AS later
        USING machine_observation AS first
        WHERE later.machine_id = first.machine_id
          AND later.observed_at = first.observed_at
          AND later.id > first.id
        """
    )
    op.drop_index("ix_machine_observation_machine_at", table_name="machine_observation")
    op.create_index(
        "uq_machine_observation_machine_at",
        "machine_observation",
        ["machine_id", "observed_at"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_machine_observation_machine_at", table_name="machine_observation")
    op.create_index(
        "ix_machine_observation_machine_at",
        "machine_observation",
        ["machine_id", "observed_at"],
        unique=False,
    )
