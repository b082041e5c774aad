"""The simulation's money, through the same services as the pages: its factories set up
their payout accounts (most of them: the others' payouts wait), buyers pay (a few with a
card that is declined first), some paid orders are cancelled before production (refunded
in full), some are disputed and settled with partial refunds, the rest are paid out on
delivery. Gateway calls go through the outbox and the simulation's dispatcher, like the
web's; `settle` waits until every call it caused is made."""

from __future__ import annotations

import random
import time
from contextlib import suppress

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.errors import Conflict
from factories.models import Factory, id_of, utcnow
from marketplace.accounts.models import Organization, OrganizationKind, Role
from marketplace.accounts.service import Principal
from marketplace.orders.models import Dispute, DisputeState, Order, OrderState
from marketplace.orders.proposals.parties import accepted_shares
from marketplace.orders.proposals.service import cancel_order
from marketplace.payments import charges, payouts, settlement
from marketplace.payments.books import mismatches, money_by_currency
from marketplace.payments.gateways.base import CARD_DECLINED, CARD_SUCCEEDS
from marketplace.payments.gateways.simulated import SimulatedGateway
from marketplace.payments.models import ConnectedAccount, GatewayOperation, OperationState
from marketplace.payments.settings import Payments
from marketplace.payments.upkeep import sweep
from marketplace.tools.simulate.plumbing import Plumbing, SimulationError, buyer, owner

# Shares of the simulated population (drawn from the simulation's seed).
WITHOUT_PAYOUT_ACCOUNT = 0.1
DECLINED_FIRST = 0.05
CANCELLED_AFTER_PAYMENT = 0.05
DISPUTED = 0.1
# Where a factory would come back to from onboarding; never visited by the simulation.
RETURN_URL = "https://factoryweb.invalid/payouts"
SETTLE_TIMEOUT_S = 300.0


