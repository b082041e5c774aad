"""The matcher uses credit: the minimum stays a hard filter, and between comparable
offers the more reliable shop wins (the engine compares risk-adjusted costs), while the
proposal carries the real price."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import select

from factories.credit.score import RISK_WEIGHT, risk_adjusted
from marketplace.orders.models import MatchRun, Proposal
from marketplace.orders.posting.service import create_order
from marketplace.orders.runs.service import request_matching
from marketplace.orders.workers.matching import execute_run
from tests.orders.conftest import line, order_input, principal


def place(db_session, dispatcher, database, buyer, **overrides):  # type: ignore[no-untyped-def]
    who = principal(db_session, buyer)
    order = create_order(
        db_session, who, order_input(line(hours=Decimal(30)), weeks=2, **overrides), submit=True
    )
    request_matching(db_session, who, order.id, 2)  # type: ignore[arg-type]
    db_session.commit()
    for run_id in dispatcher.take_runs():
        execute_run(database, run_id, workers=1)
    db_session.expire_all()
    return order, list(db_session.exec(select(Proposal).where(Proposal.order_id == order.id)))


def test_risk_adjustment():
    assert risk_adjusted(100_000, 1.0) == 100_000
    assert risk_adjusted(100_000, 0.7) == round(100_000 * (1 + RISK_WEIGHT * 0.3))
    assert risk_adjusted(100_000, 0.0) == 150_000


def test_the_more_reliable_shop_wins_at_a_slightly_higher_price(
    db_session, make_shop, buyer, dispatcher, database
):
    reliable = make_shop(rate_minor=5000, credit=0.95)
    cheap_but_shaky = make_shop(rate_minor=4800, credit=0.4)
    _, proposals = place(db_session, dispatcher, database, buyer)
    [proposal] = proposals
    assert proposal.factory_id == reliable.id
    # The buyer pays the real price: 30 h at 50.00.
    assert proposal.price_minor == 30 * 5000
    run = db_session.exec(select(MatchRun).order_by(MatchRun.id.desc())).first()  # type: ignore[union-attr]
    options = {o["factory"]: o for o in run.problem["jobs"][0]["options"]}
    shaky = next(o for k, o in options.items() if k.startswith(f"factory-{cheap_but_shaky.id}/"))
    assert shaky["price"] == 30 * 4800 and shaky["cost"] == risk_adjusted(30 * 4800, 0.4)
    assert proposal.explanation["risk_weight"] == RISK_WEIGHT


def test_a_much_cheaper_shop_still_wins(db_session, make_shop, buyer, dispatcher, database):
    make_shop(rate_minor=6000, credit=0.95)
    cheap = make_shop(rate_minor=3000, credit=0.6)
    _, [proposal] = place(db_session, dispatcher, database, buyer)
    assert proposal.factory_id == cheap.id


def test_the_minimum_credit_stays_a_hard_filter(db_session, make_shop, buyer, dispatcher, database):
    make_shop(rate_minor=1000, credit=0.5)
    enough = make_shop(rate_minor=9000, credit=0.8)
    _, [proposal] = place(db_session, dispatcher, database, buyer, min_credit=0.75)
    assert proposal.factory_id == enough.id
