"""Lost work (issue 3, item 4): a factory that was an option for an order line and got
none of it sees the engine's binding reason for itself (credit below the minimum, no
capacity in the window, other work took its hours, shipping too slow, or more expensive
by how much), never who got the work or at what price; nobody else sees it."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from sqlmodel import select

import matching
from factories.errors import NotFound
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.orders.models import LostWork, MatchRun, Proposal
from marketplace.orders.posting.service import create_order, lines_of
from marketplace.orders.proposals import lost
from marketplace.orders.proposals.engine import RunExplainer, price_band
from marketplace.orders.proposals.service import decline
from marketplace.orders.runs.problem import capacity_line_id
from marketplace.orders.runs.service import request_matching, start_run
from marketplace.orders.workers.matching import execute_run
from matching import reasons
from tests.orders.conftest import SHENZHEN, line, order_input, principal


def run_matching(db_session, dispatcher, database, buyer, *lines, **kw):
    who = principal(db_session, buyer)
    order = create_order(db_session, who, order_input(*lines, **kw), submit=True)
    request_matching(db_session, who, order.id, 2)
    db_session.commit()
    run_all(db_session, dispatcher, database)
    return order


def run_all(db_session, dispatcher, database):
    runs = dispatcher.take_runs()
    for run_id in runs:
        execute_run(database, run_id, workers=1, seed=0)
    db_session.expire_all()
    return runs


def lost_of(db_session, shop, **kw):
    return lost.lost_work_of(db_session, principal(db_session, shop.owner), **kw)


def only_reason(db_session, shop):
    page = lost_of(db_session, shop)
    assert page.total == 1, [i.reasons for i in page.items]
    [item] = page.items
    return item, lost.reason_message(item.reason, item.order.currency)


@pytest.fixture
def contest(db_session, make_shop, buyer, dispatcher, database):
    """One line of 20 h due in two weeks (three weekly periods), minimum credit 0.5, and
    shops that could make it: the cheapest that fits gets it."""

    def run(*names):
        everyone = {
            "winner": lambda: make_shop(rate_minor=5000, hours=40),
            "pricey": lambda: make_shop(rate_minor=6000, hours=40),
            "shaky": lambda: make_shop(rate_minor=4000, hours=40, credit=0.3),
            "small": lambda: make_shop(rate_minor=4000, hours=2),
            "far": lambda: make_shop(rate_minor=4000, hours=40, location=SHENZHEN),
        }
        shops = {name: everyone[name]() for name in names}
        order = run_matching(
            db_session,
            dispatcher,
            database,
            buyer,
            line(hours=Decimal(20)),
            weeks=2,
            min_credit=0.5,
        )
        return order, shops

    return run


@pytest.fixture
def duel(contest):
    """The contest between the winner and one shop that lost on price."""
    return contest("winner", "pricey")


def test_each_losing_factory_sees_its_own_binding_reason(db_session, contest):
    order, shops = contest("winner", "pricey", "shaky", "small", "far")
    run = db_session.get(MatchRun, order_run(db_session, order))
    first, *_, last = run.problem["periods"]

    # More expensive: where its price stood (20 h at 60.00 against 50.00 is a fifth
    # above), never by how much, which would give away the winner's price.
    item, message = only_reason(db_session, shops["pricey"])
    assert item.order.id == order.id and item.factory.id == shops["pricey"].id
    assert item.reason["reason"] == reasons.MORE_EXPENSIVE
    assert item.reason["price_band"] == "10_to_30_percent"
    rank, count = item.reason["price_rank"], item.reason["price_of"]
    assert 2 <= rank <= count and "extra_cost_minor" not in item.reason
    assert str(message) == (
        f"Your price ranked {rank} of {count}. "
        "It was a tenth to three tenths above the price that got the work. "
        "Prices are compared after adjusting for credit: price × (1 + 0.5 × (1 − credit))."
    )

    # Credit below the buyer's minimum.
    item, message = only_reason(db_session, shops["shaky"])
    assert item.reason == {
        "resource": "milling_3axis",
        "reason": reasons.CREDIT_BELOW_MINIMUM,
        "credit": 0.3,
        "min_credit": 0.5,
    }
    assert str(message) == "Your credit score 0.3 is below the buyer's minimum of 0.5."

    # No capacity in the window: 2 h a week for three weeks, 20 h in one piece.
    item, message = only_reason(db_session, shops["small"])
    assert item.reason["reason"] == reasons.NO_CAPACITY
    assert item.reason["window"] == [first, last]
    assert item.reason["free_hours"] == 6 and item.reason["needed_hours"] == 20
    assert str(message) == (
        f"You had 6 free hours of this process from {first} to {last}; "
        "the work needs 20 hours at one factory."
    )

    # Shipping from Shenzhen takes three weeks; the work is due in two.
    item, message = only_reason(db_session, shops["far"])
    assert item.reason["reason"] == reasons.SHIPPING_TOO_SLOW
    assert item.reason["lead_weeks"] == 3 and item.reason["due_week"] == last
    assert str(message) == (
        "Shipping to the delivery place takes 3 week(s), too long to deliver by the due "
        f"week {last}."
    )

    # The winner lost nothing; its own explanation counts the four factories with enough
    # credit (two of them cheaper; the one below the minimum is not counted).
    assert lost_of(db_session, shops["winner"]).total == 0
    [won] = db_session.exec(select(Proposal).where(Proposal.order_id == order.id)).all()
    assert won.factory_id == shops["winner"].id
    assert won.explanation["eligible_factories"] == 4 and won.explanation["price_rank"] == 3


def order_run(db_session, order):
    from marketplace.orders.runs.service import latest_run

    return latest_run(db_session, order.id).id


def test_a_factory_whose_hours_other_work_took_sees_that(
    db_session, make_shop, buyer, dispatcher, database
):
    # One week: the cheap shop has room for one of the two lines, the dear one for both.
    cheap = make_shop(rate_minor=5000, hours=30)
    dear = make_shop(rate_minor=9000, hours=60)
    run_matching(
        db_session,
        dispatcher,
        database,
        buyer,
        line(hours=Decimal(20)),
        line(hours=Decimal(20)),
        weeks=0,
    )
    item, message = only_reason(db_session, cheap)
    [week] = db_session.get(MatchRun, item.match_run_id).problem["periods"]
    assert item.reason["reason"] == reasons.NO_FREE_CAPACITY
    assert item.reason["free_hours"] == 10 and item.reason["needed_hours"] == 20
    assert str(message) == (
        f"Other work in the same run left you 10 free hours from {week} to {week}; "
        "the work needs 20 hours at one factory."
    )
    item, message = only_reason(db_session, dear)
    assert item.reason["price_rank"] == 2 and item.reason["price_of"] == 2
    assert "EUR" not in str(message) and "Your price ranked 2 of 2." in str(message)


def test_the_latest_run_of_a_line_decides(db_session, make_shop, buyer, dispatcher, database):
    cheap = make_shop(hours=30, rate_minor=5000)
    middle = make_shop(hours=30, rate_minor=6000)
    dear = make_shop(hours=30, rate_minor=9000)
    run_matching(
        db_session,
        dispatcher,
        database,
        buyer,
        line(hours=Decimal(20)),
        line(hours=Decimal(25)),
        weeks=0,
    )
    # One week of 30 h each: the 25 h line goes to the cheap shop, the 20 h one to the
    # middle one (245,000 in all, against 250,000 the other way round).
    proposals = {p.factory_id: p for p in db_session.exec(select(Proposal))}
    big, small = proposals[cheap.id].order_line_id, proposals[middle.id].order_line_id
    assert {i.line.id for i in lost_of(db_session, dear).items} == {big, small}
    [lost_big] = lost_of(db_session, middle).items
    assert lost_big.line.id == big and lost_big.reason["reason"] == reasons.NO_FREE_CAPACITY

    # The cheap shop declines; the re-match gives its line to the dear shop and keeps
    # the middle shop's proposal.
    decline(db_session, principal(db_session, cheap.owner), proposals[cheap.id].id)
    db_session.commit()
    [rematch] = run_all(db_session, dispatcher, database)
    [still] = lost_of(db_session, dear).items
    assert still.line.id == small and still.match_run_id == rematch
    # Its hours now hold the other line: what binds is room, no longer the price.
    assert still.reason["reason"] == reasons.NO_FREE_CAPACITY and still.reason["free_hours"] == 5
    [again] = lost_of(db_session, middle).items
    assert again.line.id == big and again.match_run_id == rematch
    assert again.reason["free_hours"] == 10
    # The shop that declined is no option for its line any more; on the other line it
    # had room and the lower price, but the re-match keeps standing proposals.
    [other] = lost_of(db_session, cheap).items
    assert other.line.id == small and other.reason["reason"] == reasons.NOT_NEEDED


def test_large_runs_are_explained_to_winners_at_once_and_to_losers_on_demand(
    db_session, make_shop, buyer, dispatcher, database
):
    cheap = make_shop(rate_minor=5000, hours=400)
    dear = make_shop(rate_minor=5500, hours=400)
    who = principal(db_session, buyer)
    orders = [
        create_order(
            db_session, who, order_input(*[line(hours=Decimal(2))] * 40, weeks=1), submit=True
        )
        for _ in range(3)
    ]
    start_run(db_session, orders, organization_id=buyer.organization.id, time_limit_s=3)
    db_session.commit()
    [run_id] = run_all(db_session, dispatcher, database)
    # More jobs than runs once were given the engine's explanation for (100).
    assert len(db_session.get(MatchRun, run_id).problem["jobs"]) == 120
    won = db_session.exec(select(Proposal).where(Proposal.match_run_id == run_id)).all()
    assert len(won) == 120 and {p.factory_id for p in won} == {cheap.id}
    for proposal in won:
        engine = proposal.explanation["engine"]
        assert engine["job"] == f"line-{proposal.order_line_id}"
        assert [c["factory"] for c in engine["chosen"]] == [
            capacity_line_id(cheap.id, "milling_3axis")
        ]
        assert [(c["factory"], c["reason"]) for c in engine["not_chosen"]] == [
            (capacity_line_id(dear.id, "milling_3axis"), reasons.MORE_EXPENSIVE)
        ]

    page = lost_of(db_session, dear, page=2, per_page=50)
    assert (page.total, page.pages, len(page.items)) == (120, 3, 50)
    assert {i.reason["reason"] for i in page.items} == {reasons.MORE_EXPENSIVE}
    assert {(i.reason["price_rank"], i.reason["price_of"]) for i in page.items} == {(2, 2)}
    assert len({i.reason["price_band"] for i in page.items}) == 1
    # Only the rows shown were explained, and they keep their reasons.
    db_session.expire_all()
    rows = db_session.exec(select(LostWork).where(LostWork.factory_id == dear.id)).all()
    explained = {r.id for r in rows if r.reasons is not None}
    assert explained == {i.id for i in page.items}


def test_the_part_of_a_problem_explains_a_job_as_the_whole_problem_does():
    """RunExplainer explains against the job's part of the problem; the reasons it gives
    are those of matching.explain on the whole problem."""
    rng = random.Random(7)
    periods = ["2030-W01", "2030-W02", "2030-W03"]
    lines = [capacity_line_id(f, "milling_3axis") for f in range(1, 9)]
    factories = [
        {
            "id": name,
            "credit": rng.choice((0.3, 0.8, 0.95)),
            "capacity": [
                {"resource": "hours", "period": p, "hours": rng.choice((0, 8, 15, 30))}
                for p in periods
            ],
        }
        for name in lines
    ]
    jobs = []
    for j in range(1, 41):
        options = rng.sample(lines, rng.randint(2, 6))
        jobs.append(
            {
                "id": f"line-{j}",
                "resource": "hours",
                "hours": rng.choice((4.0, 10.0, 17.5)),
                "release_period": periods[0],
                "due_period": rng.choice(periods),
                "min_credit": rng.choice((0.0, 0.0, 0.5)),
                "splittable": rng.random() < 0.4,
                "options": [
                    {
                        "factory": f,
                        "cost": round(rng.uniform(100, 900)),
                        "lead_periods": rng.choice((0, 0, 1, 2)),
                    }
                    for f in options
                ],
            }
        )
    problem = {"version": 1, "periods": periods, "factories": factories, "jobs": jobs}
    whole = matching.load_problem(problem)
    plan = matching.solve(whole, 2, 1, 0)
    explainer = RunExplainer(problem, plan.model_dump(mode="json"))
    compared = set()
    for job in jobs:
        full = matching.explain(whole, plan, job["id"])
        for entry in full["not_chosen"]:
            factory_id = int(entry["factory"].split("/")[0].removeprefix("factory-"))
            [mine] = explainer.reasons(job["id"], factory_id)
            assert mine["reason"] == entry["reason"], (job["id"], entry)
            if "extra_cost" in entry and entry["reason"] == reasons.MORE_EXPENSIVE:
                assert "extra_cost_minor" not in mine
                assert mine["price_band"] == price_band(entry["option_cost"], entry["extra_cost"])
            if entry["reason"] == reasons.NO_FREE_CAPACITY:
                assert mine["free_hours"] == pytest.approx(max(0, entry["free_hours"]), abs=0.01)
            compared.add(entry["reason"])
    assert {
        reasons.CREDIT_BELOW_MINIMUM,
        reasons.SHIPPING_TOO_SLOW,
        reasons.NO_CAPACITY,
        reasons.MORE_EXPENSIVE,
    } <= compared


def test_nobody_else_sees_a_factorys_lost_work(db_session, duel, buyer, make_member):
    _, shops = duel
    [item] = lost_of(db_session, shops["pricey"]).items
    # Another member of the same factory organization sees it too.
    colleague = make_member(
        OrganizationKind.FACTORY, Role.FACTORY_MEMBER, shops["pricey"].owner.organization
    )
    assert lost.lost_work_for(db_session, principal(db_session, colleague), item.id).id == item.id
    for someone in (shops["winner"].owner, buyer):
        with pytest.raises(NotFound):
            lost.lost_work_for(db_session, principal(db_session, someone), item.id)
    with pytest.raises(NotFound):
        lost.lost_work_of(db_session, principal(db_session, buyer))
    operator = make_member(OrganizationKind.OPERATOR, Role.OPERATOR)
    with pytest.raises(NotFound):
        lost.lost_work_for(db_session, principal(db_session, operator), item.id)


# --- web and API ---


def test_the_lost_work_page_in_english_and_chinese(browser, db_session, duel):
    _, shops = duel
    browser.login(shops["pricey"].owner)
    proposals = browser.get("/proposals").get_data(as_text=True)
    assert 'href="/lost-work"' in proposals
    page = browser.get("/lost-work")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Your price ranked 2 of 2." in html and "three tenths above" in html
    assert shops["winner"].factory.name not in html and "200.00" not in html
    [item] = lost_of(db_session, shops["pricey"]).items
    detail = browser.get(f"/lost-work/{item.id}").get_data(as_text=True)
    assert "Your price ranked 2 of 2." in detail and "200.00" not in detail
    assert shops["winner"].factory.name not in detail

    browser.get("/lang/zh")
    html = browser.get("/lost-work").get_data(as_text=True)
    assert "未获得的工作" in html and "您的报价在 2 家中排第 2。" in html
    assert browser.get("/lost-work?page=0").status_code == 400
    assert browser.get("/lost-work?page=x").status_code == 400
    assert browser.get("/lost-work?page=12345678901").status_code == 400
    assert "未获得的工作" in browser.get("/lost-work?page=7").get_data(as_text=True)


def test_other_organizations_get_404_on_the_pages(new_browser, db_session, duel, buyer):
    _, shops = duel
    [item] = lost_of(db_session, shops["pricey"]).items
    for someone in (shops["winner"].owner, buyer):
        other = new_browser()
        other.login(someone)
        assert other.get(f"/lost-work/{item.id}").status_code == 404
        assert other.get(f"/api/v1/lost-work/{item.id}").status_code == 404
    shopper = new_browser()
    shopper.login(buyer)
    assert shopper.get("/lost-work").status_code == 404
    assert shopper.get("/api/v1/lost-work").status_code == 404


def test_the_api_lists_lost_work_for_people_and_machine_clients(browser, client, db_session, duel):
    from marketplace.accounts.oauth import create_client

    _, shops = duel
    pricey = shops["pricey"]
    browser.login(pricey.owner)
    body = browser.get("/api/v1/lost-work").get_json()
    assert (body["total"], body["page"], body["per_page"], body["pages"]) == (1, 1, 20, 1)
    [entry] = body["results"]
    assert entry["factory_id"] == pricey.id and entry["reason"]["reason"] == "more_expensive"
    assert (entry["reason"]["price_rank"], entry["reason"]["price_of"]) == (2, 2)
    assert entry["reason"]["price_band"] == "10_to_30_percent"
    assert "extra_cost_minor" not in entry["reason"]
    assert entry["reason"]["text"].startswith("Your price ranked 2 of 2.")
    assert entry["reasons"] == [entry["reason"]]
    text = str(body)
    winner = shops["winner"]
    assert winner.factory.name not in text and f"factory-{winner.id}/" not in text
    assert "100000" not in text  # the winner's price
    assert browser.get(f"/api/v1/lost-work/{entry['id']}").get_json() == entry
    assert browser.get("/api/v1/lost-work?per_page=0").status_code == 422
    assert browser.get("/api/v1/lost-work?page=2").get_json()["results"] == []
    far_beyond = browser.get(f"/api/v1/lost-work?page={10**15}").get_json()
    assert far_beyond["total"] == 1 and far_beyond["results"] == []

    def token(scopes):
        machine, secret = create_client(db_session, pricey.owner.organization, "MES", scopes)
        db_session.commit()
        response = client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(machine.client_id, secret),
        )
        return {"Authorization": f"Bearer {response.get_json()['access_token']}"}

    reader = client.get("/api/v1/lost-work", headers=token(["proposals:read"]))
    assert reader.status_code == 200 and reader.get_json()["results"][0]["id"] == entry["id"]
    writer = client.get("/api/v1/lost-work", headers=token(["capacity:write"]))
    assert writer.status_code == 403


def test_a_run_without_a_usable_problem_says_so(browser, db_session, make_shop, buyer):
    """Seeded demo runs store no real problem: the page says there is no explanation."""
    from factories.models import utcnow

    shop = make_shop()
    order = create_order(db_session, principal(db_session, buyer), order_input(), submit=True)
    seeded = MatchRun(state="succeeded", problem={"version": 1, "note": "seeded"}, plan=None)
    db_session.add(seeded)
    db_session.flush()
    row = LostWork(
        factory_id=shop.id,
        order_line_id=lines_of(db_session, order.id)[0].id,
        match_run_id=seeded.id,
        created_at=utcnow(),
    )
    db_session.add(row)
    db_session.commit()
    [item] = lost_of(db_session, shop).items
    assert item.reason == {"reason": reasons.UNEXPLAINED}
    browser.login(shop.owner)
    page = browser.get(f"/lost-work/{row.id}")
    assert page.status_code == 200
    assert "No explanation is available for this matching run." in page.get_data(as_text=True)
    body = browser.get(f"/api/v1/lost-work/{row.id}").get_json()
    assert body["reason"]["reason"] == "unexplained" and body["reason"]["resource"] is None
