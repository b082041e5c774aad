"""Who may see or change what in the orders area: the one place pages, the API and the
services ask.

* The buyer organization of an order and operators see the whole order ("sees the whole
  order"): every proposal, run, milestone, document and rating.
* A factory organization sees an order while one of its factories has a part in it (a
  proposal pending or accepted), and then only its own part: its proposals, its
  milestones, the documents it uploaded, the ratings it gave or got, and the dispute
  evidence of an order it works on. Once its part has ended (declined, expired,
  superseded, withdrawn) it keeps its own proposals and nothing more of the order.
* Only the buyer takes the buyer's steps (matching, cancelling, delivery, disputes);
  only the factory a proposal was made to answers it; only operators resolve disputes.
* A matching run belongs to the buyer whose orders it places (operators see all runs).
* Webhook endpoints belong to their organization, and only people manage them.

Whatever a principal may not see answers as if it did not exist (`NotFound`, 404),
never "forbidden", so that ids of other organizations reveal nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlmodel import Session, col, select

from factories.errors import NotFound
from factories.models import Factory, id_of
from marketplace.accounts.service import Principal
from marketplace.orders.models import (
    Dispute,
    Document,
    LostWork,
    MatchRun,
    Order,
    Proposal,
    ProposalState,
    Rating,
    WebhookEndpoint,
)

# --- orders ---


def sees_whole_order(principal: Principal, order: Order) -> bool:
    """The order's buyer and operators see all of it; anyone else only their part."""
    return principal.is_operator or principal.acts_for(order.buyer_organization_id)


# Proposals that give their factory a part in the order.
LIVE_PARTS = (ProposalState.PENDING, ProposalState.ACCEPTED)


def _live_part_orders(organization_id: int) -> Any:
    return (
        select(Proposal.order_id)
        .join(Factory, col(Factory.id) == col(Proposal.factory_id))
        .where(Factory.organization_id == organization_id, col(Proposal.state).in_(LIVE_PARTS))
    )


def factory_has_part(session: Session, organization_id: int, order_id: int) -> bool:
    """A factory organization has a part in an order while one of its proposals on it is
    pending or accepted."""
    return (
        session.exec(
            _live_part_orders(organization_id).where(Proposal.order_id == order_id).limit(1)
        ).first()
        is not None
    )


def can_see_order(session: Session, principal: Principal, order: Order) -> bool:
    if sees_whole_order(principal, order):
        return True
    return principal.is_factory and factory_has_part(
        session,
        principal.organization_id,
        id_of(order),
    )


def order_for(session: Session, principal: Principal, order_id: int) -> Order:
    """The order if the principal may see it."""
    order = session.get(Order, order_id)
    if order is None or not can_see_order(session, principal, order):
        raise NotFound(f"order {order_id}")
    return order


def buyer_order_for(session: Session, principal: Principal, order_id: int) -> Order:
    """An order the principal's buyer organization owns: for the buyer's own steps."""
    order = session.get(Order, order_id)
    if (
        order is None
        or not principal.is_buyer
        or not principal.acts_for(order.buyer_organization_id)
    ):
        raise NotFound(f"order {order_id}")
    return order


def visible_orders(principal: Principal) -> Any:
    """The select of the orders the principal may list (operators: all of them)."""
    query = select(Order)
    if principal.is_buyer:
        query = query.where(Order.buyer_organization_id == principal.organization_id)
    elif principal.is_factory:
        query = query.where(col(Order.id).in_(_live_part_orders(principal.organization_id)))
    return query


# --- the factories taking part ---


def participants(session: Session, order_id: int) -> list[Factory]:
    """Factories with accepted work on the order."""
    return list(
        session.exec(
            select(Factory)
            .where(
                col(Factory.id).in_(
                    select(Proposal.factory_id).where(
                        Proposal.order_id == order_id, Proposal.state == ProposalState.ACCEPTED
                    )
                )
            )
            .order_by(col(Factory.id))
        ).all()
    )


def participant_organizations(session: Session, order_id: int) -> list[int]:
    return sorted({f.organization_id for f in participants(session, order_id)})


def own_factories(principal: Principal, factories: Iterable[Factory]) -> list[Factory]:
    """Those of `factories` the principal acts for."""
    return [f for f in factories if principal.is_factory and principal.acts_for(f.organization_id)]


# --- proposals ---


def proposal_for(session: Session, principal: Principal, proposal_id: int) -> Proposal:
    """A proposal the principal may see: the factory's own, or any of the buyer's order."""
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound(f"proposal {proposal_id}")
    if principal.is_operator:
        return proposal
    if principal.is_factory:
        factory = session.get(Factory, proposal.factory_id)
        if factory is not None and principal.acts_for(factory.organization_id):
            return proposal
        raise NotFound(f"proposal {proposal_id}")
    order = session.get(Order, proposal.order_id)
    if order is not None and principal.acts_for(order.buyer_organization_id):
        return proposal
    raise NotFound(f"proposal {proposal_id}")


