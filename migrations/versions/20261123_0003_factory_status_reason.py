"""factory status reason

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 15:55:40.796468
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'factory',
        sa.Column('status_reason', sa.String(length=500), server_default='', nullable=False),
    )


def downgrade() -> None:
    op.drop_column('factory', 'status_reason')
