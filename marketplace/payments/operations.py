"""The outbox of gateway calls: a business change writes the call it needs (a row here,
with its idempotency key) in its own transaction; after the commit a worker makes the
call, with no transaction open and no order locked, and writes what came of it in
another. A call that fails is made again with backoff, with the same key, so that the
gateway does it once; one the gateway refuses for good stops and is shown to operators.

Kinds and what they are for (the subject's id):
  pay (payment), cancel_payment (payment), sync_payment (payment), refund (refund),
  create_account (account), sync_account (account), transfer (payout).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select, update

from factories.models import id_column, id_of, utcnow
from marketplace.db import Database
from marketplace.orders import outbox
from marketplace.payments.gateways.base import Gateway, GatewayError, GatewayRefusal
from marketplace.payments.models import GatewayOperation, OperationState
from marketplace.payments.settings import PaymentSettings

log = logging.getLogger(__name__)

JOB = "payments.operation"
# Longer than any gateway call takes: a claimed operation is not made twice at once.
LEASE = timedelta(seconds=60)
MAX_ERROR = 500

# kind -> (read what the call needs in a short transaction of its own and make the call,
# with no transaction open: returns what to apply; apply it in the final transaction)
Call = Callable[[Database, Gateway, GatewayOperation], Any]
Apply = Callable[[Session, GatewayOperation, Any, datetime], None]
HANDLERS: dict[str, tuple[Call, Apply]] = {}


def handles(kind: str, call: Call, apply: Apply) -> None:
    """Register how an operation of `kind` is made and how its result is applied."""
    HANDLERS[kind] = (call, apply)


def enqueue(
    session: Session,
    kind: str,
    subject_id: int,
    idempotency_key: str,
    payload: dict[str, Any] | None = None,
) -> GatewayOperation:
    """Write the call (once per key) and hand it to the dispatcher after the commit."""
    existing = session.exec(
        select(GatewayOperation).where(GatewayOperation.idempotency_key == idempotency_key)
    ).first()
    if existing is not None:
        return existing
    operation = GatewayOperation(
        kind=kind,
        subject_id=subject_id,
        idempotency_key=idempotency_key,
        payload=payload or {},
        next_attempt_at=utcnow(),
    )
    session.add(operation)
    session.flush()
    outbox.later(session, jobs=[(JOB, id_of(operation))])
    return operation


def perform(
    database: Database,
    operation_id: int,
    *,
    gateway: Gateway,
    settings: PaymentSettings,
    dispatcher: outbox.Dispatcher | None = None,
) -> str:
    """Make one due call and apply its result; what became of it."""
    with database.session() as session:
        # One conditional update claims the call: whoever else looks at it (another
        # worker, the sweep) finds it leased, on any database.
        now = utcnow()
        claimed = session.exec(
            update(GatewayOperation)
            .where(
                col(GatewayOperation.id) == operation_id,
                col(GatewayOperation.state) == OperationState.PENDING,
                col(GatewayOperation.next_attempt_at) <= now,
            )
            .values(attempts=col(GatewayOperation.attempts) + 1, next_attempt_at=now + LEASE)
        )
        if claimed.rowcount != 1:
            return "not due"
        subject = session.get_one(GatewayOperation, operation_id)
        call, apply = HANDLERS[subject.kind]
        # What the call needs, read now; the call itself comes after this commit.
        session.expunge(subject)
    try:
        result = call(database, gateway, subject)
    except GatewayError as error:
        return _retry(database, operation_id, str(error), settings)
    except GatewayRefusal as error:
        return _give_up(database, operation_id, str(error))
    with database.session() as session:
        if dispatcher is not None:
            outbox.use_dispatcher(session, dispatcher)
        operation = session.exec(
            select(GatewayOperation).where(GatewayOperation.id == operation_id).with_for_update()
        ).one()
        if operation.state != OperationState.PENDING:
            return operation.state
        now = utcnow()
        apply(session, operation, result, now)
        operation.state = OperationState.DONE
        operation.done_at = now
        operation.last_error = ""
    return OperationState.DONE


def _retry(database: Database, operation_id: int, error: str, settings: PaymentSettings) -> str:
    with database.session() as session:
        operation = session.exec(
            select(GatewayOperation).where(GatewayOperation.id == operation_id).with_for_update()
        ).one()
        operation.last_error = error[:MAX_ERROR]
        if operation.attempts >= settings.max_attempts:
            operation.state = OperationState.FAILED
            log.error("gateway call %s (%s) given up: %s", operation.id, operation.kind, error)
            return OperationState.FAILED
        delay = settings.retry_base_s * 2 ** (operation.attempts - 1)
        operation.next_attempt_at = utcnow() + timedelta(seconds=delay)
        log.warning(
            "gateway call %s (%s) failed: %s; next attempt in %g s",
            operation.id,
            operation.kind,
            error,
            delay,
        )
        return "retry"


def _give_up(database: Database, operation_id: int, error: str) -> str:
    with database.session() as session:
        operation = session.exec(
            select(GatewayOperation).where(GatewayOperation.id == operation_id).with_for_update()
        ).one()
        operation.state = OperationState.FAILED
        operation.last_error = error[:MAX_ERROR]
        log.error("gateway refused call %s (%s): %s", operation.id, operation.kind, error)
    return OperationState.FAILED


def due(session: Session, now: datetime, limit: int = 200) -> list[int]:
    """Pending calls whose time has come (their first hand-off lost, or a retry due)."""
    return list(
        session.exec(
            select(id_column(GatewayOperation))
            .where(
                GatewayOperation.state == OperationState.PENDING,
                col(GatewayOperation.next_attempt_at) <= now,
            )
            .order_by(col(GatewayOperation.id))
            .limit(limit)
        ).all()
    )