class Money:
    def __init__(self, works: Plumbing, payments: Payments, seed: int) -> None:
        self.works = works
        self.payments = payments
        self.seed = seed
        self.declined_first = 0
        self.cancelled = 0
        self.disputed = 0

    def draw(self, kind: str, subject: int) -> float:
        """The same seed gives the same choices, whatever the order of the threads."""
        return random.Random(f"{self.seed}:{kind}:{subject}").random()

    # --- factories set up their payout accounts ---

    def onboard(self, factory_ids: list[int]) -> None:
        chosen = [f for f in factory_ids if self.draw("account", f) >= WITHOUT_PAYOUT_ACCOUNT]

        def start(session: Session) -> None:
            organizations = dict(
                session.exec(
                    select(Factory.id, Factory.organization_id).where(col(Factory.id).in_(chosen))
                ).all()
            )
            for factory_id in chosen:
                payouts.start_onboarding(
                    session,
                    owner(organizations[factory_id]),
                    factory_id,
                    gateway=self.payments.gateway,
                    return_url=RETURN_URL,
                    refresh_url=RETURN_URL,
                )

        self.works.with_retries(start)
        self.settle()
        # The owners went through the gateway's pages and came back.
        gateway = self.payments.gateway
        with self.works.unit_of_work() as session:
            accounts = [
                a.account_id
                for a in session.exec(
                    select(ConnectedAccount).where(col(ConnectedAccount.factory_id).in_(chosen))
                )
            ]
        if isinstance(gateway, SimulatedGateway):
            for account_id in accounts:
                gateway.complete_onboarding(account_id)
        with self.works.unit_of_work() as session:
            for account in session.exec(
                select(ConnectedAccount).where(col(ConnectedAccount.factory_id).in_(chosen))
            ):
                payouts.refresh_account(session, account, "simulation")
        self.settle()

    # --- buyers pay ---

    def pay(self, order_ids: list[int]) -> None:
        """Every order waiting for its payment is paid; a few with a declined card first."""
        waiting = self._in_state(order_ids, OrderState.AWAITING_PAYMENT)
        declined = [o for o in waiting if self.draw("declined", o) < DECLINED_FIRST]
        self.declined_first = len(declined)
        self._pay_with(declined, CARD_DECLINED)
        self.settle()
        self._pay_with(waiting, CARD_SUCCEEDS)
        self.settle()

    def _pay_with(self, order_ids: list[int], card: str) -> None:
        for order_id in order_ids:

            def step(session: Session, order_id: int = order_id) -> None:
                order = session.get_one(Order, order_id)
                # An order no longer waiting, or already being paid, is left as it is.
                with suppress(Conflict):
                    charges.pay(
                        session,
                        buyer(order.buyer_organization_id),
                        order_id,
                        card,
                        gateway=self.payments.gateway,
                        settings=self.payments.settings,
                        now=utcnow(),
                    )

            self.works.with_retries(step)

    # --- some paid orders are cancelled before production ---

    def cancel_some(self, order_ids: list[int]) -> list[int]:
        confirmed = self._in_state(order_ids, OrderState.CONFIRMED)
        chosen = [o for o in confirmed if self.draw("cancel", o) < CANCELLED_AFTER_PAYMENT]
        for order_id in chosen:

            def step(session: Session, order_id: int = order_id) -> None:
                order = session.get_one(Order, order_id)
                cancel_order(session, buyer(order.buyer_organization_id), order_id)

            self.works.with_retries(step)
        self.cancelled = len(chosen)
        self.settle()
        return chosen

    def disputes(self, order_id: int) -> bool:
        return self.draw("dispute", order_id) < DISPUTED

    # --- an operator settles a dispute with partial refunds ---

    def resolve(self, order_id: int) -> None:
        """Per factory, a drawn part of its share goes back to the buyer (0 to all)."""

        def step(session: Session) -> None:
            dispute = session.exec(
                select(Dispute).where(
                    Dispute.order_id == order_id, Dispute.state == DisputeState.OPEN
                )
            ).one()
            refunded = {
                factory_id: int(share * self.draw(f"refund:{factory_id}", order_id))
                for factory_id, share in sorted(accepted_shares(session, order_id).items())
            }
            settlement.resolve_with_refunds(
                session,
                self._operator(session),
                id_of(dispute),
                "Simulated settlement: part of the work was redone elsewhere.",
                refunded,
                currency=None,
                settings=self.payments.settings,
            )

        self.works.with_retries(step)
        self.disputed += 1

    def _operator(self, session: Session) -> Principal:
        organization_id = session.exec(
            select(Organization.id)
            .where(Organization.kind == OrganizationKind.OPERATOR)
            .order_by(col(Organization.id))
        ).first()
        if organization_id is None:
            operators = Organization(name="FactoryWeb operators", kind=OrganizationKind.OPERATOR)
            session.add(operators)
            session.flush()
            organization_id = id_of(operators)
        return Principal(
            organization_id=organization_id,
            organization_kind=OrganizationKind.OPERATOR,
            role=Role.OPERATOR,
        )

    # --- waiting for the gateway ---

    def settle(self, timeout_s: float = SETTLE_TIMEOUT_S) -> None:
        """Until no gateway call is pending: calls whose retry came due are handed over
        again by the area's sweep, as a worker's housekeeping does."""
        deadline = time.monotonic() + timeout_s
        last_sweep = 0.0
        while True:
            with self.works.unit_of_work() as session:
                pending = session.exec(
                    select(sa.func.count(col(GatewayOperation.id))).where(
                        GatewayOperation.state == OperationState.PENDING
                    )
                ).one()
            if not pending:
                return
            if time.monotonic() > deadline:
                raise SimulationError(
                    "gateway", f"{pending} payment gateway call(s) still pending after "
                    f"{timeout_s:.0f} s"
                )  # fmt: skip
            if time.monotonic() - last_sweep > 1.0:
                self._hand_over_due()
                last_sweep = time.monotonic()
            time.sleep(0.05)

    def _hand_over_due(self) -> None:
        sweep(self.works.database, self.works.dispatcher, settings=self.payments.settings)

    def _in_state(self, order_ids: list[int], state: OrderState) -> list[int]:
        with self.works.unit_of_work() as session:
            return [
                id_of(o)
                for o in session.exec(
                    select(Order)
                    .where(col(Order.id).in_(order_ids), Order.state == state)
                    .order_by(col(Order.id))
                )
            ]

    # --- the books ---

    def summary(self, session: Session, order_ids: list[int]) -> dict[str, object]:
        return {
            "money": money_by_currency(session, order_ids),
            "money_mismatches": len(mismatches(session, order_ids)),
            "payments_declined_first": self.declined_first,
            "cancelled_after_payment": self.cancelled,
            "disputes_settled": self.disputed,
            "gateway": self.payments.gateway.name,
        }
