"""A run that leaves work unplaced says why, on the run's page and the order's, in the
buyer's terms and in both languages: which eligibility filter removed how many
factories, and the engine's reason for those that came through."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from html import unescape

from factories.models import utcnow
from marketplace.orders.models import MatchRun
from marketplace.orders.posting.service import create_order
from marketplace.orders.workers.matching import execute_run
from tests.orders.conftest import SHENZHEN, line, order_input, principal


def match(browser, db_session, buyer, dispatcher, database, data) -> tuple[int, int]:
    """Post `data`, match it from the order page, run the run: (order id, run id)."""
    order = create_order(db_session, principal(db_session, buyer), data, submit=True)
    db_session.commit()
    browser.login(buyer)
    response = browser.form(f"/orders/{order.id}/match", {"time_limit_s": "2"})
    assert response.status_code == 303
    [run_id] = dispatcher.take_runs()
    execute_run(database, run_id)
    return order.id, run_id


def pages(browser, order_id: int, run_id: int) -> tuple[str, str]:
    run_page = unescape(browser.get(f"/runs/{run_id}").get_data(as_text=True))
    order_page = unescape(browser.get(f"/orders/{order_id}").get_data(as_text=True))
    return run_page, order_page


def test_minimum_credit_that_excludes_every_factory_is_named(
    browser, db_session, make_shop, buyer, dispatcher, database
):
    make_shop(credit=0.5)
    make_shop(credit=0.6)
    order_id, run_id = match(
        browser, db_session, buyer, dispatcher, database, order_input(min_credit=0.9)
    )
    run = db_session.get(MatchRun, run_id)
    [entry] = run.outcome["unplaced"]
    credit = next(step for step in entry["funnel"] if step["filter"] == "credit")
    assert credit["removed"] == 2 and credit["left"] == 0

    run_page, order_page = pages(browser, order_id, run_id)
    sentence = "Your minimum credit score of 0.90 excludes all 2 qualified factories."
    for page in (run_page, order_page):
        assert "Why work was left unplaced" in page
        assert "Line 1 (CNC milling, 3-axis; Aluminium): 20 of 20 hours not placed." in page
        assert sentence in page
    browser.get("/lang/zh")
    run_page, order_page = pages(browser, order_id, run_id)
    for page in (run_page, order_page):
        assert "最低信用分 0.90 排除了全部 2 家符合条件的工厂。" in page
        assert sentence not in page


def test_full_factories_and_slow_shipping_are_told_apart(
    browser, db_session, make_shop, buyer, dispatcher, database
):
    make_shop(hours=0)  # no free hours at all
    make_shop(hours=0, name="Full too")
    make_shop(location=SHENZHEN, name="Far away")  # weeks of shipping, due in two
    data = order_input(weeks=1)
    order_id, run_id = match(browser, db_session, buyer, dispatcher, database, data)
    run_page, order_page = pages(browser, order_id, run_id)
    for page in (run_page, order_page):
        assert "2 qualified factories are full in week" in page
        assert "1 qualified factory cannot deliver by the due date with shipping." in page
        assert "Far away" not in page.split("Why work was left unplaced")[1]


def test_a_material_nobody_offers_and_a_currency_nobody_quotes(
    browser, db_session, make_shop, buyer, dispatcher, database
):
    make_shop(materials=("aluminium",))
    make_shop("turning", currency="CNY", materials=("steel",))
    data = order_input(
        line(material="titanium"),
        line(material="aluminium"),
        currency="CNY",
    )
    order_id, run_id = match(browser, db_session, buyer, dispatcher, database, data)
    run_page, _ = pages(browser, order_id, run_id)
    assert "No verified factory offers CNC milling, 3-axis in Titanium." in run_page
    assert (
        "No verified factory offering CNC milling, 3-axis in Aluminium quotes in "
        "Chinese Yuan (CNY)." in run_page
    )


def test_a_line_placed_in_part_says_what_stopped_the_rest(
    browser, db_session, make_shop, buyer, dispatcher, database
):
    make_shop(hours=[8, 0, 0, 0, 0, 0])
    data = order_input(
        line(hours=Decimal(20), splittable=True, certifications_required=["ISO9001"]),
        line(hours=Decimal(20), splittable=True),
        budget_minor=20 * 6000 * 2,
    )
    make_shop(hours=40, rate_minor=50000, name="Dear")  # over the budget
    order_id, run_id = match(browser, db_session, buyer, dispatcher, database, data)
    run_page, _ = pages(browser, order_id, run_id)
    assert (
        "No factory that can make the part holds ISO 9001 quality management valid on the due date."
        in run_page
    )
    assert "Line 2 (CNC milling, 3-axis; Aluminium): 12 of 20 hours not placed." in run_page
    assert "1 factory would cost more than your budget of €2,400.00." in run_page
    assert "1 factory took part of the line and has no more free hours in week" in run_page


def test_nothing_unplaced_says_nothing(browser, db_session, make_shop, buyer, dispatcher, database):
    make_shop()
    order_id, run_id = match(browser, db_session, buyer, dispatcher, database, order_input())
    assert db_session.get(MatchRun, run_id).outcome["unplaced"] == []
    run_page, order_page = pages(browser, order_id, run_id)
    assert "Why work was left unplaced" not in run_page + order_page


def test_a_passed_due_date_is_the_reason(
    browser, db_session, make_shop, buyer, dispatcher, database
):
    make_shop()
    order = create_order(db_session, principal(db_session, buyer), order_input(), submit=True)
    order.due_date = utcnow().date() - timedelta(days=14)
    db_session.commit()
    browser.login(buyer)
    browser.form(f"/orders/{order.id}/match", {"time_limit_s": "1"})
    [run_id] = dispatcher.take_runs()
    execute_run(database, run_id)
    run_page, _ = pages(browser, order.id, run_id)
    assert "The due date has passed: no factory can deliver in time any more." in run_page
