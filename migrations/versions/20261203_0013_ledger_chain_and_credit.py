"""ledger chain and credit: one successor per ledger event; events are never changed

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 14:00:00

* `ledger_event.prev_hash` is unique: the hash chain cannot fork (factories/ledger.py).
* On PostgreSQL a trigger refuses UPDATE and DELETE of ledger events (TRUNCATE, which
  empties the ledger with everything else in tests and scratch databases, stays possible).
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0013'
down_revision: str | Sequence[str] | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSE_CHANGE = """
CREATE FUNCTION ledger_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger events are append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$
"""


def upgrade() -> None:
    with op.batch_alter_table('ledger_event') as batch:
        batch.create_unique_constraint(op.f('uq_ledger_event_prev_hash'), ['prev_hash'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(REFUSE_CHANGE)
        op.execute(
            "CREATE TRIGGER ledger_event_append_only BEFORE UPDATE OR DELETE ON ledger_event "
            "FOR EACH ROW EXECUTE FUNCTION ledger_event_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER ledger_event_append_only ON ledger_event")
        op.execute("DROP FUNCTION ledger_event_append_only()")
    with op.batch_alter_table('ledger_event') as batch:
        batch.drop_constraint(op.f('uq_ledger_event_prev_hash'), type_='unique')
