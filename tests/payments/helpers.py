"""Helpers of the payments tests: an order whose every hour is accepted (waiting for its
payment), and the gateway calls made the way a worker makes them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session, select

from marketplace.db import Database
from marketplace.orders.models import MilestoneKind, Order, OrderState, Proposal
from marketplace.orders.posting.service import create_order
from marketplace.orders.production.documents import Upload
from marketplace.orders.production.service import add_milestone
from marketplace.orders.proposals import service as proposals
from marketplace.orders.runs.service import request_matching
from marketplace.orders.workers.dispatchers import ManualDispatcher
from marketplace.orders.workers.matching import execute_run
from marketplace.payments.models import GatewayOperation, OperationState
from tests.conftest import Browser, Member
from tests.orders.conftest import Shop, line, order_input, principal


@dataclass
class Accepted:
    """An order split over two shops, every hour accepted: waiting for its payment."""

    order: Order
    shops: list[Shop]
    buyer: Member

    @property
    def id(self) -> int:
        return self.order.id  # type: ignore[return-value]


def accepted_order(
    db_session: Session,
    dispatcher: ManualDispatcher,
    database: Database,
    buyer: Member,
    *shops: Shop,
    hours: Decimal = Decimal(30),
    currency: str = "EUR",
    split: bool | None = None,
) -> Accepted:
    """The order's one line goes to whichever of `shops` the engine picks (split over
    several when `split`, by default when more than one shop is given)."""
    who = principal(db_session, buyer)
    order = create_order(
        db_session,
        who,
        order_input(
            line(hours=hours, splittable=len(shops) > 1 if split is None else split),
            weeks=0,
            currency=currency,
        ),
        submit=True,
    )
    request_matching(db_session, who, order.id, 2)  # type: ignore[arg-type]
    db_session.commit()
    for run_id in dispatcher.take_runs():
        execute_run(database, run_id, workers=1)
    db_session.expire_all()
    for proposal in db_session.exec(select(Proposal).where(Proposal.order_id == order.id)):
        shop = next(s for s in shops if s.id == proposal.factory_id)
        proposals.accept(db_session, principal(db_session, shop.owner), proposal.id)  # type: ignore[arg-type]
    db_session.commit()
    db_session.expire_all()
    order = db_session.get_one(Order, order.id)
    assert order.state == OrderState.AWAITING_PAYMENT
    return Accepted(order, list(shops), buyer)


def work_off(db_session: Session, dispatcher: ManualDispatcher, database: Database) -> list[object]:
    """Make the gateway calls waiting in the outbox, as the worker would."""
    db_session.commit()
    results = dispatcher.run_jobs(database)
    db_session.expire_all()
    return results


def pending_calls(db_session: Session) -> list[GatewayOperation]:
    db_session.expire_all()
    return list(
        db_session.exec(
            select(GatewayOperation).where(GatewayOperation.state == OperationState.PENDING)
        )
    )


def onboard(
    new_browser: Callable[[], Browser],
    db_session: Session,
    dispatcher: ManualDispatcher,
    database: Database,
    shop: Shop,
) -> None:
    """The factory's owner sets up payouts through the pages of the simulated gateway."""
    owner = new_browser()
    owner.login(shop.owner)
    response = owner.form(f"/payouts/{shop.id}/onboarding", {})
    assert response.status_code == 303
    work_off(db_session, dispatcher, database)
    wait = owner.get(f"/payouts/{shop.id}/onboarding", headers={"HX-Request": "true"})
    assert wait.status_code == 204
    onboarding = wait.headers["HX-Redirect"]
    assert owner.get(onboarding).status_code == 200
    done = owner.form(onboarding, {})
    assert done.status_code == 303
    work_off(db_session, dispatcher, database)


def ship(db_session: Session, order: Accepted, upload_folder: Path) -> None:
    """Every factory of the order started and shipped its part."""
    for kind in (MilestoneKind.STARTED, MilestoneKind.QA_PASSED, MilestoneKind.SHIPPED):
        for shop in order.shops:
            add_milestone(
                db_session,
                principal(db_session, shop.owner),
                order.id,
                kind,
                upload_folder=upload_folder,
                factory_id=shop.id,
                tracking_number="T1" if kind == MilestoneKind.SHIPPED else "",
                carrier="DHL" if kind == MilestoneKind.SHIPPED else "",
                uploads=[Upload("qa.txt", b"passed\n")] if kind == MilestoneKind.QA_PASSED else [],
            )
    db_session.commit()
    db_session.expire_all()
    assert db_session.get_one(Order, order.id).state == OrderState.SHIPPED


def payments_sweep(dispatcher: ManualDispatcher, database: Database) -> dict[str, int]:
    """One round of the sweeps; what the payments area's sweep did (other areas sweep too)."""
    results = dispatcher.run_sweeps(database)
    return next(r for r in results if isinstance(r, dict) and "unpaid_orders" in r)
