"""Production and delivery: the factories' milestones (started, QA passed with its
documents, shipped with tracking), the buyer's confirmation of delivery, and closing.
The order ships when every factory with accepted work shipped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from factories.errors import N_, Conflict, NotFound
from factories.models import id_of, too_long, utcnow
from marketplace.accounts.service import Principal
from marketplace.credit import records
from marketplace.orders import access, signals
from marketplace.orders.errors import OrderError
from marketplace.orders.models import (
    Milestone,
    MilestoneKind,
    Order,
    OrderState,
)
from marketplace.orders.notify import events
from marketplace.orders.posting.service import buyer_step, lock_order, touch
from marketplace.orders.production import documents

MILESTONE_ORDER = (MilestoneKind.STARTED, MilestoneKind.QA_PASSED, MilestoneKind.SHIPPED)


def milestones_of(
    session: Session, order_id: int, factory_ids: Sequence[int] | None = None
) -> list[Milestone]:
    query = select(Milestone).where(col(Milestone.order_id) == order_id).order_by(col(Milestone.id))
    if factory_ids is not None:
        query = query.where(col(Milestone.factory_id).in_(factory_ids))
    return list(session.exec(query).all())


def add_milestone(
    session: Session,
    principal: Principal,
    order_id: int,
    kind: str,
    *,
    upload_folder: Path,
    factory_id: int | None = None,
    note: str = "",
    carrier: str = "",
    tracking_number: str = "",
    uploads: Sequence[documents.Upload] = (),
) -> Milestone:
    """A factory reports progress on its part of a confirmed order."""
    order = lock_order(session, access.order_for(session, principal, order_id))
    mine = access.own_factories(principal, access.participants(session, order_id))
    if not mine:
        raise NotFound(f"order {order_id}")
    if factory_id is None and len(mine) == 1:
        factory_id = id_of(mine[0])
    if factory_id is None or factory_id not in {id_of(f) for f in mine}:
        raise OrderError(
            "factory_id", N_("name one of your factories with accepted work on this order")
        )
    if kind not in {k.value for k in MilestoneKind}:
        raise OrderError(
            "kind",
            N_("must be one of %(choices)s", choices=", ".join(k.value for k in MILESTONE_ORDER)),
        )
    note, carrier, tracking_number = note.strip(), carrier.strip(), tracking_number.strip()
    # Each text against its own column, whatever the milestone, and the files by content.
    problems = [
        (name, message)
        for name, value in (
            ("note", note),
            ("carrier", carrier),
            ("tracking_number", tracking_number),
        )
        if (message := too_long(value, Milestone, name))
    ]
    problems += documents.upload_problems(uploads, "documents")
    needed = []
    if kind == MilestoneKind.QA_PASSED and not uploads:
        needed.append(("documents", N_("attach the QA report")))
    if kind == MilestoneKind.SHIPPED and not tracking_number:
        needed.append(("tracking_number", N_("is required when shipping")))
    if problems:  # every problem of the input at once
        raise OrderError.of(problems + needed)
    done = {m.kind for m in milestones_of(session, order_id, [factory_id])}
    position = [k.value for k in MILESTONE_ORDER].index(kind)
    if kind in done:
        raise Conflict(N_("%(state)s was already reported", state=kind))
    if position > 0 and MILESTONE_ORDER[position - 1] not in done:
        raise Conflict(N_("report %(state)s first", state=MILESTONE_ORDER[position - 1].value))
    if order.state not in (OrderState.CONFIRMED, OrderState.IN_PRODUCTION):
        raise Conflict(
            N_("the order is %(state)s; milestones follow confirmation", state=order.state)
        )
    if needed:
        raise OrderError.of(needed)
    milestone = Milestone(
        order_id=order_id,
        factory_id=factory_id,
        kind=kind,
        note=note,
        carrier=carrier,
        tracking_number=tracking_number,
        created_by_id=principal.user_id,
    )
    session.add(milestone)
    session.flush()
    documents.attach(session, principal, upload_folder, uploads, "documents", milestone=milestone)
    records.milestone(session, order_id, factory_id, kind)
    if kind == MilestoneKind.STARTED and order.state == OrderState.CONFIRMED:
        touch(order, OrderState.IN_PRODUCTION)
    if kind == MilestoneKind.SHIPPED:
        session.flush()
        factories = {f.id for f in access.participants(session, order_id)}
        shipped = {
            m.factory_id
            for m in milestones_of(session, order_id)
            if m.kind == MilestoneKind.SHIPPED
        }
        if factories <= shipped:
            touch(order, OrderState.SHIPPED)
            order.shipped_at = utcnow()
    data = {
        "order_id": order_id,
        "milestone_id": milestone.id,
        "factory_id": factory_id,
        "kind": kind,
        "carrier": milestone.carrier,
        "tracking_number": milestone.tracking_number,
        "documents": len(uploads),
        "order_state": order.state,
    }
    events.notify(
        session,
        [order.buyer_organization_id],
        "milestone.added",
        order_id=order_id,
        title=order.title,
        milestone=kind,
    )
    events.publish(session, order.buyer_organization_id, events.MILESTONE_ADDED, data)
    events.publish(session, principal.organization_id, events.MILESTONE_ADDED, data)
    session.flush()
    return milestone


def confirm_delivery(session: Session, principal: Principal, order_id: int) -> Order:
    """The buyer accepts the work: the factories are told, and paid
    (`signals.order_delivered`)."""
    return deliver(session, buyer_step(session, principal, order_id))


def deliver(session: Session, order: Order, how: str = "confirmed") -> Order:
    """The (locked, shipped) order is delivered: by the buyer's confirmation, or once the
    dispute window closed without a dispute (`how`: confirmed or window)."""
    touch(order, OrderState.DELIVERED)
    order.delivered_at = now = utcnow()
    records.delivered(session, order, shipped_on(session, id_of(order)), how)
    data = {
        "order_id": order.id,
        "state": order.state,
        "delivered_at": order.delivered_at.isoformat(),
    }
    events.publish(session, order.buyer_organization_id, events.ORDER_DELIVERED, data)
    for organization_id in access.participant_organizations(session, id_of(order)):
        events.notify(
            session, [organization_id], "order.delivered", order_id=order.id, title=order.title
        )
        events.publish(session, organization_id, events.ORDER_DELIVERED, data)
    signals.order_delivered.send(order, session=session, now=now)
    return order


def shipped_on(session: Session, order_id: int) -> dict[int, datetime]:
    """When each factory of the order reported it shipped."""
    return {
        m.factory_id: m.created_at
        for m in milestones_of(session, order_id)
        if m.kind == MilestoneKind.SHIPPED
    }


def close(session: Session, principal: Principal, order_id: int) -> Order:
    """The buyer closes a delivered order: ratings open."""
    return _close(session, buyer_step(session, principal, order_id))


def close_by_window(session: Session, order: Order) -> Order:
    """The (locked, delivered) order closes by itself, its dispute window over."""
    _close(session, order)
    events.notify(
        session,
        [order.buyer_organization_id],
        "order.closed_by_window",
        order_id=order.id,
        title=order.title,
    )
    return order


def _close(session: Session, order: Order) -> Order:
    touch(order, OrderState.CLOSED)
    order.closed_at = utcnow()
    events.notify(
        session,
        access.participant_organizations(session, id_of(order)),
        "order.closed",
        order_id=order.id,
        title=order.title,
    )
    return order
