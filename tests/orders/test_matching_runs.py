"""Item 2, runs: a buyer starts matching from the web or the API; the run goes to a
background thread, or to Celery workers through Redis when a broker is configured; its
progress is written while the engine searches and shown live (htmx polling); its problem
and plan are kept and can be downloaded and replayed."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlmodel import select

import matching
from factories.models import Factory
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.accounts.service import Principal
from marketplace.cli import main
from marketplace.orders.models import (
    MatchRun,
    MatchRunOrder,
    MatchRunState,
    Order,
    OrderState,
    Proposal,
)
from marketplace.orders.posting.service import create_order
from marketplace.orders.proposals.service import decline
from marketplace.orders.runs.service import latest_run
from marketplace.orders.settings import settings_from
from marketplace.orders.workers.dispatchers import CeleryDispatcher
from marketplace.orders.workers.matching import execute_run
from tests.conftest import Browser
from tests.orders.conftest import create_shop, line, order_input, person, principal


def test_find_factories_stores_problem_and_plan_for_replay(
    browser, db_session, make_shop, buyer, database, dispatcher, tmp_path
):
    cheap = make_shop(rate_minor=5000)
    make_shop(rate_minor=8000)
    order = create_order(
        db_session,
        principal(db_session, buyer),
        order_input(line(hours=Decimal(30)), line(hours=Decimal(50), splittable=True)),
        submit=True,
    )
    db_session.commit()
    browser.login(buyer)
    response = browser.form(f"/orders/{order.id}/match", {"time_limit_s": "2"})
    assert response.status_code == 303
    [run_id] = dispatcher.take_runs()
    db_session.expire_all()
    assert db_session.get(Order, order.id).state == OrderState.MATCHING

    # While queued, the panel polls itself every second.
    panel = browser.get(f"/orders/{order.id}/progress").get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in panel and "queued" in panel

    run = execute_run(database, run_id)
    assert run.state == MatchRunState.SUCCEEDED
    finished = browser.get(f"/orders/{order.id}/progress?was=running")
    assert finished.headers.get("HX-Refresh") == "true"
    assert "hx-trigger" not in finished.get_data(as_text=True)
    assert "100.0 %" in finished.get_data(as_text=True)
    made = len(db_session.exec(select(Proposal).where(Proposal.order_id == order.id)).all())
    assert f"{made} proposals made;" in finished.get_data(as_text=True)
    details = browser.get(f"/runs/{run_id}").get_data(as_text=True)
    status = details.split("Solver status")[1].split("</dd>")[0]
    assert run.solver_status in ("OPTIMAL", "FEASIBLE")
    assert "the best plan possible" in status or "a good plan" in status
    assert run.solver_status not in status

    db_session.expire_all()
    assert db_session.get(Order, order.id).state == OrderState.PROPOSED
    proposals = db_session.exec(select(Proposal).where(Proposal.order_id == order.id)).all()
    assert {p.factory_id for p in proposals} == {cheap.id}
    assert sum(p.hours for p in proposals) == Decimal(80)
    assert sum(p.price_minor for p in proposals) == 80 * 5000

    problem = browser.get(f"/runs/{run_id}/problem.json")
    assert problem.headers["Content-Disposition"].startswith("attachment")
    plan = browser.get(f"/runs/{run_id}/plan.json").get_json()
    assert browser.get(f"/api/v1/match-runs/{run_id}/plan").get_json() == plan
    # Replaying the downloaded problem with `factoryweb match` gives a plan just as good.
    path = tmp_path / "problem.json"
    path.write_bytes(problem.data)
    result = CliRunner().invoke(main, ["match", str(path), "--workers", "1", "--time-limit", "2"])
    assert result.exit_code == 0, result.output
    replayed = matching.load_plan(result.output)
    assert replayed.fill == plan["fill"] == 1.0
    assert replayed.objective == pytest.approx(plan["objective"])
    api_run = browser.get(f"/api/v1/match-runs/{run_id}").get_json()
    assert api_run["state"] == "succeeded" and api_run["progress"]["fill"] == 1.0
    assert api_run["outcome"]["created"] == len(proposals)


def test_runs_are_the_buyers_alone(
    browser, new_browser, db_session, make_shop, buyer, database, dispatcher, make_member
):
    make_shop()
    order = create_order(db_session, principal(db_session, buyer), order_input(), submit=True)
    db_session.commit()
    browser.login(buyer)
    run = browser.api("POST", f"/api/v1/orders/{order.id}/match", json={"time_limit_s": 1})
    assert run.status_code == 202
    run_id = run.get_json()["id"]
    execute_run(database, dispatcher.take_runs()[0])
    for kind, role in (
        (OrganizationKind.BUYER, Role.BUYER_MEMBER),
        (OrganizationKind.FACTORY, Role.FACTORY_OWNER),
    ):
        other = new_browser()
        other.login(make_member(kind, role))
        assert other.get(f"/runs/{run_id}").status_code == 404
        assert other.get(f"/runs/{run_id}/problem.json").status_code == 404
        assert other.get(f"/api/v1/match-runs/{run_id}/problem").status_code == 404
        assert other.get(f"/orders/{order.id}/progress").status_code == 404


def test_match_without_a_body_takes_the_default_time_limit(
    browser, db_session, make_shop, buyer, dispatcher
):
    make_shop()
    order = create_order(db_session, principal(db_session, buyer), order_input(), submit=True)
    db_session.commit()
    browser.login(buyer)
    run = browser.api("POST", f"/api/v1/orders/{order.id}/match")
    assert run.status_code == 202, run.get_json()
    default = settings_from(browser.client.application.config)["MATCH_TIME_LIMIT_S"]
    assert run.get_json()["time_limit_s"] == default
    bad = browser.api("POST", f"/api/v1/orders/{order.id}/match", json={"time_limit_s": "soon"})
    assert bad.status_code == 422
    assert bad.get_json()["fields"][0]["field"] == "time_limit_s"


def big_cluster(session, process: str, material: str, shops: int = 12):
    for k in range(shops):
        org_id = person(session, OrganizationKind.FACTORY, Role.FACTORY_OWNER).organization.id
        create_shop(
            session,
            org_id,
            process,
            hours=[30 + 5 * (k % 4)] * 6,
            materials=(material,),
            rate_minor=5000 + 137 * k,
        )


def post_big_order(committed, process: str, material: str, lines: int):
    with committed.session() as session:
        big_cluster(session, process, material)
        member = person(session, OrganizationKind.BUYER, Role.BUYER_MEMBER)
        order = create_order(
            session,
            principal(session, member),
            order_input(
                *[
                    line(
                        process_code=process,
                        material=material,
                        hours=Decimal(3 + (i * 7) % 23),
                        splittable=i % 3 == 0,
                    )
                    for i in range(lines)
                ],
                weeks=5,
            ),
            submit=True,
        )
        return member, order.id


def watch(browser: Browser, order_id: int, run_id: int, committed, timeout: float = 60):
    """Poll like the page does; return every progress snapshot seen until the run ends."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        panel = browser.get(f"/orders/{order_id}/progress").get_data(as_text=True)
        with committed.session() as session:
            run = session.get(MatchRun, run_id)
            seen.append((run.state, dict(run.progress), panel))
        if run.state in (MatchRunState.SUCCEEDED, MatchRunState.FAILED):
            return seen
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish: {seen[-1][:2]}")


