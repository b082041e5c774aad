"""`factoryweb simulate`: the whole marketplace flow against the configured database.

Seed a cluster (the demo's generator), post orders whose lines some seeded shop can
make, match them in batches, let factories accept or decline at random from K
concurrent workers (declines re-match), report milestones and confirm delivery. Every
step goes through the same services as the web and the API; matching runs go through
Celery when CELERY_BROKER_URL is set, and through a pool of K threads otherwise
(`pool`). The simulation acts only for the factories and buyers it seeded itself. At
the end it checks the books (`books`).
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlmodel import Session, col, select

from factories.errors import Conflict
from factories.models import (
    CapacityBucket,
    Factory,
    id_column,
    id_of,
)
from marketplace.accounts.models import Organization, OrganizationKind
from marketplace.db import Database
from marketplace.orders import outbox
from marketplace.orders.models import (
    MatchRun,
    MatchRunOrder,
    MatchRunState,
    Order,
    OrderState,
    Proposal,
    ProposalState,
)
from marketplace.orders.posting.service import create_order, lock_orders
from marketplace.orders.proposals import service as proposals_service
from marketplace.orders.runs.service import start_run
from marketplace.payments import operations
from marketplace.payments.settings import Payments
from marketplace.payments.upkeep import job as payments_job
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace
from marketplace.tools.simulate import books
from marketplace.tools.simulate.money import Money
from marketplace.tools.simulate.orders import capabilities_of, order_input
from marketplace.tools.simulate.plumbing import Plumbing, SimulationError, buyer, owner
from marketplace.tools.simulate.pool import PoolDispatcher
from marketplace.tools.simulate.production import Production

MAX_ANSWER_TRIES = 50


@dataclass(frozen=True)
class SimulationSpec:
    factories: int = 200
    orders: int = 1000
    weeks: int = 8
    seed: int = 7
    concurrency: int = 4
    accept_rate: float = 0.85
    batch: int = 100
    time_limit_s: float = 2.0
    rounds: int = 3
    upload_folder: Path = Path("instance/uploads")


class Simulation(Plumbing):
    def __init__(
        self, database: Database, spec: SimulationSpec, dispatcher: outbox.Dispatcher
    ) -> None:
        super().__init__(database, dispatcher)
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.order_ids: list[int] = []
        self.factory_ids: list[int] = []
        self.baseline: dict[int, tuple[Decimal, Decimal]] = {}
        self.declined = 0
        self.accepted = 0

    # --- steps -----------------------------------------------------------------------------

    def seed(self) -> None:
        try:
            self._seed()
        except exc.IntegrityError as error:
            if "global_id" in str(error.orig):
                raise SimulationError(
                    "seed",
                    f"this database already holds the cluster of seed {self.spec.seed}; "
                    "use another seed or an empty database",
                ) from error
            raise

    def _seed(self) -> None:
        with self.unit_of_work() as session:
            before = session.exec(select(sa.func.coalesce(sa.func.max(Factory.id), 0))).one()
            seed_marketplace(
                session,
                DemoSpec(
                    factories=self.spec.factories,
                    orders=0,
                    weeks=self.spec.weeks,
                    seed=self.spec.seed,
                    logins=False,
                    namespace="simulation",
                    payout_accounts=False,
                ),
            )
            self.factory_ids = list(
                session.exec(
                    select(id_column(Factory))
                    .where(col(Factory.id) > before)
                    .order_by(col(Factory.id))
                )
            )
            self.buyer_orgs = list(
                session.exec(
                    select(id_column(Organization))
                    .where(Organization.kind == OrganizationKind.BUYER)
                    .order_by(col(Organization.id).desc())
                    .limit(12)
                )
            )
            for bucket in session.exec(
                select(CapacityBucket).where(col(CapacityBucket.factory_id).in_(self.factory_ids))
            ):
                self.baseline[id_of(bucket)] = (bucket.booked_hours, bucket.held_hours)
            self.capabilities = capabilities_of(session, self.factory_ids)

    def post_orders(self) -> None:
        inputs = [
            order_input(self.rng, self.capabilities, i, self.spec.weeks)
            for i in range(self.spec.orders)
        ]
        for start in range(0, len(inputs), 200):
            with self.unit_of_work() as session:
                for i, data in enumerate(inputs[start : start + 200], start=start):
                    buyer_org = self.buyer_orgs[i % len(self.buyer_orgs)]
                    order = create_order(session, buyer(buyer_org), data, submit=True)
                    self.order_ids.append(id_of(order))

    def orders_in(self, state: OrderState) -> list[int]:
        with self.unit_of_work() as session:
            return list(
                session.exec(
                    select(id_column(Order))
                    .where(col(Order.id).in_(self.order_ids), Order.state == state)
                    .order_by(col(Order.id))
                )
            )

    def match_open_orders(self) -> int:
        """One batch run per `batch` open orders; returns how many runs were started."""
        open_ids = self.orders_in(OrderState.OPEN)
        batches = [
            open_ids[i : i + self.spec.batch] for i in range(0, len(open_ids), self.spec.batch)
        ]
        for batch in batches:

            def start(session: Session, batch: list[int] = batch) -> None:
                orders = [o for o in lock_orders(session, batch) if o.state == OrderState.OPEN]
                if orders:
                    start_run(session, orders, time_limit_s=self.spec.time_limit_s)

            self.with_retries(start)
        return len(batches)

    def busy(self) -> tuple[int, int]:
        """(runs queued or running, proposals pending) of the simulated orders."""
        with self.unit_of_work() as session:
            runs = session.exec(
                select(sa.func.count(sa.distinct(col(MatchRun.id))))
                .join(MatchRunOrder, col(MatchRunOrder.match_run_id) == col(MatchRun.id))
                .where(
                    col(MatchRunOrder.order_id).in_(self.order_ids),
                    col(MatchRun.state).in_((MatchRunState.QUEUED, MatchRunState.RUNNING)),
                )
            ).one()
            pending = session.exec(
                select(sa.func.count(col(Proposal.id))).where(
                    col(Proposal.order_id).in_(self.order_ids),
                    col(Proposal.factory_id).in_(self.factory_ids),
                    Proposal.state == ProposalState.PENDING,
                )
            ).one()
        return runs, pending

    def decide(self) -> None:
        """K workers answer the pending proposals to the simulation's own factories until
        no run is in flight and none is pending. An answer the order's state did not allow
        yet (a conflict) is tried again a little later; a failure stops the simulation."""
        work: queue.Queue[int | None] = queue.Queue()
        seen: set[int] = set()
        tries: dict[int, int] = defaultdict(int)
        lock = threading.Lock()
        errors: list[BaseException] = []

        def worker() -> None:
            while True:
                proposal_id = work.get()
                if proposal_id is None:
                    return
                try:
                    answered = self._answer(proposal_id, lock)
                except BaseException as error:
                    errors.append(error)
                    continue
                if not answered:
                    with lock:
                        tries[proposal_id] += 1
                        if tries[proposal_id] >= MAX_ANSWER_TRIES:
                            errors.append(
                                SimulationError(
                                    "proposals",
                                    f"proposal {proposal_id} could not be answered "
                                    f"in {MAX_ANSWER_TRIES} tries",
                                )
                            )
                        seen.discard(proposal_id)

        threads = [
            threading.Thread(target=worker, name=f"sim-factory-{k}")
            for k in range(self.spec.concurrency)
        ]
        for thread in threads:
            thread.start()
        idle_since: float | None = None
        while not errors:
            with self.unit_of_work() as session:
                fresh = [
                    pid
                    for pid in session.exec(
                        select(id_column(Proposal))
                        .where(
                            col(Proposal.order_id).in_(self.order_ids),
                            col(Proposal.factory_id).in_(self.factory_ids),
                            Proposal.state == ProposalState.PENDING,
                        )
                        .order_by(col(Proposal.id))
                    )
                    if pid not in seen
                ]
            with lock:
                for pid in fresh:
                    seen.add(pid)
                    work.put(pid)
            runs, pending = self.busy()
            if runs == 0 and pending == 0 and work.empty():
                # Nothing in flight: done once a second look agrees.
                if idle_since is not None and time.perf_counter() - idle_since > 0.3:
                    break
                idle_since = idle_since or time.perf_counter()
            else:
                idle_since = None
            time.sleep(0.1)
        for _ in threads:
            work.put(None)
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    def _answer(self, proposal_id: int, lock: threading.Lock) -> bool:
        """Accept or decline as the proposal's factory would; False if the order's state
        did not allow the answer yet."""
        # The same seed gives the same answers, whatever the thread interleaving.
        accept = random.Random(self.spec.seed * 1_000_003 + proposal_id).random() < (
            self.spec.accept_rate
        )

        def step(session: Session) -> bool:
            proposal = session.get(Proposal, proposal_id)
            if proposal is None or proposal.state != ProposalState.PENDING:
                return True
            factory = session.get_one(Factory, proposal.factory_id)
            answering = owner(factory.organization_id)
            try:
                if accept:
                    proposals_service.accept(session, answering, proposal_id)
                else:
                    proposals_service.decline(session, answering, proposal_id, "simulated")
            except Conflict:
                return False
            with lock:
                if accept:
                    self.accepted += 1
                else:
                    self.declined += 1
            return True

        return self.with_retries(step)


def simulate(
    database: Database,
    spec: SimulationSpec,
    payments: Payments,
    dispatcher: outbox.Dispatcher | None = None,
) -> dict[str, Any]:
    """Run the whole flow, money included; with no dispatcher, runs and gateway calls go
    to a pool of `concurrency` threads."""
    pool = None
    if dispatcher is None:
        pool = PoolDispatcher(database, spec.concurrency)
        pool.register(operations.JOB, payments_job(payments.gateway, payments.settings))
        dispatcher = pool
    simulation = Simulation(database, spec, dispatcher)
    money = Money(simulation, payments, spec.seed)
    production = Production(simulation, money, spec.upload_folder, spec.concurrency)
    started = time.perf_counter()
    try:
        simulation.timed("seed", simulation.seed)
        simulation.timed("payout_accounts", lambda: money.onboard(simulation.factory_ids))
        simulation.timed("post", simulation.post_orders)
        for round_no in range(1, spec.rounds + 1):
            runs = 0

            def match_round() -> None:
                nonlocal runs
                runs = simulation.match_open_orders()
                simulation.decide()

            simulation.timed(f"match_and_decide_{round_no}", match_round)
            if runs == 0:
                break
        simulation.timed("pay", lambda: money.pay(simulation.order_ids))
        simulation.timed("cancel", lambda: money.cancel_some(simulation.order_ids))
        simulation.timed(
            "produce_and_deliver",
            lambda: production.produce_and_deliver(simulation.orders_in(OrderState.CONFIRMED)),
        )
        if pool is not None and pool.errors:
            raise pool.errors[0]
    finally:
        if pool is not None:
            pool.close()
    with simulation.unit_of_work() as session:
        return {
            **books.summary(
                session,
                simulation.order_ids,
                simulation.factory_ids,
                simulation.baseline,
                time.perf_counter() - started,
                retries=simulation.retries,
                mode=simulation.dispatcher.mode,
                concurrency=spec.concurrency,
                phases_s=simulation.timings,
            ),
            **money.summary(session, simulation.order_ids),
        }
