"""Disputes: the buyer opens one with evidence after production started; an operator
settles it and the order closes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from sqlmodel import Session, col, select

from factories.errors import N_, Conflict
from factories.models import id_column, id_of, too_long, utcnow
from marketplace.accounts.models import Organization, OrganizationKind
from marketplace.accounts.service import Principal
from marketplace.credit import records
from marketplace.orders import access
from marketplace.orders.errors import OrderError
from marketplace.orders.models import (
    Dispute,
    DisputeState,
    Order,
    OrderState,
)
from marketplace.orders.notify import events
from marketplace.orders.posting.service import buyer_step, lock_orders, touch
from marketplace.orders.production import documents


def operator_organizations(session: Session) -> list[int]:
    """Every operator organization: they hear of disputes and of work at risk."""
    return list(
        session.exec(
            select(id_column(Organization)).where(Organization.kind == OrganizationKind.OPERATOR)
        ).all()
    )


def open_dispute(
    session: Session,
    principal: Principal,
    order_id: int,
    reason: str,
    *,
    upload_folder: Path,
    uploads: Sequence[documents.Upload] = (),
) -> Dispute:
    order = buyer_step(session, principal, order_id)
    reason = reason.strip()
    problems = []
    if not reason:
        problems.append(("reason", N_("say what went wrong")))
    elif message := too_long(reason, Dispute, "reason"):
        problems.append(("reason", message))
    problems += documents.upload_problems(uploads, "evidence")
    if problems:
        raise OrderError.of(problems)
    touch(order, OrderState.DISPUTED)
    dispute = Dispute(
        order_id=order_id,
        opened_by_organization_id=principal.organization_id,
        opened_by_id=principal.user_id,
        reason=reason,
    )
    session.add(dispute)
    session.flush()
    documents.attach(session, principal, upload_folder, uploads, "evidence", dispute=dispute)
    records.dispute_opened(
        session,
        order_id,
        id_of(dispute),
        [id_of(f) for f in access.participants(session, order_id)],
    )
    events.notify(
        session,
        access.participant_organizations(session, order_id) + operator_organizations(session),
        "dispute.opened",
        order_id=order_id,
        title=order.title,
    )
    session.flush()
    return dispute


def resolve_dispute(
    session: Session,
    principal: Principal,
    dispute_id: int,
    resolution: str,
    outcomes: Mapping[int, str] | None = None,
) -> Dispute:
    """An operator settles a dispute; the order closes. `outcomes` says, per factory, who
    won (`records.outcome_of`); a factory not named is `settled`, no money decided."""

    dispute = access.dispute_for_operator(session, principal, dispute_id)
    resolution = resolution.strip()
    if not resolution:
        raise OrderError("resolution", N_("say how the dispute was settled"))
    if message := too_long(resolution, Dispute, "resolution"):
        raise OrderError("resolution", message)
    if dispute.state != DisputeState.OPEN:
        raise Conflict(N_("the dispute is already resolved"))
    order = lock_orders(session, [dispute.order_id])[0]
    touch(order, OrderState.CLOSED)
    order.closed_at = utcnow()
    dispute.state = DisputeState.RESOLVED
    dispute.resolution = resolution
    dispute.resolved_at = utcnow()
    decided = dict(outcomes or {})
    records.dispute_resolved(
        session,
        id_of(order),
        id_of(dispute),
        {
            id_of(f): decided.get(id_of(f), "settled")
            for f in access.participants(session, id_of(order))
        },
    )
    events.notify(
        session,
        [order.buyer_organization_id, *access.participant_organizations(session, id_of(order))],
        "dispute.resolved",
        order_id=order.id,
        title=order.title,
    )
    return dispute


def disputes_of(session: Session, order_id: int) -> list[Dispute]:
    return list(
        session.exec(
            select(Dispute).where(col(Dispute.order_id) == order_id).order_by(col(Dispute.id))
        ).all()
    )


def disputes_to_settle(
    session: Session, state: str | None, limit: int = 200
) -> list[tuple[Dispute, Order]]:
    """Every dispute in `state` (None: all), oldest open first, with its order: the
    operator's list. Access is the page's: operators only."""
    query = select(Dispute, Order).join(Order, col(Order.id) == Dispute.order_id)
    if state is not None:
        query = query.where(col(Dispute.state) == state)
    query = query.order_by(col(Dispute.state), col(Dispute.created_at), col(Dispute.id))
    return [(d, o) for d, o in session.exec(query.limit(limit)).all()]
