"""orders: a run's problem stored compressed; runs solved in parts

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 17:00:00
"""

import json
import zlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BATCH = 200


def upgrade() -> None:
    op.add_column("match_run", sa.Column("problem_z", sa.LargeBinary(), nullable=True))
    _convert(
        "problem",
        "problem_z",
        lambda v: zlib.compress(json.dumps(v, separators=(",", ":")).encode()),
        JSON_DOCUMENT,
    )
    with op.batch_alter_table("match_run") as batch:
        batch.drop_column("problem")
        batch.alter_column("problem_z", new_column_name="problem", nullable=False)
    op.create_table(
        "match_run_fanout",
        sa.Column("match_run_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("context", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["match_run_id"],
            ["match_run.id"],
            name=op.f("fk_match_run_fanout_match_run_id_match_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("match_run_id", name=op.f("pk_match_run_fanout")),
    )
    op.create_table(
        "match_run_part",
        sa.Column("match_run_id", sa.Integer(), nullable=False),
        sa.Column("part_no", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("jobs", sa.Integer(), nullable=False),
        sa.Column("terms", sa.Integer(), nullable=False),
        sa.Column("time_limit_s", sa.Float(), nullable=False),
        sa.Column("problem", sa.LargeBinary(), nullable=False),
        sa.Column("plan", sa.LargeBinary(), nullable=True),
        sa.Column("fill", sa.Float(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("solve_s", sa.Float(), nullable=True),
        sa.Column("peak_rss_kb", sa.Integer(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["match_run_id"],
            ["match_run_fanout.match_run_id"],
            name=op.f("fk_match_run_part_match_run_id_match_run_fanout"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("match_run_id", "part_no", name=op.f("pk_match_run_part")),
    )


def downgrade() -> None:
    op.drop_table("match_run_part")
    op.drop_table("match_run_fanout")
    op.add_column("match_run", sa.Column("problem_j", JSON_DOCUMENT, nullable=True))
    _convert("problem", "problem_j", lambda v: json.loads(zlib.decompress(v)), sa.LargeBinary())
    with op.batch_alter_table("match_run") as batch:
        batch.drop_column("problem")
        batch.alter_column("problem_j", new_column_name="problem", nullable=False)


def _convert(source: str, target: str, convert, source_type) -> None:  # type: ignore[no-untyped-def]
    """Copy every run's `source` into `target` through `convert`, a batch at a time."""
    bind = op.get_bind()
    table = sa.table(
        "match_run",
        sa.column("id", sa.Integer()),
        sa.column(source, source_type),
        sa.column(target),
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(table.c.id, table.c[source])
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for run_id, value in rows:
            bind.execute(
                table.update().where(table.c.id == run_id).values({target: convert(value)})
            )
        last = rows[-1][0]