def test_background_thread_runs_with_live_progress(committed, committed_app):
    member, order_id = post_big_order(committed, "edm", "tool_steel", lines=50)
    app = committed_app("thread")
    browser = Browser(app.test_client())
    browser.login(member)
    response = browser.api("POST", f"/api/v1/orders/{order_id}/match", json={"time_limit_s": 3})
    assert response.status_code == 202
    run_id = response.get_json()["id"]

    seen = watch(browser, order_id, run_id, committed)
    states = [state for state, _, _ in seen]
    assert states[-1] == MatchRunState.SUCCEEDED
    # The engine's progress reached the database while it was still searching.
    searching = [p for state, p, _ in seen if state == MatchRunState.RUNNING and "fill" in p]
    assert searching, states
    assert any('hx-trigger="every 1s"' in panel and "Work placed" in panel for _, _, panel in seen)
    final = seen[-1][1]
    assert final["phase"] == "done" and 0 < final["fill"] <= 1 and final["cost"] > 0
    with committed.session() as session:
        run = session.get(MatchRun, run_id)
        assert session.get(Order, order_id).state == OrderState.PROPOSED, run.outcome
        assert len(run.problem["jobs"]) == 50 and run.plan["assignments"]


@pytest.fixture
def celery_worker(start_celery_worker):
    return start_celery_worker()


def test_celery_worker_runs_matching_through_redis(committed, committed_app, celery_worker):
    broker, queue, worker, log = celery_worker
    member, order_id = post_big_order(committed, "sand_casting", "cast_iron", lines=40)
    app = committed_app("celery", broker=broker, CELERY_QUEUE=queue)
    browser = Browser(app.test_client())
    browser.login(member)
    response = browser.form(f"/orders/{order_id}/match", {"time_limit_s": "2"})
    assert response.status_code == 303
    with committed.session() as session:
        run_id = latest_run(session, order_id).id

    seen = watch(browser, order_id, run_id, committed, timeout=90)
    assert worker.poll() is None, f"the worker died: {log.read_text()}"
    assert seen[-1][0] == MatchRunState.SUCCEEDED, seen[-1][:2]
    with committed.session() as session:
        run = session.get(MatchRun, run_id)
        assert run.started_at is not None and run.plan is not None
        proposals = session.exec(select(Proposal).where(Proposal.order_id == order_id)).all()
        assert proposals and session.get(Order, order_id).state == OrderState.PROPOSED

    # A decline goes back through Celery: the worker re-matches the freed work elsewhere.
    proposal = proposals[0]
    with committed.session() as session:
        session.info["dispatcher"] = CeleryDispatcher(broker, queue)
        factory = session.get(Factory, proposal.factory_id)
        owner = Principal(factory.organization_id, OrganizationKind.FACTORY, Role.FACTORY_OWNER)
        decline(session, owner, proposal.id, "machine down")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with committed.session() as session:
            rematch = session.exec(
                select(MatchRun)
                .join(MatchRunOrder, MatchRunOrder.match_run_id == MatchRun.id)
                .where(MatchRunOrder.order_id == order_id, MatchRun.id > run_id)
            ).first()
            if rematch is not None and rematch.state == MatchRunState.SUCCEEDED:
                break
        time.sleep(0.2)
    else:
        raise AssertionError("the re-match did not run")
    assert rematch.kind == "rematch"
    assert rematch.previous_plan["assignments"]  # the standing proposals it kept
    with committed.session() as session:
        after = session.exec(
            select(Proposal).where(Proposal.order_id == order_id, Proposal.id > proposals[-1].id)
        ).all()
    assert proposal.factory_id not in {
        p.factory_id for p in after if p.order_line_id == proposal.order_line_id
    }
