"""A run solved in parts: one Celery task per independent group on real workers over
Redis, a pool of processes without Celery; and the problem the parts come from, built
from the database in batches and stored compressed."""

from __future__ import annotations

import json
import time
import zlib
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import select

import matching
from factories.models import utcnow
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.orders.models import (
    MatchRun,
    MatchRunFanout,
    MatchRunPart,
    MatchRunState,
    Order,
    OrderState,
    Proposal,
)
from marketplace.orders.posting.service import create_order
from marketplace.orders.runs import problem as problem_module
from marketplace.orders.runs.problem import build_problem
from marketplace.orders.runs.service import latest_run
from marketplace.orders.workers.matching import execute_run
from tests.conftest import Browser
from tests.matching.feasibility import check_plan
from tests.orders.conftest import create_shop, line, order_input, person, principal

# Two markets sharing no capacity: their jobs form two groups at least.
MARKETS = (("edm", "tool_steel"), ("sand_casting", "cast_iron"))
IN_PARTS = {"min_terms": 1, "max_part_terms": 400_000, "slots": 2}


def two_market_lines(lines_each: int = 12):
    return [
        line(
            process_code=process,
            material=material,
            hours=Decimal(4 + (i * 7) % 19),
            splittable=i % 4 == 0,
        )
        for process, material in MARKETS
        for i in range(lines_each)
    ]


def two_market_shops(session, shops_each: int = 4) -> None:
    for process, material in MARKETS:
        for k in range(shops_each):
            org_id = person(session, OrganizationKind.FACTORY, Role.FACTORY_OWNER).organization.id
            create_shop(
                session,
                org_id,
                process,
                hours=[25 + 5 * (k % 3)] * 6,
                materials=(material,),
                rate_minor=5000 + 211 * k,
            )


