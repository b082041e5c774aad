"""Whatever happens to orders, in whatever order: paying (with a declined card first, or
not), the deadline passing, cancelling, shipping, confirming delivery, the dispute window
closing, disputes settled with any refunds, an operator's outage moving a shop's work
(paid or not) to the other shop and the factories accepting it, and the gateway's events
arriving late or twice, each order's books hold:

    captured - refunded - transferred - fees = held >= 0, and held = 0 once it is over;
    a paid order not yet delivered holds what was paid less what was refunded, and that
    covers its accepted prices (to the minor unit of rounding per re-placed proposal).

A hypothesis state machine drives the services on the simulated gateway; every gateway
call is made before the books are looked at, as a worker would make it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from sqlmodel import select

from factories.capacity.weeks import monday_of, week_label
from factories.errors import Conflict
from factories.models import CapacityBucket, utcnow
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.operator.whatif.apply import apply_outage
from marketplace.operator.whatif.target import outage_of
from marketplace.orders.models import (
    Dispute,
    DisputeState,
    Order,
    OrderState,
    Proposal,
    ProposalState,
)
from marketplace.orders.production.disputes import open_dispute
from marketplace.orders.production.service import confirm_delivery
from marketplace.orders.proposals import service as proposals
from marketplace.orders.proposals.parties import accepted_proposals, accepted_shares
from marketplace.orders.proposals.service import cancel_order
from marketplace.orders.workers.matching import execute_run
from marketplace.payments import payouts, settlement, webhooks
from marketplace.payments.books import books_of_orders
from marketplace.payments.gateways.base import CARD_DECLINED, CARD_SUCCEEDS, Event
from marketplace.payments.gateways.simulated import SimulatedGateway
from marketplace.payments.models import ConnectedAccount, GatewayOperation, Payment
from marketplace.payments.settings import PaymentSettings
from tests.orders.conftest import pay_order, principal
from tests.payments.helpers import Accepted, accepted_order, ship, work_off

OVER = (OrderState.CLOSED, OrderState.CANCELLED)
# A payment's state at the gateway -> the event (and intent status) Stripe would send.
EVENT_OF = {
    "succeeded": ("succeeded", "succeeded"),
    "failed": ("payment_failed", "requires_payment_method"),
    "canceled": ("canceled", "canceled"),
    "processing": ("processing", "processing"),
}


def test_every_orders_books_add_up_whatever_happens(
    db_session, make_shop, make_member, buyer, dispatcher, database, tmp_path
):
    shops = [make_shop(hours=2000, rate_minor=rate) for rate in (4999, 6001)]
    operator = principal(db_session, make_member(OrganizationKind.OPERATOR, Role.OPERATOR))
    gateway = SimulatedGateway(database)
    for shop in shops:
        payouts.start_onboarding(
            db_session,
            principal(db_session, shop.owner),
            shop.id,
            gateway=gateway,
            return_url="https://factoryweb.invalid/",
            refresh_url="https://factoryweb.invalid/",
        )
    work_off(db_session, dispatcher, database)
    for account in db_session.exec(select(ConnectedAccount)):
        gateway.complete_onboarding(account.account_id)
        payouts.refresh_account(db_session, account, "ready")
    work_off(db_session, dispatcher, database)

    class Orders(RuleBasedStateMachine):
        orders = Bundle("orders")

        def __init__(self) -> None:
            super().__init__()
            # This example's orders (the database keeps earlier examples' as they are).
            self.made: list[int] = []

        def state(self, order_id: int) -> OrderState:
            db_session.expire_all()
            return OrderState(db_session.get_one(Order, order_id).state)

        def step(self, action) -> None:  # type: ignore[no-untyped-def]
            try:
                action()
                db_session.commit()
            except Conflict:
                db_session.rollback()
            work_off(db_session, dispatcher, database)

        @rule(target=orders, split=st.booleans(), hours=st.integers(3, 40))
        def new_order(self, split: bool, hours: int) -> int:
            order = accepted_order(
                db_session, dispatcher, database, buyer, *shops, hours=Decimal(hours), split=split
            )
            self.made.append(order.id)
            return order.id

        @rule(order_id=orders, declined_first=st.booleans())
        def pay(self, order_id: int, declined_first: bool) -> None:
            if self.state(order_id) != OrderState.AWAITING_PAYMENT:
                return
            if declined_first:
                pay_order(db_session, dispatcher, database, buyer, order_id, CARD_DECLINED)
            pay_order(db_session, dispatcher, database, buyer, order_id, CARD_SUCCEEDS)

        @rule(order_id=orders)
        def deadline_passes(self, order_id: int) -> None:
            order = db_session.get_one(Order, order_id)
            if order.payment_requested_at is not None:
                order.payment_requested_at = utcnow() - timedelta(hours=80)
                db_session.commit()
            dispatcher.run_sweeps(database)
            work_off(db_session, dispatcher, database)

        @rule(order_id=orders)
        def cancel(self, order_id: int) -> None:
            self.step(lambda: cancel_order(db_session, principal(db_session, buyer), order_id))

        @rule(order_id=orders)
        def ship_it(self, order_id: int) -> None:
            if self.state(order_id) == OrderState.CONFIRMED:
                order = db_session.get_one(Order, order_id)
                working = accepted_shares(db_session, order_id)
                ship(
                    db_session,
                    Accepted(order, [s for s in shops if s.id in working], buyer),
                    tmp_path,
                )

        @rule(order_id=orders)
        def deliver(self, order_id: int) -> None:
            self.step(lambda: confirm_delivery(db_session, principal(db_session, buyer), order_id))

        @rule(order_id=orders)
        def window_closes(self, order_id: int) -> None:
            order = db_session.get_one(Order, order_id)
            if order.shipped_at is not None:
                order.shipped_at = utcnow() - timedelta(days=8)
                db_session.commit()
            dispatcher.run_sweeps(database)
            work_off(db_session, dispatcher, database)

        @rule(order_id=orders, parts=st.lists(st.floats(0, 1), min_size=2, max_size=2))
        def dispute(self, order_id: int, parts: list[float]) -> None:
            if self.state(order_id) not in (OrderState.IN_PRODUCTION, OrderState.SHIPPED):
                return
            self.step(
                lambda: open_dispute(
                    db_session, principal(db_session, buyer), order_id, "bent",
                    upload_folder=tmp_path,
                )
            )  # fmt: skip
            dispute = db_session.exec(
                select(Dispute).where(
                    Dispute.order_id == order_id, Dispute.state == DisputeState.OPEN
                )
            ).one()
            shares = sorted(accepted_shares(db_session, order_id).items())
            refunded = {
                factory_id: int(share * part)
                for (factory_id, share), part in zip(shares, parts, strict=False)
            }
            self.step(
                lambda: settlement.resolve_with_refunds(
                    db_session, operator, dispute.id, "settled", refunded, currency=None,
                    settings=PaymentSettings.from_mapping({}),
                )
            )  # fmt: skip

        @rule(order_id=orders, shop=st.sampled_from([0, 1]))
        def an_outage(self, order_id: int, shop: int) -> None:
            """An operator takes a shop offline this week where the order has work; the
            re-match runs, then the shop comes back (its week reopened for later orders)."""
            if not any(
                p.factory_id == shops[shop].id for p in accepted_proposals(db_session, order_id)
            ):
                return
            today = utcnow().date()
            buckets = db_session.exec(
                select(CapacityBucket).where(CapacityBucket.factory_id == shops[shop].id)
            ).all()
            maxima = {b.id: b.maximum_hours for b in buckets}
            outage = outage_of(
                db_session, today, factory=str(shops[shop].id),
                from_week=week_label(monday_of(today)), to_week=week_label(monday_of(today)),
            )  # fmt: skip
            apply_outage(db_session, outage, today, utcnow())
            db_session.commit()
            for run_id in dispatcher.take_runs():
                execute_run(database, run_id, workers=1)
            db_session.expire_all()
            for bucket in db_session.exec(
                select(CapacityBucket).where(CapacityBucket.factory_id == shops[shop].id)
            ):
                bucket.maximum_hours = maxima[bucket.id]
            db_session.commit()
            work_off(db_session, dispatcher, database)

        @rule(order_id=orders)
        def factories_accept(self, order_id: int) -> None:
            for proposal in db_session.exec(
                select(Proposal).where(
                    Proposal.order_id == order_id, Proposal.state == ProposalState.PENDING
                )
            ).all():
                owner = next(s.owner for s in shops if s.id == proposal.factory_id)
                self.step(
                    lambda p=proposal, o=owner: proposals.accept(
                        db_session, principal(db_session, o), p.id
                    )
                )

        @rule(order_id=orders, repeat=st.booleans())
        def a_late_or_repeated_event(self, order_id: int, repeat: bool) -> None:
            """The gateway's event on each payment of the order, as the gateway has it:
            again (a repeat), or one of its earlier states arriving late."""
            for payment in db_session.exec(select(Payment).where(Payment.order_id == order_id)):
                if not payment.intent_id:
                    continue
                truth = gateway.retrieve_payment(payment.intent_id)
                kind, status = EVENT_OF[truth.status] if repeat else ("processing", "processing")
                data = {
                    "id": payment.intent_id,
                    "status": status,
                    "amount_received": truth.amount_minor,
                }
                event = Event(f"evt_{payment.id}_{kind}", f"payment_intent.{kind}", data)
                webhooks.apply(db_session, event, utcnow())
            db_session.commit()
            work_off(db_session, dispatcher, database)

        @invariant()
        def books_add_up(self) -> None:
            db_session.expire_all()
            pending = db_session.exec(
                select(GatewayOperation).where(GatewayOperation.state == "pending")
            ).all()
            assert pending == []
            books = books_of_orders(db_session, self.made)
            for order_id in self.made:
                figures = books.get(order_id)
                if figures is None:
                    continue
                assert figures.held >= 0, (order_id, figures)
                state = self.state(order_id)
                if state in OVER:
                    assert figures.held == 0, (order_id, state, figures)
                if state in (OrderState.CONFIRMED, OrderState.IN_PRODUCTION, OrderState.SHIPPED):
                    assert figures.held == figures.captured - figures.refunded, (order_id, figures)
                    accepted = accepted_proposals(db_session, order_id)
                    owed = sum(p.price_minor for p in accepted)
                    assert 0 <= owed - figures.held <= len(accepted), (order_id, owed, figures)

    Orders.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    Orders.TestCase().runTest()
