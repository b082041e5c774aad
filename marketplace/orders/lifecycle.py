"""The steps of an order after posting: matching, cancelling, production milestones,
delivery, disputes and ratings. Each step locks the order, checks who may take it,
moves the state through the transition table and tells the parties."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from factories.errors import N_
from factories.models import Factory, utcnow
from marketplace.accounts.models import Organization, OrganizationKind
from marketplace.accounts.service import Principal
from marketplace.orders import documents, events
from marketplace.orders.models import (
    Dispute,
    DisputeState,
    Document,
    MatchRun,
    Milestone,
    MilestoneKind,
    Order,
    OrderState,
    Proposal,
    ProposalState,
    Rating,
)
from marketplace.orders.proposals import withdraw_all
from marketplace.orders.runs import DEFAULT_TIME_LIMIT_S, lock_orders, start_run
from marketplace.orders.service import Conflict, NotFound, OrderError, buyer_order_for, order_for
from marketplace.orders.transitions import move

MAX_TIME_LIMIT_S = 60.0
MILESTONE_ORDER = (MilestoneKind.STARTED, MilestoneKind.QA_PASSED, MilestoneKind.SHIPPED)


def _lock(session: Session, order: Order) -> Order:
    return lock_orders(session, [order.id])[0]  # type: ignore[list-item]


def _buyer_step(session: Session, principal: Principal, order_id: int) -> Order:
    if not principal.is_buyer:
        raise NotFound(f"order {order_id}")
    return _lock(session, buyer_order_for(session, principal, order_id))


def _touch(order: Order, target: OrderState) -> None:
    move(order, target)
    order.updated_at = utcnow()


def submit(session: Session, principal: Principal, order_id: int) -> Order:
    order = _buyer_step(session, principal, order_id)
    _touch(order, OrderState.OPEN)
    return order


def request_matching(
    session: Session,
    principal: Principal,
    order_id: int,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
) -> MatchRun:
    """Queue a matching run for an open order (submitting a draft first)."""
    if not 0.5 <= time_limit_s <= MAX_TIME_LIMIT_S:
        raise OrderError(
            "time_limit_s",
            N_("must be between 0.5 and %(maximum)s seconds", maximum=f"{MAX_TIME_LIMIT_S:g}"),
        )
    order = _buyer_step(session, principal, order_id)
    if order.state == OrderState.DRAFT:
        _touch(order, OrderState.OPEN)
    return start_run(
        session,
        [order],
        organization_id=order.buyer_organization_id,
        created_by_id=principal.user_id,
        time_limit_s=time_limit_s,
    )


def cancel(session: Session, principal: Principal, order_id: int) -> Order:
    order = _buyer_step(session, principal, order_id)
    _touch(order, OrderState.CANCELLED)
    withdraw_all(session, order, utcnow())
    return order


def participants(session: Session, order_id: int) -> list[Factory]:
    """Factories with accepted work on the order."""
    return list(
        session.exec(
            select(Factory)
            .where(
                Factory.id.in_(  # type: ignore[union-attr]
                    select(Proposal.factory_id).where(
                        Proposal.order_id == order_id, Proposal.state == ProposalState.ACCEPTED
                    )
                )
            )
            .order_by(Factory.id)
        ).all()
    )


def _participant_orgs(session: Session, order_id: int) -> list[int]:
    return sorted({f.organization_id for f in participants(session, order_id)})


def milestones_of(
    session: Session, order_id: int, factory_ids: Sequence[int] | None = None
) -> list[Milestone]:
    query = select(Milestone).where(Milestone.order_id == order_id).order_by(Milestone.id)
    if factory_ids is not None:
        query = query.where(Milestone.factory_id.in_(factory_ids))  # type: ignore[attr-defined]
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
    if not principal.is_factory:
        raise NotFound(f"order {order_id}")
    order = _lock(session, order_for(session, principal, order_id))
    mine = [f for f in participants(session, order_id) if principal.acts_for(f.organization_id)]
    if not mine:
        raise NotFound(f"order {order_id}")
    if factory_id is None and len(mine) == 1:
        factory_id = mine[0].id
    if factory_id not in {f.id for f in mine}:
        raise OrderError(
            "factory_id", N_("name one of your factories with accepted work on this order")
        )
    if kind not in {k.value for k in MilestoneKind}:
        raise OrderError(
            "kind",
            N_("must be one of %(choices)s", choices=", ".join(k.value for k in MILESTONE_ORDER)),
        )
    note, carrier, tracking_number = note.strip(), carrier.strip(), tracking_number.strip()
    # Whatever the milestone: each text is checked against its own column.
    for name, value, maximum in (
        ("note", note, 2000),
        ("carrier", carrier, 80),
        ("tracking_number", tracking_number, 120),
    ):
        if len(value) > maximum:
            raise OrderError(name, N_("must be at most %(maximum)s characters", maximum=maximum))
    if len(uploads) > documents.MAX_DOCUMENTS:
        raise OrderError(
            "documents", N_("at most %(maximum)s files", maximum=documents.MAX_DOCUMENTS)
        )
    done = {m.kind for m in milestones_of(session, order_id, [factory_id])}  # type: ignore[list-item]
    position = [k.value for k in MILESTONE_ORDER].index(kind)
    if kind in done:
        raise Conflict(N_("%(state)s was already reported", state=kind))
    if position > 0 and MILESTONE_ORDER[position - 1] not in done:
        raise Conflict(N_("report %(state)s first", state=MILESTONE_ORDER[position - 1].value))
    if order.state not in (OrderState.CONFIRMED, OrderState.IN_PRODUCTION):
        raise Conflict(
            N_("the order is %(state)s; milestones follow confirmation", state=order.state)
        )
    if kind == MilestoneKind.QA_PASSED and not uploads:
        raise OrderError("documents", N_("attach the QA report"))
    if kind == MilestoneKind.SHIPPED and not tracking_number:
        raise OrderError("tracking_number", N_("is required when shipping"))
    milestone = Milestone(
        order_id=order_id,
        factory_id=factory_id,  # type: ignore[arg-type]
        kind=kind,
        note=note,
        carrier=carrier,
        tracking_number=tracking_number,
        created_by_id=principal.user_id,
    )
    session.add(milestone)
    session.flush()
    _attach(session, principal, upload_folder, uploads, "documents", milestone=milestone)
    if kind == MilestoneKind.STARTED and order.state == OrderState.CONFIRMED:
        _touch(order, OrderState.IN_PRODUCTION)
    if kind == MilestoneKind.SHIPPED:
        session.flush()
        factories = {f.id for f in participants(session, order_id)}
        shipped = {
            m.factory_id
            for m in milestones_of(session, order_id)
            if m.kind == MilestoneKind.SHIPPED
        }
        if factories <= shipped:
            _touch(order, OrderState.SHIPPED)
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


def _attach(
    session: Session,
    principal: Principal,
    upload_folder: Path,
    uploads: Sequence[documents.Upload],
    field: str,
    *,
    milestone: Milestone | None = None,
    dispute: Dispute | None = None,
) -> None:
    """Store the files on disk and record them for the milestone or the dispute."""
    owner = milestone or dispute
    assert owner is not None
    for i, upload in enumerate(uploads):
        session.add(
            documents.store(
                session,
                upload_folder,
                upload,
                f"{field}[{i}]",
                order_id=owner.order_id,
                organization_id=principal.organization_id,
                user_id=principal.user_id,
                milestone_id=milestone.id if milestone else None,
                dispute_id=dispute.id if dispute else None,
            )
        )


def confirm_delivery(session: Session, principal: Principal, order_id: int) -> Order:
    order = _buyer_step(session, principal, order_id)
    _touch(order, OrderState.DELIVERED)
    order.delivered_at = utcnow()
    data = {
        "order_id": order.id,
        "state": order.state,
        "delivered_at": order.delivered_at.isoformat(),
    }
    events.publish(session, order.buyer_organization_id, events.ORDER_DELIVERED, data)
    for organization_id in _participant_orgs(session, order.id):  # type: ignore[arg-type]
        events.notify(
            session, [organization_id], "order.delivered", order_id=order.id, title=order.title
        )
        events.publish(session, organization_id, events.ORDER_DELIVERED, data)
    return order


def close(session: Session, principal: Principal, order_id: int) -> Order:
    order = _buyer_step(session, principal, order_id)
    _touch(order, OrderState.CLOSED)
    order.closed_at = utcnow()
    events.notify(
        session,
        _participant_orgs(session, order.id),
        "order.closed",
        order_id=order.id,  # type: ignore[arg-type]
        title=order.title,
    )
    return order


def _operator_orgs(session: Session) -> list[int]:
    return list(
        session.exec(
            select(Organization.id).where(Organization.kind == OrganizationKind.OPERATOR)
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
    order = _buyer_step(session, principal, order_id)
    reason = reason.strip()
    if not reason:
        raise OrderError("reason", N_("say what went wrong"))
    if len(reason) > 4000:
        raise OrderError("reason", N_("must be at most %(maximum)s characters", maximum=4000))
    if len(uploads) > documents.MAX_DOCUMENTS:
        raise OrderError(
            "evidence", N_("at most %(maximum)s files", maximum=documents.MAX_DOCUMENTS)
        )
    _touch(order, OrderState.DISPUTED)
    dispute = Dispute(
        order_id=order_id,
        opened_by_organization_id=principal.organization_id,
        opened_by_id=principal.user_id,
        reason=reason,
    )
    session.add(dispute)
    session.flush()
    _attach(session, principal, upload_folder, uploads, "evidence", dispute=dispute)
    events.notify(
        session,
        _participant_orgs(session, order_id) + _operator_orgs(session),
        "dispute.opened",
        order_id=order_id,
        title=order.title,
    )
    session.flush()
    return dispute


def resolve_dispute(
    session: Session, principal: Principal, dispute_id: int, resolution: str
) -> Dispute:
    """An operator settles a dispute; the order closes."""
    dispute = session.get(Dispute, dispute_id)
    if dispute is None or not principal.is_operator:
        raise NotFound(f"dispute {dispute_id}")
    resolution = resolution.strip()
    if not resolution:
        raise OrderError("resolution", N_("say how the dispute was settled"))
    if len(resolution) > 4000:
        raise OrderError("resolution", N_("must be at most %(maximum)s characters", maximum=4000))
    if dispute.state != DisputeState.OPEN:
        raise Conflict(N_("the dispute is already resolved"))
    order = _lock(session, session.get(Order, dispute.order_id))  # type: ignore[arg-type]
    _touch(order, OrderState.CLOSED)
    order.closed_at = utcnow()
    dispute.state = DisputeState.RESOLVED
    dispute.resolution = resolution
    dispute.resolved_at = utcnow()
    events.notify(
        session,
        [order.buyer_organization_id, *_participant_orgs(session, order.id)],  # type: ignore[arg-type]
        "dispute.resolved",
        order_id=order.id,
        title=order.title,
    )
    return dispute


def disputes_of(session: Session, order_id: int) -> list[Dispute]:
    return list(
        session.exec(select(Dispute).where(Dispute.order_id == order_id).order_by(Dispute.id)).all()
    )


def documents_of(session: Session, order_id: int) -> list[Document]:
    return list(
        session.exec(
            select(Document).where(Document.order_id == order_id).order_by(Document.id)
        ).all()
    )


def document_for(session: Session, principal: Principal, document_id: int) -> Document:
    """The buyer, operators, the uploader, and (for dispute evidence) the order's
    factories may read a document; nobody else learns it exists."""
    document = session.get(Document, document_id)
    if document is None:
        raise NotFound(f"document {document_id}")
    order = session.get(Order, document.order_id)
    assert order is not None
    if (
        principal.is_operator
        or principal.acts_for(order.buyer_organization_id)
        or principal.acts_for(document.organization_id)
        or (
            document.dispute_id is not None
            and principal.organization_id in _participant_orgs(session, order.id)  # type: ignore[arg-type]
        )
    ):
        return document
    raise NotFound(f"document {document_id}")


def rate(
    session: Session,
    principal: Principal,
    order_id: int,
    score: int,
    comment: str = "",
    factory_id: int | None = None,
) -> Rating:
    """After closing: the buyer rates a factory of the order, a factory rates the buyer."""
    order = order_for(session, principal, order_id)
    if order.state != OrderState.CLOSED:
        raise Conflict(N_("ratings open once the order is closed"))
    if not 1 <= score <= 5:
        raise OrderError("score", N_("must be between 1 and 5"))
    comment = comment.strip()
    if len(comment) > 2000:
        raise OrderError("comment", N_("must be at most %(maximum)s characters", maximum=2000))
    factories = participants(session, order_id)
    if principal.acts_for(order.buyer_organization_id):
        target = next((f for f in factories if f.id == factory_id), None)
        if target is None:
            raise OrderError("factory_id", N_("name a factory that worked on this order"))
        to_organization, rated_factory = target.organization_id, target.id
    elif principal.is_factory and any(principal.acts_for(f.organization_id) for f in factories):
        to_organization, rated_factory = order.buyer_organization_id, None
    else:
        raise NotFound(f"order {order_id}")
    exists = session.exec(
        select(sa.func.count(Rating.id)).where(
            Rating.order_id == order_id,
            Rating.from_organization_id == principal.organization_id,
            Rating.to_organization_id == to_organization,
        )
    ).one()
    if exists:
        raise Conflict(N_("you have already rated this order"))
    rating = Rating(
        order_id=order_id,
        from_organization_id=principal.organization_id,
        to_organization_id=to_organization,
        factory_id=rated_factory,
        score=score,
        comment=comment,
        created_by_id=principal.user_id,
    )
    session.add(rating)
    events.notify(
        session,
        [to_organization],
        "rating.received",
        order_id=order_id,
        title=order.title,
        score=score,
    )
    session.flush()
    return rating


def ratings_of(session: Session, order_id: int) -> list[Rating]:
    return list(
        session.exec(select(Rating).where(Rating.order_id == order_id).order_by(Rating.id)).all()
    )
