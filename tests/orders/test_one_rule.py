"""One rule, one place: the buyer's search and matching eligibility agree on the part
envelope and on distance, and a price is the same on the proposal, in the run's problem
and in the demo."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import select

from factories.fit import distance_km, lead_weeks, price_minor
from factories.models import Capability, utcnow
from factories.search.filters import SearchFilters
from factories.search.service import search_factories
from marketplace.orders.models import MatchRun, OrderLine, Proposal
from marketplace.orders.posting.service import create_order
from marketplace.orders.runs.problem import build_problem, capacity_line_id
from marketplace.tools.demo.data import DemoSpec
from marketplace.tools.demo.seed import seed_marketplace
from tests.orders.conftest import STUTTGART, line, order_input, principal
from tests.orders.test_proposals import matched


def test_a_part_that_fits_only_rotated_is_found_by_search_and_by_matching(
    db_session, make_shop, buyer
):
    # The part is 200 x 100 x 50 mm; the machine takes it only lying on its side.
    rotated = make_shop(envelope=(60, 250, 120))
    too_small = make_shop(envelope=(150, 150, 150))
    db_session.commit()
    today = utcnow().date()
    page = search_factories(
        db_session,
        SearchFilters(
            process="milling_3axis", min_length_mm=200, min_width_mm=100, min_height_mm=50
        ),
        today,
    )
    found = {r.factory_id for r in page.items}
    assert rotated.id in found and too_small.id not in found

    order = create_order(db_session, principal(db_session, buyer), order_input(line()), submit=True)
    built = build_problem(db_session, [order], today, time_limit_s=1)
    [job] = built.problem["jobs"]
    options = {o["factory"] for o in job["options"]}
    assert capacity_line_id(rotated.id, "milling_3axis") in options
    assert capacity_line_id(too_small.id, "milling_3axis") not in options


def test_search_distance_and_shipping_time_agree(db_session, make_shop, buyer):
    milan = make_shop(location=(45.46, 9.19))
    db_session.commit()
    today = utcnow().date()
    [result] = [
        r
        for r in search_factories(
            db_session,
            SearchFilters(near_latitude=STUTTGART[0], near_longitude=STUTTGART[1], per_page=100),
            today,
        ).items
        if r.factory_id == milan.id
    ]
    order = create_order(db_session, principal(db_session, buyer), order_input(line()), submit=True)
    built = build_problem(db_session, [order], today, time_limit_s=1)
    [candidate] = [
        c for c in built.candidates[built.problem["jobs"][0]["id"]].values()
        if c.factory_id == milan.id
    ]  # fmt: skip
    exact = distance_km(45.46, 9.19, *STUTTGART)
    assert result.distance_km == candidate.distance_km == round(exact, 1)
    [option] = [
        o
        for o in built.problem["jobs"][0]["options"]
        if o["factory"] == capacity_line_id(milan.id, "milling_3axis")
    ]
    assert option["lead_periods"] == lead_weeks(result.distance_km) == lead_weeks(exact)


def test_a_price_is_the_same_on_the_proposal_in_the_problem_and_in_the_demo(
    db_session, make_shop, buyer, dispatcher, database
):
    # 12.35 h at 33.33 an hour is 411.6255: half up to 411.63, where truncating gives
    # 411.62 and a float product may land either way.
    shop = make_shop(hours=40, rate_minor=3333)
    _, [proposal] = matched(db_session, dispatcher, database, buyer, line(hours=Decimal("12.35")))
    assert proposal.price_minor == price_minor(Decimal("12.35"), 3333) == 41163
    run = db_session.get(MatchRun, proposal.match_run_id)
    [option] = [
        o
        for o in run.problem["jobs"][0]["options"]
        if o["factory"] == capacity_line_id(shop.id, "milling_3axis")
    ]
    assert option["price"] == proposal.price_minor

    seed_marketplace(db_session, DemoSpec(factories=15, orders=40, weeks=4, seed=5, logins=False))
    demo = db_session.exec(
        select(Proposal, Capability)
        .join(OrderLine, OrderLine.id == Proposal.order_line_id)
        .join(
            Capability,
            (Capability.factory_id == Proposal.factory_id)
            & (Capability.process_code == OrderLine.process_code),
        )
        .where(Proposal.match_run_id != run.id)
    ).all()
    assert demo
    assert [p.price_minor for p, _ in demo] == [
        price_minor(p.hours, c.hourly_rate_minor) for p, c in demo
    ]
