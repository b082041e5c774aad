"""No capacity bucket is ever over-booked, however many buyers and factories act at once.

These tests commit for real in their own database and run 16 threads, each with its own
connection, against PostgreSQL."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import select

from factories.capacity.booking import BucketChange, ChangeKind, apply_changes
from factories.errors import Conflict
from factories.models import CapacityBucket
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.accounts.service import Principal
from marketplace.orders.coverage import work_of_lines
from marketplace.orders.models import (
    Order,
    OrderLine,
    OrderState,
    Proposal,
    ProposalSlot,
    ProposalState,
    SlotState,
)
from marketplace.orders.posting.service import create_order
from marketplace.orders.proposals import service as proposals_service
from marketplace.orders.runs.service import request_matching
from marketplace.orders.workers.dispatchers import ManualDispatcher
from marketplace.orders.workers.matching import execute_run
from tests.orders.conftest import create_shop, line, order_input, organization

THREADS = 16
GRINDING, TOOL_STEEL = "grinding", "tool_steel"


def run_threads(target, count: int = THREADS) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def body(k: int) -> None:
        try:
            barrier.wait()
            target(k)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=body, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_holds_and_releases_never_overbook(committed):
    with committed.session() as session:
        org = organization(session, OrganizationKind.FACTORY)
        _, _, buckets = create_shop(
            session, org, "plating", hours=[100, 100, 100], materials=("steel",)
        )
        bucket_ids = [b.id for b in buckets]
    held_by_thread: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    refused = [0] * THREADS

    def actor(k: int) -> None:
        rng = random.Random(k)
        for _ in range(40):
            with committed.session() as session:
                mine = held_by_thread[k]
                if mine and rng.random() < 0.3:
                    bucket_id, hours = mine.pop(rng.randrange(len(mine)))
                    apply_changes(session, [BucketChange(bucket_id, ChangeKind.RELEASE, hours)])
                    continue
                # Several holds in one transaction, in no particular order.
                wanted = [
                    BucketChange(
                        rng.choice(bucket_ids), ChangeKind.HOLD, Decimal(rng.randint(1, 9))
                    )
                    for _ in range(rng.randint(1, 3))
                ]
                done = apply_changes(session, wanted)
                for change, ok in zip(wanted, done, strict=True):
                    if ok:
                        mine.append((change.bucket_id, change.hours))
                    else:
                        refused[k] += 1

    assert run_threads(actor) == []
    assert sum(refused) > 0, "demand exceeded capacity: some holds must have been refused"
    expected: dict[int, Decimal] = defaultdict(Decimal)
    for holds in held_by_thread.values():
        for bucket_id, hours in holds:
            expected[bucket_id] += hours
    with committed.session() as session:
        for bucket in session.exec(select(CapacityBucket).where(CapacityBucket.id.in_(bucket_ids))):
            assert bucket.booked_hours <= bucket.maximum_hours
            assert bucket.booked_hours == expected[bucket.id]
            assert bucket.held_hours == expected[bucket.id]


def test_sixteen_buyers_and_factories_at_once_keep_the_books(committed):
    """16 buyers post and match at once on too little capacity, then 16 factory workers
    accept and decline at once (every decline re-matches): no bucket is over-booked, every
    bucket's booked and held hours equal the live slots on it, no line is over-covered."""
    with committed.session() as session:
        shops = []
        for k in range(4):
            org = organization(session, OrganizationKind.FACTORY)
            # A process no other test in this database orders, so only these shops compete.
            factory, _, buckets = create_shop(
                session,
                org,
                GRINDING,
                hours=[20, 20, 20],
                materials=(TOOL_STEEL,),
                rate_minor=5000 + 500 * k,
            )
            shops.append((factory.id, org, [b.id for b in buckets]))
        buyers = [organization(session, OrganizationKind.BUYER) for _ in range(THREADS)]
    bucket_ids = [b for _, _, ids in shops for b in ids]
    dispatcher = ManualDispatcher()
    order_ids: list[int] = [0] * THREADS

    def buyer(k: int) -> None:
        principal = Principal(buyers[k], OrganizationKind.BUYER, Role.BUYER_MEMBER)
        with committed.session() as session:
            session.info["dispatcher"] = dispatcher
            order = create_order(
                session,
                principal,
                order_input(
                    line(process_code=GRINDING, material=TOOL_STEEL, hours=Decimal(7 + k % 5)),
                    line(
                        process_code=GRINDING,
                        material=TOOL_STEEL,
                        hours=Decimal(11),
                        splittable=True,
                    ),
                    weeks=2,
                ),
                submit=True,
            )
            run = request_matching(session, principal, order.id, 1.0)
            order_ids[k] = order.id
            run_id = run.id
        execute_run(committed, run_id, dispatcher=dispatcher, workers=1)

    assert run_threads(buyer) == []
    drain(committed, dispatcher)

    decisions = defaultdict(int)

    def factory_worker(k: int) -> None:
        rng = random.Random(100 + k)
        for _ in range(30):
            with committed.session() as session:
                pending = session.exec(
                    select(Proposal.id, Proposal.factory_id).where(
                        Proposal.order_id.in_(order_ids), Proposal.state == ProposalState.PENDING
                    )
                ).all()
            if not pending:
                if not dispatcher.runs:
                    return
                drain(committed, dispatcher)
                continue
            proposal_id, factory_id = rng.choice(pending)
            org = next(o for f, o, _ in shops if f == factory_id)
            owner = Principal(org, OrganizationKind.FACTORY, Role.FACTORY_OWNER)
            try:
                with committed.session() as session:
                    session.info["dispatcher"] = dispatcher
                    if rng.random() < 0.6:
                        proposals_service.accept(session, owner, proposal_id)
                        decisions["accepted"] += 1
                    else:
                        proposals_service.decline(session, owner, proposal_id, "busy")
                        decisions["declined"] += 1
            except Conflict:
                decisions["conflicts"] += 1  # another worker answered it first
            drain(committed, dispatcher)

    assert run_threads(factory_worker) == []
    drain(committed, dispatcher)
    assert decisions["accepted"] > 0 and decisions["declined"] > 0

    with committed.session() as session:
        assert_books_balance(session, bucket_ids)
        lines = session.exec(select(OrderLine).where(OrderLine.order_id.in_(order_ids))).all()
        accepted, pending = work_of_lines(session, order_ids)
        for order_line in lines:
            offered = accepted.get(order_line.id, 0) + sum(
                (p.hours for p, _ in pending.get(order_line.id, [])), Decimal(0)
            )
            assert offered <= order_line.hours, f"line {order_line.id} over-covered"
        for order in session.exec(select(Order).where(Order.id.in_(order_ids))):
            has_pending = any(
                p.state == ProposalState.PENDING
                for p in session.exec(select(Proposal).where(Proposal.order_id == order.id))
            )
            assert (order.state == OrderState.PROPOSED) == has_pending, order.state
            assert order.state in (
                OrderState.PROPOSED,
                OrderState.AWAITING_PAYMENT,
                OrderState.OPEN,
            )
        # Demand (16 x ~20 h) exceeds the 240 h on offer in the window: it is sold out,
        # not over-sold.
        total_booked = session.exec(
            select(sa.func.sum(CapacityBucket.booked_hours)).where(
                CapacityBucket.id.in_(bucket_ids)
            )
        ).one()
        assert 0 < total_booked <= 240


def drain(committed, dispatcher: ManualDispatcher) -> None:
    """Run the re-matches that declines queued (in the calling thread)."""
    for run_id in dispatcher.take_runs():
        execute_run(committed, run_id, dispatcher=dispatcher, workers=1)


def assert_books_balance(session, bucket_ids: list[int]) -> None:
    live = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for slot in session.exec(
        select(ProposalSlot).where(
            ProposalSlot.bucket_id.in_(bucket_ids),
            ProposalSlot.state.in_((SlotState.HELD, SlotState.CONFIRMED)),
        )
    ):
        live[slot.bucket_id][0] += slot.hours
        if slot.state == SlotState.HELD:
            live[slot.bucket_id][1] += slot.hours
    overbooked = session.exec(
        select(sa.func.count()).where(CapacityBucket.booked_hours > CapacityBucket.maximum_hours)
    ).one()
    assert overbooked == 0
    for bucket in session.exec(select(CapacityBucket).where(CapacityBucket.id.in_(bucket_ids))):
        assert bucket.booked_hours == live[bucket.id][0], bucket
        assert bucket.held_hours == live[bucket.id][1], bucket
