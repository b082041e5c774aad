"""order lines: what the buyer paid for a line whose paid work an outage moved

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | Sequence[str] | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('order_line', sa.Column('paid_price_minor', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column('order_line', 'paid_price_minor')