def own_proposal(session: Session, principal: Principal, proposal_id: int) -> Proposal:
    """A proposal to one of the principal's factories: only they may answer it."""
    proposal = proposal_for(session, principal, proposal_id)
    factory = session.get(Factory, proposal.factory_id)
    if (
        not principal.is_factory
        or factory is None
        or not principal.acts_for(factory.organization_id)
    ):
        raise NotFound(f"proposal {proposal_id}")
    return proposal


def visible_proposals(session: Session, principal: Principal, order: Order) -> list[Proposal]:
    """All proposals of the order for whoever sees the whole order; a factory's own
    otherwise."""
    query = select(Proposal).where(Proposal.order_id == order.id).order_by(col(Proposal.id))
    if not sees_whole_order(principal, order):
        query = query.join(Factory, col(Factory.id) == col(Proposal.factory_id)).where(
            Factory.organization_id == principal.organization_id
        )
    return list(session.exec(query).all())


def proposals_of_factories(
    session: Session, principal: Principal, state: str | None = None, limit: int = 200
) -> list[Proposal]:
    """Work proposed to the principal's factories, newest first (none for others)."""
    if not principal.is_factory:
        return []
    query = (
        select(Proposal)
        .join(Factory, col(Factory.id) == col(Proposal.factory_id))
        .where(Factory.organization_id == principal.organization_id)
        .order_by(col(Proposal.id).desc())
        .limit(limit)
    )
    if state:
        query = query.where(Proposal.state == state)
    return list(session.exec(query).all())


# --- production: milestones, documents, disputes, ratings ---


def milestone_factories(
    session: Session, principal: Principal, order: Order
) -> Sequence[int] | None:
    """Whose milestones the principal sees: everyone's (None) or its own factories'."""
    if sees_whole_order(principal, order):
        return None
    return [id_of(f) for f in own_factories(principal, participants(session, id_of(order)))]


def can_read_document(
    principal: Principal, order: Order, document: Document, participant_orgs: Sequence[int]
) -> bool:
    """The buyer, operators and the uploader read a document; the order's factories also
    read the dispute evidence."""
    return (
        sees_whole_order(principal, order)
        or principal.acts_for(document.organization_id)
        or (document.dispute_id is not None and principal.organization_id in participant_orgs)
    )


def document_for(session: Session, principal: Principal, document_id: int) -> Document:
    document = session.get(Document, document_id)
    if document is None:
        raise NotFound(f"document {document_id}")
    order = session.get(Order, document.order_id)
    assert order is not None
    if can_read_document(
        principal, order, document, participant_organizations(session, id_of(order))
    ):
        return document
    raise NotFound(f"document {document_id}")


def visible_documents(
    session: Session, principal: Principal, order: Order, documents: Iterable[Document]
) -> list[Document]:
    organizations = participant_organizations(session, id_of(order))
    return [d for d in documents if can_read_document(principal, order, d, organizations)]


def visible_ratings(principal: Principal, order: Order, ratings: Iterable[Rating]) -> list[Rating]:
    """The whole order's ratings for its buyer and operators; a factory sees the ratings
    it gave or got."""
    return [
        r
        for r in ratings
        if sees_whole_order(principal, order)
        or principal.organization_id in (r.from_organization_id, r.to_organization_id)
    ]


def dispute_for_operator(session: Session, principal: Principal, dispute_id: int) -> Dispute:
    """A dispute only operators settle."""
    dispute = session.get(Dispute, dispute_id)
    if dispute is None or not principal.is_operator:
        raise NotFound(f"dispute {dispute_id}")
    return dispute


# --- matching runs ---


def run_for(session: Session, principal: Principal, run_id: int) -> MatchRun:
    """Runs belong to the buyer whose orders they place; operators see every run."""
    run = session.get(MatchRun, run_id)
    if run is None:
        raise NotFound(f"run {run_id}")
    if principal.is_operator or (
        principal.is_buyer
        and run.organization_id is not None
        and principal.acts_for(run.organization_id)
    ):
        return run
    raise NotFound(f"run {run_id}")


# --- lost work ---


def lost_work_for(session: Session, principal: Principal, lost_work_id: int) -> LostWork:
    """A line one of the principal's factories lost (nobody else learns it exists)."""
    row = session.get(LostWork, lost_work_id, populate_existing=True)
    if row is None or not principal.is_factory:
        raise NotFound(f"lost work {lost_work_id}")
    factory = session.get(Factory, row.factory_id)
    if factory is None or not principal.acts_for(factory.organization_id):
        raise NotFound(f"lost work {lost_work_id}")
    return row


def visible_lost_work(principal: Principal) -> Any:
    """The select of the lost work of the principal's factories."""
    if not principal.is_factory:
        raise NotFound("lost work")
    return (
        select(LostWork)
        .join(Factory, col(Factory.id) == col(LostWork.factory_id))
        .where(Factory.organization_id == principal.organization_id)
    )


# --- webhooks ---


def require_person(principal: Principal) -> Principal:
    """Webhook endpoints are managed by people, never by a factory's machine client."""
    if principal.user_id is None:
        raise NotFound("webhooks")
    return principal


def endpoint_for(session: Session, principal: Principal, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not require_person(principal).acts_for(endpoint.organization_id):
        raise NotFound(f"endpoint {endpoint_id}")
    return endpoint
