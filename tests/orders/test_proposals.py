"""Item 3: proposals hold capacity; accepting confirms it; declining or expiring releases
it and re-matches that work with minimal disruption; a factory sees only its own
proposals, with the reasons it got the work."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlmodel import select

from factories.credit.score import risk_adjusted
from factories.errors import Conflict, NotFound
from factories.models import CapacityBucket, utcnow
from marketplace.cli import main
from marketplace.orders.errors import OrderError
from marketplace.orders.models import (
    MatchRun,
    MatchRunKind,
    Order,
    OrderState,
    Proposal,
    ProposalSlot,
    ProposalState,
    SlotState,
)
from marketplace.orders.posting.service import create_order
from marketplace.orders.proposals import explain
from marketplace.orders.proposals import service as service
from marketplace.orders.proposals.apply import round_to_cents
from marketplace.orders.proposals.engine import RunExplainer
from marketplace.orders.workers.matching import execute_run
from tests.orders.conftest import line, order_input, principal


def booked(db_session, shop):
    db_session.expire_all()
    buckets = db_session.exec(
        select(CapacityBucket).where(CapacityBucket.factory_id == shop.id)
    ).all()
    return (
        sum((b.booked_hours for b in buckets), Decimal(0)),
        sum((b.held_hours for b in buckets), Decimal(0)),
    )


def matched(db_session, dispatcher, database, buyer, *lines, **kw):
    """Post an order, match it, and return it with its proposals."""
    from marketplace.orders.runs.service import request_matching

    who = principal(db_session, buyer)
    order = create_order(db_session, who, order_input(*lines, **kw), submit=True)
    request_matching(db_session, who, order.id, 2)
    db_session.commit()
    for run_id in dispatcher.take_runs():
        execute_run(database, run_id, workers=1)
    return order, proposals_of(db_session, order)


def proposals_of(db_session, order):
    db_session.expire_all()
    return db_session.exec(
        select(Proposal).where(Proposal.order_id == order.id).order_by(Proposal.id)
    ).all()


def rematch(db_session, dispatcher, database):
    runs = dispatcher.take_runs()
    for run_id in runs:
        execute_run(database, run_id, workers=1)
    db_session.expire_all()
    return runs


def test_hold_at_proposal_confirm_at_acceptance(db_session, make_shop, buyer, dispatcher, database):
    shop = make_shop(hours=40, rate_minor=5000)
    assert booked(db_session, shop) == (0, 0)
    order, [proposal] = matched(db_session, dispatcher, database, buyer, line(hours=Decimal(30)))
    assert proposal.state == ProposalState.PENDING and proposal.hours == 30
    assert booked(db_session, shop) == (30, 30)  # held
    assert proposal.expires_at - proposal.created_at == timedelta(hours=48)

    service.accept(db_session, principal(db_session, shop.owner), proposal.id)
    db_session.commit()
    assert booked(db_session, shop) == (30, 0)  # booked for good
    assert db_session.get(Order, order.id).state == OrderState.AWAITING_PAYMENT
    slots = db_session.exec(select(ProposalSlot).where(ProposalSlot.proposal_id == proposal.id))
    assert {s.state for s in slots} == {SlotState.CONFIRMED}
    try:
        service.decline(db_session, principal(db_session, shop.owner), proposal.id)
    except Conflict as error:
        assert "already accepted" in str(error)
    else:
        raise AssertionError("a decided proposal was declined again")


def test_a_price_beyond_2_31_minor_units_is_proposed(
    db_session, make_shop, buyer, dispatcher, database
):
    make_shop(hours=600, rate_minor=5_000_000)  # 50,000.00 an hour, 500 hours
    _, [proposal] = matched(db_session, dispatcher, database, buyer, line(hours=Decimal(500)))
    assert proposal.price_minor == 2_500_000_000


def test_decline_releases_and_rematches_with_minimal_disruption(
    db_session, make_shop, buyer, dispatcher, database
):
    cheap = make_shop(hours=30, rate_minor=5000)
    middle = make_shop(hours=30, rate_minor=6000)
    dear = make_shop(hours=30, rate_minor=9000)
    order, first = matched(
        db_session,
        dispatcher,
        database,
        buyer,
        line(hours=Decimal(20)),
        line(hours=Decimal(25)),
        weeks=0,
    )
    # One week, 30 h per shop: the two lines go to the two cheapest shops.
    assert {p.factory_id for p in first} == {cheap.id, middle.id}
    on_cheap = next(p for p in first if p.factory_id == cheap.id)
    kept = next(p for p in first if p.factory_id == middle.id)

    service.decline(db_session, principal(db_session, cheap.owner), on_cheap.id, "holiday")
    db_session.commit()
    assert booked(db_session, cheap) == (0, 0)
    assert db_session.get(Order, order.id).state == OrderState.MATCHING
    [run_id] = rematch(db_session, dispatcher, database)

    run = db_session.get(MatchRun, run_id)
    assert run.kind == MatchRunKind.REMATCH
    assert run.previous_plan["assignments"][0]["hours"] == float(kept.hours)
    after = proposals_of(db_session, order)
    states = {p.id: p.state for p in after}
    assert states[on_cheap.id] == ProposalState.DECLINED
    assert states[kept.id] == ProposalState.PENDING  # untouched: same proposal, same hold
    [moved] = [p for p in after if p.id not in (on_cheap.id, kept.id)]
    assert moved.factory_id == dear.id and moved.hours == on_cheap.hours
    assert moved.order_line_id == on_cheap.order_line_id
    assert run.outcome["kept"] == 1 and run.outcome["created"] == 1
    assert booked(db_session, dear) == (on_cheap.hours, on_cheap.hours)
    assert db_session.get(Order, order.id).state == OrderState.PROPOSED


def test_declining_the_last_option_leaves_the_order_open(
    db_session, make_shop, buyer, dispatcher, database
):
    shop = make_shop(hours=40)
    order, [proposal] = matched(db_session, dispatcher, database, buyer, line())
    service.decline(db_session, principal(db_session, shop.owner), proposal.id)
    db_session.commit()
    rematch(db_session, dispatcher, database)
    assert db_session.get(Order, order.id).state == OrderState.OPEN
    assert booked(db_session, shop) == (0, 0)


def test_a_reason_too_long_to_keep_is_named_not_cut(
    db_session, make_shop, buyer, dispatcher, database
):
    shop = make_shop(hours=40)
    order, [proposal] = matched(db_session, dispatcher, database, buyer, line())
    owner = principal(db_session, shop.owner)
    try:
        service.decline(db_session, owner, proposal.id, "x" * 501)
    except OrderError as error:
        assert error.field == "note"
    else:
        raise AssertionError("a note longer than 500 characters was taken")
    db_session.rollback()
    assert proposals_of(db_session, order)[0].state == ProposalState.PENDING
    service.decline(db_session, owner, proposal.id, " " + "x" * 500 + " ")
    db_session.commit()
    assert proposals_of(db_session, order)[0].decision_note == "x" * 500


def test_expiry_releases_and_rematches(db_session, make_shop, buyer, dispatcher, database, app):
    late = make_shop(hours=40, rate_minor=5000)
    other = make_shop(hours=40, rate_minor=7000)
    order, [proposal] = matched(db_session, dispatcher, database, buyer, line())
    assert proposal.factory_id == late.id
    proposal.expires_at = utcnow() - timedelta(minutes=1)
    db_session.commit()

    # Too late to accept.
    try:
        service.accept(db_session, principal(db_session, late.owner), proposal.id)
    except Conflict as error:
        assert "deadline" in str(error)
    db_session.rollback()

    result = CliRunner().invoke(main, ["orders", "expire", "--json"], obj=_script_info(app))
    assert result.exit_code == 0, result.output
    assert '"expired": 1' in result.output
    rematch(db_session, dispatcher, database)
    after = proposals_of(db_session, order)
    assert [p.state for p in after] == [ProposalState.EXPIRED, ProposalState.PENDING]
    assert after[1].factory_id == other.id
    assert booked(db_session, late) == (0, 0)
    assert booked(db_session, other) == (20, 20)


def _script_info(app):
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)


def test_factory_sees_its_proposals_with_reasons_and_nobody_elses(
    browser, new_browser, db_session, make_shop, buyer, dispatcher, database
):
    mine = make_shop(hours=12, rate_minor=5000)
    theirs = make_shop(hours=40, rate_minor=6000)
    order, proposals = matched(
        db_session, dispatcher, database, buyer, line(hours=Decimal(30), splittable=True), weeks=0
    )
    by_factory = {p.factory_id: p for p in proposals}
    assert by_factory[mine.id].hours == 12 and by_factory[theirs.id].hours == 18

    browser.login(mine.owner)
    listing = browser.get("/proposals").get_data(as_text=True)
    assert f"/proposals/{by_factory[mine.id].id}" in listing
    assert f"/proposals/{by_factory[theirs.id].id}" not in listing
    page = browser.get(f"/proposals/{by_factory[mine.id].id}").get_data(as_text=True)
    assert "2 factories were able to make this line; your price ranked 1." in page
    assert "€600.00" in page  # 12 h x 50.00
    assert browser.get(f"/proposals/{by_factory[theirs.id].id}").status_code == 404
    api = browser.get("/api/v1/proposals").get_json()["proposals"]
    assert [p["id"] for p in api] == [by_factory[mine.id].id]
    assert api[0]["explanation"]["price_rank"] == 1
    # The engine's own account of the line, restricted to this factory's capacity line:
    # why it got its 12 h, at its own price; nothing of the other factory.
    own_line, their_line = (f"factory-{s.id}/milling_3axis" for s in (mine, theirs))
    engine = api[0]["explanation"]["engine"]
    [chosen] = engine["chosen"]
    assert chosen["factory"] == own_line and chosen["reason"] == "chosen"
    assert chosen["hours"] == 12 and chosen["share"] == pytest.approx(12 / 30)
    assert chosen["price"] == pytest.approx(12 * 5000) and chosen["option_price"] == 30 * 5000
    # The engine compared the risk-adjusted cost: price x (1 + 0.5 x (1 - credit)).
    assert chosen["option_cost"] == risk_adjusted(30 * 5000, chosen["credit"])
    assert engine["not_chosen"] == [] and engine["hours"] == 30
    assert set(engine) == {"job", "hours", "chosen", "not_chosen"}
    everything = json.dumps(api) + page
    assert their_line not in everything and theirs.factory.name not in everything
    assert "1,080.00" not in page and "1,800.00" not in page  # its share, its whole option
    assert 'id="engine-explanation"' in page
    assert "gave your" in page and "12 of the 30 hours" in page and "(40%)" in page
    single = browser.get(f"/api/v1/proposals/{by_factory[mine.id].id}").get_json()
    assert single["explanation"]["engine"] == engine
    order_page = browser.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "1,080.00" not in order_page  # the other factory's price (18 h x 60.00)
    assert (
        browser.api("POST", f"/api/v1/proposals/{by_factory[theirs.id].id}/accept").status_code
        == 404
    )

    # Accepting through the web books the hours.
    response = browser.form(f"/proposals/{by_factory[mine.id].id}/accept", {})
    assert response.status_code == 303
    assert booked(db_session, mine) == (12, 0)

    buyer_browser = new_browser()
    buyer_browser.login(buyer)
    order_page = buyer_browser.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "€1,080.00" in order_page and "€600.00" in order_page
    # The buyer also sees the engine's own account: who was chosen, for how much.
    page = buyer_browser.get(f"/proposals/{by_factory[theirs.id].id}").get_data(as_text=True)
    assert 'id="engine-explanation"' in page
    assert mine.factory.name in page and theirs.factory.name in page
    engine = db_session.get(Proposal, by_factory[theirs.id].id).explanation["engine"]
    assert {c["factory"] for c in engine["chosen"]} == {
        f"factory-{mine.id}/milling_3axis",
        f"factory-{theirs.id}/milling_3axis",
    }
    # ... told to the buyer in the buyer's words: each factory once, money as money,
    # weeks as weeks, and nothing addressed to the factory.
    assert "Why this factory" in page and "Why you got this work" not in page
    assert "Your credit score" not in page and "Your rate" not in page
    assert "Its rate: €60.00 per hour." in page
    assert "Makes 12 of the line&#39;s 30 hours (40%) for €600.00" in page
    assert "Makes 18 of the line&#39;s 30 hours (60%) for €1,080.00" in page
    assert page.count(f"<td>{mine.factory.name}</td>") == 1
    assert "period(s)" not in page and "for the whole job" not in page
    assert "FEASIBLE" not in page and "OPTIMAL" not in page
    assert "week " in page and "-W" not in page.split('id="slots"')[1].split("</table>")[0]
    chinese = buyer_browser.get(
        f"/proposals/{by_factory[theirs.id].id}", headers={"Accept-Language": "zh"}
    )
    assert "Why this factory" not in chinese.get_data(as_text=True)


def test_machine_client_needs_the_proposal_scopes(
    db_session, make_shop, buyer, dispatcher, database, client
):
    from marketplace.accounts.models import OAuthToken
    from marketplace.accounts.oauth import create_client
    from marketplace.accounts.tokens import digest, new_secret

    shop = make_shop()
    _, [proposal] = matched(db_session, dispatcher, database, buyer, line())
    tokens = {}
    for scopes in (["proposals:read"], ["proposals:read", "proposals:write"]):
        machine, _ = create_client(db_session, shop.owner.organization, "MES", scopes)
        token = new_secret("fwt_")
        db_session.add(
            OAuthToken(
                client_pk=machine.id,
                token_hash=digest(token),
                scopes=" ".join(scopes),
                expires_at=utcnow() + timedelta(hours=1),
            )
        )
        tokens[len(scopes)] = {"Authorization": f"Bearer {token}"}
    db_session.commit()
    assert client.get("/api/v1/proposals", headers=tokens[1]).status_code == 200
    assert (
        client.post(f"/api/v1/proposals/{proposal.id}/accept", headers=tokens[1]).status_code == 403
    )
    response = client.post(f"/api/v1/proposals/{proposal.id}/accept", headers=tokens[2])
    assert response.status_code == 200 and response.get_json()["state"] == "accepted"


def test_cancelling_gives_back_held_and_booked_hours(
    db_session, make_shop, buyer, dispatcher, database
):
    from marketplace.orders.proposals.service import cancel_order as cancel

    a = make_shop(hours=10, rate_minor=5000)
    b = make_shop(hours=30, rate_minor=6000)
    order, proposals = matched(
        db_session, dispatcher, database, buyer, line(hours=Decimal(25), splittable=True), weeks=0
    )
    on_a = next(p for p in proposals if p.factory_id == a.id)
    service.accept(db_session, principal(db_session, a.owner), on_a.id)
    assert booked(db_session, a) == (10, 0) and booked(db_session, b) == (15, 15)
    cancel(db_session, principal(db_session, buyer), order.id)
    db_session.commit()
    assert booked(db_session, a) == (0, 0) and booked(db_session, b) == (0, 0)
    assert {p.state for p in proposals_of(db_session, order)} == {ProposalState.WITHDRAWN}
    try:
        service.accept(db_session, principal(db_session, b.owner), proposals[1].id)
    except (Conflict, NotFound):
        pass
    else:
        raise AssertionError("a withdrawn proposal was accepted")


def test_rounding_to_cents_keeps_job_totals_and_full_buckets():
    # Two jobs fill bucket B exactly in thirds; rounding each part up would overflow it.
    parts = [
        ("j1", ("f1", "W1"), 10 / 3),
        ("j1", ("f2", "W1"), 20 / 3),
        ("j2", ("f1", "W1"), 20 / 3),
        ("j2", ("f2", "W1"), 10 / 3),
    ]
    cents = round_to_cents(parts, {("f1", "W1"): 1000, ("f2", "W1"): 1000})
    assert cents[0] + cents[1] == 1000 and cents[2] + cents[3] == 1000
    assert cents[0] + cents[2] <= 1000 and cents[1] + cents[3] <= 1000


def test_rounding_to_cents_gives_the_last_cent_of_a_bucket_to_the_job_that_needs_it():
    # j1 could round up in A or B; j2 only in B (C is full). Largest remainders alone
    # would give B's last cent to j1 and push j2 over C's or B's edge.
    parts = [
        ("j1", ("A", "W1"), 0.304),
        ("j1", ("B", "W1"), 0.696),
        ("j2", ("B", "W1"), 0.304),
        ("j2", ("C", "W1"), 0.696),
    ]
    capacity = {("A", "W1"): 31, ("B", "W1"): 100, ("C", "W1"): 69}
    cents = round_to_cents(parts, capacity)
    assert cents == [31, 69, 31, 69]
    assert cents[0] <= 31 and cents[1] + cents[2] <= 100 and cents[3] <= 69


def test_pages_expire_overdue_proposals_themselves(
    browser, db_session, make_shop, buyer, dispatcher, database
):
    shop = make_shop(hours=40)
    order, [proposal] = matched(db_session, dispatcher, database, buyer, line())
    proposal.expires_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    browser.login(shop.owner)
    page = browser.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert 'id="proposal-state">expired<' in page
    assert 'id="answer"' not in page  # no accept button any more
    assert booked(db_session, shop) == (0, 0)
    assert dispatcher.take_runs()  # the work is being re-matched
    assert db_session.get(Order, order.id).state == OrderState.MATCHING


def test_a_factory_whose_part_ended_keeps_its_proposal_and_nothing_more_of_the_order(
    browser, new_browser, db_session, make_shop, buyer, dispatcher, database
):
    """Declined, it sees its own proposal; the order, its disputes and whoever took the
    work are no longer its business."""
    first = make_shop(hours=40, rate_minor=5000)
    second = make_shop(hours=40, rate_minor=6000)
    order, [proposal] = matched(db_session, dispatcher, database, buyer, line())
    assert proposal.factory_id == first.id
    browser.login(first.owner)
    assert browser.get(f"/orders/{order.id}").status_code == 200
    assert browser.form(f"/proposals/{proposal.id}/decline", {"note": "booked"}).status_code == 303
    rematch(db_session, dispatcher, database)
    [_, taken] = proposals_of(db_session, order)
    assert taken.factory_id == second.id

    assert browser.get(f"/orders/{order.id}").status_code == 404
    assert browser.get(f"/api/v1/orders/{order.id}").status_code == 404
    assert order.id not in [o["id"] for o in browser.get("/api/v1/orders").get_json()["orders"]]
    page = browser.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert order.title in page and f'href="/orders/{order.id}"' not in page
    assert second.factory.name not in page
    assert browser.get(f"/api/v1/proposals/{proposal.id}").get_json()["state"] == "declined"
    # The factory that took the work sees the order.
    other = new_browser()
    other.login(second.owner)
    assert other.get(f"/orders/{order.id}").status_code == 200


def test_a_factorys_reason_for_declining_reaches_the_buyer(
    browser, new_browser, db_session, make_shop, buyer, dispatcher, database
):
    shop = make_shop(hours=40, rate_minor=5000)
    order, [proposal] = matched(db_session, dispatcher, database, buyer, line())
    browser.login(shop.owner)
    reason = "Our five-axis machine is down for repair until March."
    response = browser.form(f"/proposals/{proposal.id}/decline", {"note": reason})
    assert response.status_code == 303
    buyer_browser = new_browser()
    buyer_browser.login(buyer)
    page = buyer_browser.get(f"/orders/{order.id}").get_data(as_text=True)
    assert f"“{reason}”" in page.split('id="proposals"')[1]
    notes = buyer_browser.get("/notifications").get_data(as_text=True)
    assert reason in notes and "declined its part" in notes


def test_a_large_run_leaves_the_engine_s_account_for_the_first_reader(
    db_session, make_shop, buyer, dispatcher, database, browser, monkeypatch
):
    """A run above EAGER_ENGINE_JOBS applies its plan without the engine's accounts; the
    first page or API call showing a proposal works its account out from the run's
    stored problem and plan, exactly as a small run does at once, and keeps it."""
    mine = make_shop(hours=12, rate_minor=5000)
    make_shop(hours=40, rate_minor=6000)
    monkeypatch.setattr(explain, "EAGER_ENGINE_JOBS", 0)
    _, later = matched(
        db_session, dispatcher, database, buyer, line(hours=Decimal(30), splittable=True), weeks=0
    )
    assert len(later) == 2
    assert all(p.explanation.get(explain.ENGINE_LATER) for p in later)
    assert all("engine" not in p.explanation for p in later)

    [own] = [p for p in later if p.factory_id == mine.id]
    browser.login(mine.owner)
    page = browser.get(f"/proposals/{own.id}").get_data(as_text=True)
    assert 'id="engine-explanation"' in page and "12 of the 30 hours" in page
    db_session.expire_all()
    kept = db_session.get(Proposal, own.id).explanation
    assert explain.ENGINE_LATER not in kept
    run = db_session.get(MatchRun, own.match_run_id)
    job = f"line-{own.order_line_id}"
    [job_data] = [j for j in run.problem["jobs"] if j["id"] == job]
    at_once = RunExplainer(run.problem, run.plan).explain(job)
    assert kept["engine"] == explain.with_prices(at_once, job_data)
    api = browser.get("/api/v1/proposals").get_json()["proposals"]
    assert [p["explanation"]["engine"]["chosen"][0]["hours"] for p in api] == [12]
    assert all(explain.ENGINE_LATER not in p["explanation"] for p in api)
