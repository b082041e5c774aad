"""The simulation's factories make what they were paid for: production started, quality
checked (with a report), shipped; then the buyer confirms delivery, or opens a dispute
that an operator settles with partial refunds (`money`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from sqlmodel import Session

from marketplace.orders import access
from marketplace.orders.models import MilestoneKind, Order
from marketplace.orders.production import documents
from marketplace.orders.production.disputes import open_dispute
from marketplace.orders.production.service import add_milestone, confirm_delivery
from marketplace.tools.simulate.money import Money
from marketplace.tools.simulate.plumbing import Plumbing, buyer, owner


class Production:
    def __init__(
        self, works: Plumbing, money: Money, upload_folder: Path, concurrency: int
    ) -> None:
        self.works = works
        self.money = money
        self.upload_folder = upload_folder
        self.concurrency = concurrency

    def produce_and_deliver(self, order_ids: list[int]) -> None:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            list(pool.map(self._produce, order_ids))
        self.money.settle()

    def _milestones(self, session: Session, order_id: int, kind: MilestoneKind) -> None:
        for factory in access.participants(session, order_id):
            uploads = []
            if kind == MilestoneKind.QA_PASSED:
                report = f"QA report, order {order_id}, factory {factory.id}: passed\n"
                uploads = [documents.Upload("qa-report.txt", report.encode())]
            shipped = kind == MilestoneKind.SHIPPED
            add_milestone(
                session,
                owner(factory.organization_id),
                order_id,
                kind,
                upload_folder=self.upload_folder,
                factory_id=factory.id,
                tracking_number=f"SIM{order_id:06d}{factory.id}" if shipped else "",
                carrier="DHL" if shipped else "",
                uploads=uploads,
            )

    def _produce(self, order_id: int) -> None:
        for kind in (MilestoneKind.STARTED, MilestoneKind.QA_PASSED, MilestoneKind.SHIPPED):
            self.works.with_retries(partial(self._milestones, order_id=order_id, kind=kind))
        if self.money.disputes(order_id):
            self.works.with_retries(partial(self._dispute, order_id=order_id))
            self.money.resolve(order_id)
        else:
            self.works.with_retries(partial(self._deliver, order_id=order_id))

    def _deliver(self, session: Session, order_id: int) -> None:
        order = session.get_one(Order, order_id)
        confirm_delivery(session, buyer(order.buyer_organization_id), order_id)

    def _dispute(self, session: Session, order_id: int) -> None:
        order = session.get_one(Order, order_id)
        open_dispute(
            session,
            buyer(order.buyer_organization_id),
            order_id,
            "Simulated dispute: some parts arrived out of tolerance.",
            upload_folder=self.upload_folder,
        )
