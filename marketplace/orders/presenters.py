"""What one principal sees of an order or a proposal, worked out once for the pages and
the API alike. Every rule of who sees what comes from `marketplace.orders.access`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from factories.models import CapacityBucket, Factory, id_of
from marketplace.accounts.service import Principal
from marketplace.orders import access
from marketplace.orders.coverage import Coverage, coverage
from marketplace.orders.models import (
    Dispute,
    Document,
    MatchRun,
    Milestone,
    Order,
    OrderLine,
    OrderState,
    Proposal,
    ProposalSlot,
    ProposalState,
    Rating,
)
from marketplace.orders.posting.service import lines_of
from marketplace.orders.production.disputes import disputes_of
from marketplace.orders.production.documents import documents_of
from marketplace.orders.production.ratings import ratings_of
from marketplace.orders.production.service import milestones_of
from marketplace.orders.proposals.explain import explain_proposals, explanation_for
from marketplace.orders.proposals.parties import slots_of
from marketplace.orders.runs.problem import parse_capacity_line
from marketplace.orders.runs.service import latest_run, runs_of_order
from marketplace.orders.schemas import LineOut, MilestoneOut, OrderOut, ProposalOut, RunOut
from marketplace.orders.transitions import allowed_targets


def by_id(session: Session, model: Any, ids: set[int]) -> dict[int, Any]:
    """Rows of `model` with these ids, by id (one query)."""
    if not ids:
        return {}
    return {row.id: row for row in session.exec(select(model).where(model.id.in_(sorted(ids))))}


@dataclass
class OrderView:
    """An order as one principal sees it: the order's buyer and operators see all of it,
    a factory its own part."""

    order: Order
    sees_whole: bool
    is_buyer: bool
    lines: list[OrderLine]
    proposals: list[Proposal]
    factories: dict[int, Factory]
    allowed: list[OrderState]
    run: MatchRun | None
    budget_minor: int | None

    @property
    def accepted_total(self) -> int:
        return sum(p.price_minor for p in self.proposals if p.state == ProposalState.ACCEPTED)


@dataclass
class OrderPage(OrderView):
    """Everything of the order page: production, disputes, ratings and runs too."""

    runs: list[MatchRun] = field(default_factory=list)
    milestones: list[Milestone] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    disputes: list[Dispute] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    participants: list[Factory] = field(default_factory=list)
    my_participation: list[Factory] = field(default_factory=list)
    coverage: dict[int, Coverage] = field(default_factory=dict)

    @property
    def rated(self) -> set[tuple[int, int]]:
        return {(r.from_organization_id, r.to_organization_id) for r in self.ratings}


def _view_fields(session: Session, principal: Principal, order: Order) -> dict[str, Any]:
    sees_whole = access.sees_whole_order(principal, order)
    proposals = access.visible_proposals(session, principal, order)
    explain_proposals(session, proposals)
    return {
        "order": order,
        "sees_whole": sees_whole,
        "is_buyer": principal.acts_for(order.buyer_organization_id),
        "lines": lines_of(session, id_of(order)),
        "proposals": proposals,
        "factories": by_id(session, Factory, {p.factory_id for p in proposals}),
        "allowed": allowed_targets(order),
        "run": latest_run(session, id_of(order)) if sees_whole else None,
        "budget_minor": order.budget_minor if sees_whole else None,
    }


def order_view(session: Session, principal: Principal, order: Order) -> OrderView:
    return OrderView(**_view_fields(session, principal, order))


def order_page(session: Session, principal: Principal, order: Order) -> OrderPage:
    fields = _view_fields(session, principal, order)
    order_id = id_of(order)
    participants = access.participants(session, order_id)
    return OrderPage(
        **fields,
        runs=runs_of_order(session, order_id) if fields["sees_whole"] else [],
        milestones=milestones_of(
            session, order_id, access.milestone_factories(session, principal, order)
        ),
        documents=access.visible_documents(
            session, principal, order, documents_of(session, order_id)
        ),
        disputes=disputes_of(session, order_id),
        ratings=access.visible_ratings(principal, order, ratings_of(session, order_id)),
        participants=participants,
        my_participation=access.own_factories(principal, participants),
        coverage=coverage(session, [order_id]),
    )


@dataclass
class ProposalView:
    """A proposal as one principal sees it, with the explanation meant for it."""

    proposal: Proposal
    order: Order
    line: OrderLine
    factory: Factory
    slots: list[ProposalSlot]
    buckets: dict[int, CapacityBucket]
    explanation: dict[str, Any]
    # Names of the capacity lines the engine's account mentions that the principal may
    # know: for a factory, its own only.
    factory_names: dict[str, str]
    mine: bool
    # Whether the principal may open the order (a factory whose part ended may not).
    order_visible: bool


def proposal_view(session: Session, principal: Principal, proposal: Proposal) -> ProposalView:
    order = session.get(Order, proposal.order_id)
    line = session.get(OrderLine, proposal.order_line_id)
    factory = session.get(Factory, proposal.factory_id)
    assert order is not None and line is not None and factory is not None
    slots = slots_of(session, [id_of(proposal)]).get(id_of(proposal), [])
    explain_proposals(session, [proposal])
    explanation = explanation_for(principal, proposal)
    engine = explanation.get("engine") or {}
    mentioned = [e["factory"] for e in engine.get("chosen", []) + engine.get("not_chosen", [])]
    named = by_id(session, Factory, {parse_capacity_line(f)[0] for f in mentioned})
    return ProposalView(
        proposal=proposal,
        order=order,
        line=line,
        factory=factory,
        slots=slots,
        buckets=by_id(session, CapacityBucket, {s.bucket_id for s in slots}),
        explanation=explanation,
        factory_names={
            f: named[parse_capacity_line(f)[0]].name
            for f in mentioned
            if parse_capacity_line(f)[0] in named
        },
        mine=principal.is_factory,
        order_visible=access.can_see_order(session, principal, order),
    )


# --- in the API ---


def proposals_out(
    session: Session, principal: Principal, proposals: list[Proposal]
) -> list[dict[str, Any]]:
    """`proposal_out` of each, with the engine's account worked out where it was left
    for later."""
    explain_proposals(session, proposals)
    return [proposal_out(principal, p) for p in proposals]


def proposal_out(principal: Principal, proposal: Proposal) -> dict[str, Any]:
    return ProposalOut(
        id=id_of(proposal),
        order_id=proposal.order_id,
        order_line_id=proposal.order_line_id,
        factory_id=proposal.factory_id,
        match_run_id=proposal.match_run_id,
        state=proposal.state,
        hours=proposal.hours,
        price_minor=proposal.price_minor,
        currency=proposal.currency,
        expires_at=proposal.expires_at,
        decided_at=proposal.decided_at,
        explanation=explanation_for(principal, proposal),
    ).model_dump(mode="json")


def order_out(principal: Principal, view: OrderView) -> dict[str, Any]:
    order = view.order
    return {
        **OrderOut(
            id=id_of(order),
            title=order.title,
            state=order.state,
            allowed_transitions=[str(s) for s in view.allowed],
            due_date=order.due_date,
            delivery_country=order.delivery_country,
            delivery_city=order.delivery_city,
            delivery_latitude=order.delivery_latitude,
            delivery_longitude=order.delivery_longitude,
            budget_minor=view.budget_minor,
            currency=order.currency,
            min_credit=order.min_credit,
            created_at=order.created_at,
            confirmed_at=order.confirmed_at,
            delivered_at=order.delivered_at,
            closed_at=order.closed_at,
            lines=[LineOut.model_validate(line, from_attributes=True) for line in view.lines],
            proposals=[],
            latest_run_id=view.run.id if view.run else None,
        ).model_dump(mode="json"),
        "proposals": [proposal_out(principal, p) for p in view.proposals],
    }


def run_out(run: MatchRun) -> dict[str, Any]:
    return RunOut.model_validate(run, from_attributes=True).model_dump(mode="json")


def milestone_out(milestone: Milestone) -> dict[str, Any]:
    return MilestoneOut.model_validate(milestone, from_attributes=True).model_dump(mode="json")
