"""operator: computed network reports

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0015'
down_revision: str | Sequence[str] | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'network_report',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.Column(
            'report',
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_network_report')),
    )
    op.create_index(
        op.f('ix_network_report_computed_at'), 'network_report', ['computed_at'], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_network_report_computed_at'), table_name='network_report')
    op.drop_table('network_report')