def wait_for_end(committed, run_id: int, timeout: float) -> list[dict]:
    """Every progress snapshot seen until the run ends."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with committed.session() as session:
            run = session.get(MatchRun, run_id)
            seen.append({"state": run.state, **run.progress})
        if run.state in (MatchRunState.SUCCEEDED, MatchRunState.FAILED):
            return seen
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish: {seen[-1]}")


def test_celery_workers_solve_a_run_one_task_per_group(
    committed, committed_app, start_celery_worker
):
    broker, queue, worker, log = start_celery_worker(MATCH_FANOUT_MIN_TERMS="1")
    with committed.session() as session:
        two_market_shops(session)
        member = person(session, OrganizationKind.BUYER, Role.BUYER_MEMBER)
        order = create_order(
            session, principal(session, member), order_input(*two_market_lines()), submit=True
        )
        order_id = order.id
    app = committed_app("celery", broker=broker, CELERY_QUEUE=queue)
    browser = Browser(app.test_client())
    browser.login(member)
    assert browser.form(f"/orders/{order_id}/match", {"time_limit_s": "2"}).status_code == 303
    with committed.session() as session:
        run_id = latest_run(session, order_id).id

    seen = wait_for_end(committed, run_id, timeout=120)
    assert worker.poll() is None, f"the worker died: {log.read_text()}"
    assert seen[-1]["state"] == MatchRunState.SUCCEEDED, (seen[-1], log.read_text()[-3000:])
    # While the parts were solved the run showed their count, and its figures at the end.
    assert any(s.get("parts", 0) >= 2 for s in seen if s["state"] == MatchRunState.RUNNING)
    assert seen[-1]["phase"] == "done" and 0 < seen[-1]["fill"] <= 1
    with committed.session() as session:
        run = session.get(MatchRun, run_id)
        fanout = session.get(MatchRunFanout, run_id)
        parts = session.exec(select(MatchRunPart).where(MatchRunPart.match_run_id == run_id)).all()
        assert fanout is not None and fanout.merged_at is not None
        assert fanout.parts == len(parts) >= 2
        assert all(p.plan is not None and p.solve_s is not None for p in parts)
        # The parts cover the run's jobs once each.
        part_jobs = sorted(j["id"] for p in parts for j in p.problem["jobs"])
        assert part_jobs == sorted(j["id"] for j in run.problem["jobs"])
        check_plan(run.problem, run.plan)
        whole = matching.solve(matching.load_problem(run.problem), time_limit_s=5, workers=1)
        assert run.plan["fill"] >= whole.fill - 1e-9
        proposals = session.exec(select(Proposal).where(Proposal.order_id == order_id)).all()
        assert proposals and session.get(Order, order_id).state == OrderState.PROPOSED
        # Stored compressed: the column holds zlib data of the problem's JSON.
        raw = session.execute(
            sa.text("SELECT problem FROM match_run WHERE id = :id"), {"id": run_id}
        ).scalar_one()
        assert json.loads(zlib.decompress(raw)) == run.problem


def test_without_celery_the_parts_run_in_a_process_pool(
    browser, db_session, make_shop, buyer, database, dispatcher
):
    for process, material in MARKETS:
        for k in range(3):
            make_shop(process, hours=30, rate_minor=5000 + 300 * k, materials=(material,))
    order = create_order(
        db_session, principal(db_session, buyer), order_input(*two_market_lines(8)), submit=True
    )
    db_session.commit()
    browser.login(buyer)
    assert browser.form(f"/orders/{order.id}/match", {"time_limit_s": "2"}).status_code == 303
    [run_id] = dispatcher.take_runs()

    run = execute_run(database, run_id, fanout=IN_PARTS)
    assert run.state == MatchRunState.SUCCEEDED, run.error
    assert run.progress["phase"] == "done"
    assert db_session.get(MatchRunFanout, run_id) is None  # no Celery: nothing stored
    db_session.expire_all()
    stored = db_session.get(MatchRun, run_id)
    check_plan(stored.problem, stored.plan)
    problem = matching.load_problem(stored.problem)
    whole = matching.solve(problem, time_limit_s=4, workers=1)
    assert run.plan["fill"] >= whole.fill - 1e-9
    assert len(matching.fanout.fan_out(problem).parts) >= 2


def test_building_in_batches_gives_the_problem_built_at_once(db_session, make_shop, buyer):
    for process, material in MARKETS:
        for k in range(3):
            make_shop(process, hours=30, rate_minor=5000 + 300 * k, materials=(material,))
    orders = [
        create_order(
            db_session, principal(db_session, buyer), order_input(*two_market_lines(5)), submit=True
        )
        for _ in range(3)
    ]
    today = utcnow().date()
    at_once = build_problem(db_session, orders, today, time_limit_s=2, batch=10_000)
    one_by_one = build_problem(db_session, orders, today, time_limit_s=2, batch=1)
    assert len(at_once.problem["jobs"]) == 30
    assert one_by_one.problem == at_once.problem
    assert one_by_one.candidates == at_once.candidates
    assert one_by_one.skipped == at_once.skipped


def test_a_job_is_offered_its_nearest_options_only(db_session, make_shop, buyer, monkeypatch):
    for k in range(5):
        make_shop("edm", hours=30, rate_minor=5000 + 300 * k, materials=("tool_steel",))
    order = create_order(
        db_session,
        principal(db_session, buyer),
        order_input(line(process_code="edm", material="tool_steel")),
        submit=True,
    )
    every = build_problem(db_session, [order], utcnow().date(), time_limit_s=2)
    monkeypatch.setattr(problem_module, "MAX_OPTIONS", 3)
    capped = build_problem(db_session, [order], utcnow().date(), time_limit_s=2)
    [all_options] = [j["options"] for j in every.problem["jobs"]]
    [kept] = [j["options"] for j in capped.problem["jobs"]]
    assert len(all_options) == 5 and len(kept) == 3
    # All shops are as near (the same shipping time): the three cheapest are kept.
    assert sorted(o["price"] for o in kept) == sorted(o["price"] for o in all_options)[:3]
    assert {f["id"] for f in capped.problem["factories"]} == {o["factory"] for o in kept}
