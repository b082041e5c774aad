"""telemetry: one observation per machine, instant and content

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 17:30:00

The contract leaves a report unapplied only when it is older than the newest one applied
for its machine; a second report at the same instant that says something else is not
older, so it must be applied and recorded. What 0017 meant to keep out is the same
message delivered twice (a broker's redelivery, two workers of a shared subscription),
and that message has the same content: `machine_observation` now keeps one row per
machine, `observed_at` and `digest`, a fingerprint of the report's state, forecast and
utilization. Rows recorded before get the digest '' and stand for whatever their machine
said at that instant, so a message taken before the upgrade and delivered again after it
is still a duplicate.

Downgrading keeps one row per machine and instant (the first) before the narrower unique
index comes back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "machine_observation",
        sa.Column("digest", sa.String(length=32), server_default="", nullable=False),
    )
    op.drop_index("uq_machine_observation_machine_at", table_name="machine_observation")
    op.create_index(
        "uq_machine_observation_machine_at_digest",
        "machine_observation",
        ["machine_id", "observed_at", "digest"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_machine_observation_machine_at_digest", table_name="machine_observation")
    op.execute(
        """
        DELETE FROM machine_observation WHERE id NOT IN (
            SELECT min(id) FROM machine_observation GROUP BY machine_id, observed_at
        )
        """
    )
    with op.batch_alter_table("machine_observation") as batch:
        batch.drop_column("digest")
    op.create_index(
        "uq_machine_observation_machine_at",
        "machine_observation",
        ["machine_id", "observed_at"],
        unique=True,
    )
