"""`factoryweb simulate`: the whole marketplace flow against the configured database.

Seed a cluster (the demo's generator), post orders whose lines some seeded shop can
make, match them in batches, let factories accept or decline at random from K
concurrent workers (declines re-match), report milestones and confirm delivery. Every
step goes through the same services as the web and the API; matching runs go through
Celery when CELERY_BROKER_URL is set, and through a pool of K threads otherwise.

The summary checks the books at the end: `overbooked_buckets` counts buckets whose
booked hours exceed their maximum, and `booking_mismatches` counts buckets of the
simulated shops whose booked (or held) hours differ from what was there before plus
the hours of the live proposal slots on them. Both must be 0.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlmodel import Session, select

from factories.capacity.hours import free_hours_sql
from factories.capacity.weeks import monday_of
from factories.errors import Conflict
from factories.models import (
    Capability,
    CapabilityMaterial,
    CapacityBucket,
    Factory,
    FactoryStatus,
    utcnow,
)
from factories.taxonomy import TOLERANCE_CLASSES, tolerance_rank
from marketplace.accounts.models import Organization, OrganizationKind, Role
from marketplace.accounts.service import Principal
from marketplace.db import Database
from marketplace.orders import access, outbox
from marketplace.orders.models import (
    MatchRun,
    MatchRunKind,
    MatchRunOrder,
    MatchRunState,
    MilestoneKind,
    Order,
    OrderLine,
    OrderState,
    Proposal,
    ProposalSlot,
    ProposalState,
    SlotState,
)
from marketplace.orders.posting.service import LineInput, OrderInput, create_order, lock_orders
from marketplace.orders.production import documents
from marketplace.orders.production.service import add_milestone, confirm_delivery
from marketplace.orders.proposals import service as proposals_service
from marketplace.orders.runs.service import start_run
from marketplace.orders.workers.matching import execute_run
from marketplace.tools.demo.data import REGIONS, DemoSpec
from marketplace.tools.demo.seed import seed_marketplace

T = TypeVar("T")
RETRYABLE = (exc.OperationalError,)  # deadlocks and serialization failures: try again
MAX_ANSWER_TRIES = 50


class SimulationError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


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


class PoolDispatcher:
    """Runs matching runs on a bounded thread pool (the simulation without Celery)."""

    mode = "thread"

    def __init__(self, database: Database, workers: int) -> None:
        self.database = database
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sim-run")
        self.lock = threading.Lock()
        self.pending = 0
        self.errors: list[BaseException] = []

    def submit(self, work: outbox.Work) -> None:
        for run_id in work.runs:
            with self.lock:
                self.pending += 1
            self.pool.submit(self._run, run_id)

    def _run(self, run_id: int) -> None:
        try:
            execute_run(self.database, run_id, dispatcher=self, workers=1)
        except BaseException as error:  # surfaced by the simulation's summary
            self.errors.append(error)
        finally:
            with self.lock:
                self.pending -= 1

    def retry_delivery(self, delivery_id: int, delay_s: float) -> None:
        return None

    def close(self) -> None:
        self.pool.shutdown(wait=True)


class Simulation:
    def __init__(
        self, database: Database, spec: SimulationSpec, dispatcher: outbox.Dispatcher
    ) -> None:
        self.database = database
        self.spec = spec
        self.dispatcher = dispatcher
        self.rng = random.Random(spec.seed)
        self.order_ids: list[int] = []
        self.factory_ids: list[int] = []
        self.baseline: dict[int, tuple[Decimal, Decimal]] = {}
        self.declined = 0
        self.accepted = 0
        self.retries = 0
        self.timings: dict[str, float] = {}

    # --- plumbing ------------------------------------------------------------------------

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        with self.database.session() as session:
            outbox.use_dispatcher(session, self.dispatcher)
            yield session

    def with_retries(self, step: Callable[[Session], T]) -> T:
        for attempt in range(5):
            try:
                with self.unit_of_work() as session:
                    return step(session)
            except RETRYABLE:
                self.retries += 1
                time.sleep(0.05 * (attempt + 1))
        with self.unit_of_work() as session:
            return step(session)

    def timed(self, name: str, step: Callable[[], None]) -> None:
        started = time.perf_counter()
        step()
        self.timings[name] = round(time.perf_counter() - started, 2)

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
                ),
            )
            self.factory_ids = list(
                session.exec(select(Factory.id).where(Factory.id > before).order_by(Factory.id))
            )
            self.buyer_orgs = list(
                session.exec(
                    select(Organization.id)
                    .where(Organization.kind == OrganizationKind.BUYER)
                    .order_by(Organization.id.desc())  # type: ignore[union-attr]
                    .limit(12)
                )
            )
            for bucket in session.exec(
                select(CapacityBucket).where(
                    CapacityBucket.factory_id.in_(self.factory_ids)  # type: ignore[attr-defined]
                )
            ):
                self.baseline[bucket.id] = (bucket.booked_hours, bucket.held_hours)  # type: ignore[index]
            self.capabilities = self._capabilities(session)

    def _capabilities(self, session: Session) -> list[dict[str, Any]]:
        rows = session.exec(
            select(Capability, Factory.status)
            .join(Factory, Factory.id == Capability.factory_id)
            .where(
                Factory.id.in_(self.factory_ids),  # type: ignore[union-attr]
                Factory.status == FactoryStatus.VERIFIED,
            )
            .order_by(Capability.id)
        ).all()
        materials: dict[int, list[str]] = {}
        for capability_id, material in session.exec(
            select(CapabilityMaterial.capability_id, CapabilityMaterial.material).order_by(
                CapabilityMaterial.capability_id, CapabilityMaterial.material
            )
        ):
            materials.setdefault(capability_id, []).append(material)
        return [
            {
                "process": c.process_code,
                "materials": materials.get(c.id, []),  # type: ignore[arg-type]
                "envelope": (c.max_length_mm, c.max_width_mm, c.max_height_mm),
                "tolerance": c.tolerance_class,
                "batch": (c.batch_min, c.batch_max),
            }
            for c, _ in rows
            if materials.get(c.id)  # type: ignore[arg-type]
        ]

    def _order_input(self, i: int) -> OrderInput:
        rng = self.rng
        today = utcnow().date()
        region = rng.choice(REGIONS)
        city, lat, lon = rng.choice(region.cities)
        lines = []
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            model = rng.choice(self.capabilities)
            low, high = model["batch"]
            quantity = max(low, min(high, rng.choice((5, 10, 25, 50, 100, 250))))
            lines.append(
                LineInput(
                    process_code=model["process"],
                    material=rng.choice(model["materials"]),
                    quantity=quantity,
                    hours=Decimal(f"{max(2.0, min(120.0, rng.lognormvariate(2.8, 0.8))):.1f}"),
                    length_mm=max(1, int(model["envelope"][0] * rng.uniform(0.1, 0.6))),
                    width_mm=max(1, int(model["envelope"][1] * rng.uniform(0.1, 0.6))),
                    height_mm=max(1, int(model["envelope"][2] * rng.uniform(0.1, 0.6))),
                    tolerance_class=TOLERANCE_CLASSES[
                        min(3, tolerance_rank(model["tolerance"]) + rng.choice((0, 0, 1)))
                    ],
                    splittable=rng.random() < 0.4,
                )
            )
        return OrderInput(
            title=f"Simulated order {i + 1}",
            due_date=monday_of(today)
            + timedelta(weeks=rng.randint(2, max(2, self.spec.weeks - 1)), days=4),
            delivery_country=region.country,
            delivery_city=city,
            delivery_latitude=lat,
            delivery_longitude=lon,
            min_credit=rng.choice((0.0, 0.0, 0.0, 0.5, 0.7)),
            lines=lines,
        )

    def post_orders(self) -> None:
        inputs = [self._order_input(i) for i in range(self.spec.orders)]
        for start in range(0, len(inputs), 200):
            with self.unit_of_work() as session:
                for i, data in enumerate(inputs[start : start + 200], start=start):
                    buyer = Principal(
                        organization_id=self.buyer_orgs[i % len(self.buyer_orgs)],
                        organization_kind=OrganizationKind.BUYER,
                        role=Role.BUYER_MEMBER,
                    )
                    order = create_order(session, buyer, data, submit=True)
                    self.order_ids.append(order.id)  # type: ignore[arg-type]

    def orders_in(self, state: OrderState) -> list[int]:
        with self.unit_of_work() as session:
            return list(
                session.exec(
                    select(Order.id)
                    .where(Order.id.in_(self.order_ids), Order.state == state)  # type: ignore[union-attr]
                    .order_by(Order.id)
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
                select(sa.func.count(sa.distinct(MatchRun.id)))
                .join(MatchRunOrder, MatchRunOrder.match_run_id == MatchRun.id)
                .where(
                    MatchRunOrder.order_id.in_(self.order_ids),  # type: ignore[attr-defined]
                    MatchRun.state.in_((MatchRunState.QUEUED, MatchRunState.RUNNING)),  # type: ignore[attr-defined]
                )
            ).one()
            pending = session.exec(
                select(sa.func.count(Proposal.id)).where(
                    Proposal.order_id.in_(self.order_ids),  # type: ignore[attr-defined]
                    Proposal.factory_id.in_(self.factory_ids),  # type: ignore[attr-defined]
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
                        select(Proposal.id)
                        .where(
                            Proposal.order_id.in_(self.order_ids),  # type: ignore[attr-defined]
                            Proposal.factory_id.in_(self.factory_ids),  # type: ignore[attr-defined]
                            Proposal.state == ProposalState.PENDING,
                        )
                        .order_by(Proposal.id)
                    )
                    if pid not in seen
                ]
            with lock:
                for pid in fresh:
                    seen.add(pid)  # type: ignore[arg-type]
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
            factory = session.get(Factory, proposal.factory_id)
            assert factory is not None
            owner = Principal(
                organization_id=factory.organization_id,
                organization_kind=OrganizationKind.FACTORY,
                role=Role.FACTORY_OWNER,
            )
            try:
                if accept:
                    proposals_service.accept(session, owner, proposal_id)
                else:
                    proposals_service.decline(session, owner, proposal_id, "simulated")
            except Conflict:
                return False
            with lock:
                if accept:
                    self.accepted += 1
                else:
                    self.declined += 1
            return True

        return self.with_retries(step)

    def produce_and_deliver(self) -> None:
        confirmed = self.orders_in(OrderState.CONFIRMED)
        with ThreadPoolExecutor(max_workers=self.spec.concurrency) as pool:
            list(pool.map(self._produce, confirmed))

    def _produce(self, order_id: int) -> None:
        def milestones(session: Session, kind: MilestoneKind) -> None:
            for factory in access.participants(session, order_id):
                owner = Principal(
                    organization_id=factory.organization_id,
                    organization_kind=OrganizationKind.FACTORY,
                    role=Role.FACTORY_OWNER,
                )
                uploads = []
                if kind == MilestoneKind.QA_PASSED:
                    report = f"QA report, order {order_id}, factory {factory.id}: passed\n"
                    uploads = [documents.Upload("qa-report.txt", report.encode())]
                add_milestone(
                    session,
                    owner,
                    order_id,
                    kind,
                    upload_folder=self.spec.upload_folder,
                    factory_id=factory.id,
                    tracking_number=f"SIM{order_id:06d}{factory.id}"
                    if kind == MilestoneKind.SHIPPED
                    else "",
                    carrier="DHL" if kind == MilestoneKind.SHIPPED else "",
                    uploads=uploads,
                )

        for kind in (MilestoneKind.STARTED, MilestoneKind.QA_PASSED, MilestoneKind.SHIPPED):
            self.with_retries(lambda session, kind=kind: milestones(session, kind))

        def deliver(session: Session) -> None:
            order = session.get(Order, order_id)
            assert order is not None
            buyer = Principal(
                organization_id=order.buyer_organization_id,
                organization_kind=OrganizationKind.BUYER,
                role=Role.BUYER_MEMBER,
            )
            confirm_delivery(session, buyer, order_id)

        self.with_retries(deliver)

    # --- the books ----------------------------------------------------------------------------

    def summary(self, wall_s: float) -> dict[str, Any]:
        with self.unit_of_work() as session:
            ids = self.order_ids
            states = dict(
                session.exec(
                    select(Order.state, sa.func.count(Order.id))
                    .where(Order.id.in_(ids))  # type: ignore[union-attr]
                    .group_by(Order.state)
                ).all()
            )
            total_hours, line_count = session.exec(
                select(sa.func.coalesce(sa.func.sum(OrderLine.hours), 0), sa.func.count()).where(
                    OrderLine.order_id.in_(ids)  # type: ignore[attr-defined]
                )
            ).one()
            accepted_hours = session.exec(
                select(sa.func.coalesce(sa.func.sum(Proposal.hours), 0)).where(
                    Proposal.order_id.in_(ids),  # type: ignore[attr-defined]
                    Proposal.state == ProposalState.ACCEPTED,
                )
            ).one()
            proposal_states = dict(
                session.exec(
                    select(Proposal.state, sa.func.count(Proposal.id))
                    .where(Proposal.order_id.in_(ids))  # type: ignore[attr-defined]
                    .group_by(Proposal.state)
                ).all()
            )
            runs = dict(
                session.exec(
                    select(MatchRun.kind, sa.func.count(sa.distinct(MatchRun.id)))
                    .join(MatchRunOrder, MatchRunOrder.match_run_id == MatchRun.id)
                    .where(MatchRunOrder.order_id.in_(ids))  # type: ignore[attr-defined]
                    .group_by(MatchRun.kind)
                ).all()
            )
            failed_runs = session.exec(
                select(sa.func.count(sa.distinct(MatchRun.id)))
                .join(MatchRunOrder, MatchRunOrder.match_run_id == MatchRun.id)
                .where(
                    MatchRunOrder.order_id.in_(ids),  # type: ignore[attr-defined]
                    MatchRun.state == MatchRunState.FAILED,
                )
            ).one()
            overbooked = session.exec(
                select(sa.func.count(CapacityBucket.id)).where(free_hours_sql(CapacityBucket) < 0)
            ).one()
            mismatches = self._mismatches(session)
            # The simulation answers for its own factories only: work offered to the
            # database's other factories waits for their answer (or their deadline).
            elsewhere = session.exec(
                select(sa.func.count(Proposal.id)).where(
                    Proposal.order_id.in_(ids),  # type: ignore[attr-defined]
                    Proposal.factory_id.not_in(self.factory_ids),  # type: ignore[attr-defined]
                    Proposal.state == ProposalState.PENDING,
                )
            ).one()
        delivered = states.get(OrderState.DELIVERED, 0)
        return {
            "orders": len(ids),
            "lines": line_count,
            "factories": len(self.factory_ids),
            "fill_rate": round(float(accepted_hours) / float(total_hours), 4)
            if total_hours
            else 1.0,
            "hours_ordered": float(total_hours),
            "hours_accepted": float(accepted_hours),
            "overbooked_buckets": overbooked,
            "booking_mismatches": mismatches,
            "proposals": sum(proposal_states.values()),
            "accepted": proposal_states.get(ProposalState.ACCEPTED, 0),
            "declined": proposal_states.get(ProposalState.DECLINED, 0),
            "superseded": proposal_states.get(ProposalState.SUPERSEDED, 0),
            "runs": sum(runs.values()),
            "rematched": runs.get(MatchRunKind.REMATCH, 0),
            "failed_runs": failed_runs,
            "delivered": delivered,
            "pending_with_other_factories": elsewhere,
            "orders_by_state": {str(k): v for k, v in sorted(states.items())},
            "retries": self.retries,
            "mode": self.dispatcher.mode,
            "concurrency": self.spec.concurrency,
            "phases_s": self.timings,
            "wall_s": round(wall_s, 2),
            "orders_per_s": round(len(ids) / wall_s, 2) if wall_s else None,
        }

    def _mismatches(self, session: Session) -> int:
        """Buckets of the simulated shops whose books do not add up."""
        live: dict[int, tuple[Decimal, Decimal]] = {}
        for bucket_id, state, hours in session.exec(
            select(ProposalSlot.bucket_id, ProposalSlot.state, sa.func.sum(ProposalSlot.hours))
            .where(
                ProposalSlot.bucket_id.in_(list(self.baseline)),  # type: ignore[attr-defined]
                ProposalSlot.state.in_((SlotState.HELD, SlotState.CONFIRMED)),  # type: ignore[attr-defined]
            )
            .group_by(ProposalSlot.bucket_id, ProposalSlot.state)
        ):
            booked, held = live.get(bucket_id, (Decimal(0), Decimal(0)))
            live[bucket_id] = (booked + hours, held + (hours if state == SlotState.HELD else 0))
        wrong = 0
        for bucket in session.exec(
            select(CapacityBucket).where(CapacityBucket.id.in_(list(self.baseline)))  # type: ignore[union-attr]
        ):
            base_booked, base_held = self.baseline[bucket.id]  # type: ignore[index]
            booked, held = live.get(bucket.id, (Decimal(0), Decimal(0)))  # type: ignore[arg-type]
            if bucket.booked_hours != base_booked + booked or bucket.held_hours != base_held + held:
                wrong += 1
        return wrong


def simulate(
    database: Database, spec: SimulationSpec, dispatcher: outbox.Dispatcher | None = None
) -> dict[str, Any]:
    """Run the whole flow; with no dispatcher, runs go to a pool of `concurrency` threads."""
    pool = None
    if dispatcher is None:
        pool = PoolDispatcher(database, spec.concurrency)
        dispatcher = pool
    simulation = Simulation(database, spec, dispatcher)
    started = time.perf_counter()
    try:
        simulation.timed("seed", simulation.seed)
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
        simulation.timed("produce_and_deliver", simulation.produce_and_deliver)
        if pool is not None and pool.errors:
            raise pool.errors[0]
    finally:
        if pool is not None:
            pool.close()
    return simulation.summary(time.perf_counter() - started)
