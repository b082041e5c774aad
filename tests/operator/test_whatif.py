"""What-if outages: the re-plan reads only; applying closes capacity and re-matches;
bad input names its field (pages and the command line)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.capacity.weeks import monday_of, week_label
from factories.models import CapacityBucket, Factory, utcnow
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.operator.errors import OperatorError
from marketplace.operator.whatif.service import what_if
from marketplace.operator.whatif.target import outage_of
from marketplace.orders.models import (
    MatchRun,
    MatchRunKind,
    MatchRunOrder,
    Order,
    OrderState,
    Proposal,
    ProposalSlot,
    ProposalState,
)

TABLES = (
    "capacity_bucket", "proposal", "proposal_slot", "purchase_order", "match_run",
    "match_run_order", "factory", "notification",
)  # fmt: skip


def snapshot(session: Session) -> dict[str, list[tuple]]:
    session.flush()
    return {
        table: [tuple(row) for row in session.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1"))]
        for table in TABLES
    }


def busiest_factory(session: Session) -> int:
    """The factory holding the most pending hours of proposed orders."""
    rows = session.exec(
        select(Proposal.factory_id, sa.func.sum(Proposal.hours))
        .join(Order, col(Order.id) == col(Proposal.order_id))
        .where(Proposal.state == ProposalState.PENDING, Order.state == OrderState.PROPOSED)
        .group_by(col(Proposal.factory_id))
        .order_by(sa.func.sum(Proposal.hours).desc(), col(Proposal.factory_id))
    ).all()
    assert rows, "the demo cluster has pending proposals"
    return rows[0][0]


def test_a_what_if_changes_nothing(cluster):
    factory_id = busiest_factory(cluster)
    before = snapshot(cluster)
    today = utcnow().date()
    outage = outage_of(cluster, today, factory=str(factory_id))
    result = what_if(cluster, outage, today, time_limit_s=2, workers=1)
    assert snapshot(cluster) == before
    answer = result.as_json()
    for key in ("affected_orders", "fill_before", "fill_after", "cost_change", "unsaved_orders"):
        assert key in answer
    assert answer["affected_orders"]
    assert answer["fill_lost"] < answer["fill_before"]
    assert answer["fill_lost"] <= answer["fill_after"] <= answer["fill_before"] + 1e-9
    # No hours land on the lost factory in the lost weeks.
    periods = {week_label(w) for w in outage.weeks}
    for a in result.plan["assignments"] if result.plan else []:
        assert not (a["factory"].startswith(f"factory-{factory_id}/") and a["period"] in periods)
    # What the pick-up lists is what moved.
    assert all(h > 0 for h in result.pickup.values())
    assert factory_id not in result.pickup


def test_the_page_runs_a_what_if_and_keeps_nothing(browser, make_member, cluster):
    operator = make_member(OrganizationKind.OPERATOR, Role.OPERATOR)
    browser.login(operator)
    factory = cluster.get(Factory, busiest_factory(cluster))
    before = snapshot(cluster)
    page = browser.get("/operator/whatif", query_string={"factory": factory.global_id})
    text = page.get_data(as_text=True)
    assert page.status_code == 200, text
    assert 'id="whatif-result"' in text and 'id="affected-orders"' in text
    assert 'id="apply-form"' in text
    cluster.expire_all()
    assert snapshot(cluster) == before


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"factory": "999999"}, "factory", "no factory 999999"),
        ({"factory": "urn:factoryweb:factory:nope"}, "factory", "no factory"),
        ({"region": "Atlantis"}, "region", "no factory in the region Atlantis"),
        ({"factory": "1", "region": "x"}, "factory", "either a factory or a region"),
        ({"factory": "1", "from_week": "2031-W02", "to_week": "2031-W01"}, "to_week", "before"),
        ({"factory": "1", "to_week": "2399-W01"}, "to_week", "beyond the calendar"),
        ({"factory": "1", "from_week": "2020-W01"}, "from_week", "this week"),
        ({"factory": "1", "from_week": "next tuesday"}, "from_week", "not an ISO week"),
    ],
)
def test_bad_input_names_the_field(browser, make_member, cluster, query, field, words):
    operator = make_member(OrganizationKind.OPERATOR, Role.OPERATOR)
    browser.login(operator)
    page = browser.get("/operator/whatif", query_string=query)
    text = page.get_data(as_text=True)
    assert page.status_code == 400
    errors = text.split(f'id="{field}-errors"')[1].split("</ul>")[0]
    assert words in errors
    with pytest.raises(OperatorError) as raised:
        outage_of(cluster, utcnow().date(), **query)
    assert raised.value.field == field or field in {f for f, _ in raised.value.problems}


def hit_proposals(session: Session, factory_id: int, first, last) -> list[tuple[Proposal, str]]:
    rows = session.exec(
        select(Proposal, Order.state)
        .join(Order, col(Order.id) == col(Proposal.order_id))
        .join(ProposalSlot, col(ProposalSlot.proposal_id) == col(Proposal.id))
        .join(CapacityBucket, col(CapacityBucket.id) == col(ProposalSlot.bucket_id))
        .where(
            CapacityBucket.factory_id == factory_id,
            CapacityBucket.point_in_time >= first,
            CapacityBucket.point_in_time <= last,
            col(Proposal.state).in_((ProposalState.PENDING, ProposalState.ACCEPTED)),
        )
    ).all()
    return list({p.id: (p, state) for p, state in rows}.values())


def test_applying_closes_the_weeks_and_rematches_the_work(browser, make_member, cluster):
    operator = make_member(OrganizationKind.OPERATOR, Role.OPERATOR)
    browser.login(operator)
    this_week = monday_of(utcnow().date())
    last = this_week + timedelta(weeks=7)

    def kinds(factory_id: int) -> set[str]:
        return {s for _, s in hit_proposals(cluster, factory_id, this_week, last)}

    # The factory whose loss hits orders of the most kinds, proposed and unpaid among them.
    factory_id = max(
        {p.factory_id for p in cluster.exec(select(Proposal)).all()},
        key=lambda f: (
            kinds(f) >= {OrderState.PROPOSED, OrderState.AWAITING_PAYMENT},
            len(kinds(f)),
            -f,
        ),
    )
    hit = hit_proposals(cluster, factory_id, this_week, last)
    states = {s for _, s in hit}
    assert {OrderState.PROPOSED, OrderState.AWAITING_PAYMENT} <= states, states
    runs_before = cluster.exec(select(sa.func.max(MatchRun.id))).one() or 0
    booked_before = cluster.exec(
        select(sa.func.sum(CapacityBucket.booked_hours)).where(
            CapacityBucket.factory_id == factory_id,
            CapacityBucket.point_in_time >= this_week,
            CapacityBucket.point_in_time <= last,
        )
    ).one()
    response = browser.form(
        "/operator/whatif/apply",
        {
            "factory": str(factory_id),
            "from_week": week_label(this_week),
            "to_week": week_label(last),
        },
    )
    assert response.status_code == 303
    cluster.expire_all()
    moved = set()
    for proposal, state in hit:
        cluster.refresh(proposal)
        order = cluster.get(Order, proposal.order_id)
        if state in (OrderState.PROPOSED, OrderState.AWAITING_PAYMENT, OrderState.CONFIRMED):
            # Pending work is superseded; accepted work, paid or not, withdrawn.
            assert proposal.state in (ProposalState.SUPERSEDED, ProposalState.WITHDRAWN)
            assert order.state == OrderState.MATCHING
            moved.add(order.id)
        else:  # in production: left for the operator
            assert proposal.state == ProposalState.ACCEPTED
            assert order.state == state
    buckets = cluster.exec(
        select(CapacityBucket).where(
            CapacityBucket.factory_id == factory_id,
            CapacityBucket.point_in_time >= this_week,
            CapacityBucket.point_in_time <= last,
        )
    ).all()
    assert buckets and all(b.maximum_hours == b.booked_hours for b in buckets)
    assert all(b.held_hours == Decimal(0) for b in buckets)
    # The booked hours fell by exactly the hours of the work taken off.
    taken_off = sum(
        (
            slot.hours
            for slot, bucket in cluster.exec(
                select(ProposalSlot, CapacityBucket)
                .join(CapacityBucket, col(CapacityBucket.id) == col(ProposalSlot.bucket_id))
                .where(col(ProposalSlot.proposal_id).in_([p.id for p, _ in hit]))
            ).all()
            if bucket.factory_id == factory_id
            and this_week <= bucket.point_in_time <= last
            and cluster.get(Proposal, slot.proposal_id).state
            in (ProposalState.SUPERSEDED, ProposalState.WITHDRAWN)
        ),
        Decimal(0),
    )
    assert taken_off > 0
    assert booked_before - sum((b.booked_hours for b in buckets), Decimal(0)) == taken_off
    run = cluster.exec(select(MatchRun).where(col(MatchRun.id) > runs_before)).one()
    assert run.kind == MatchRunKind.REMATCH
    assert (
        set(
            cluster.exec(select(MatchRunOrder.order_id).where(MatchRunOrder.match_run_id == run.id))
        )
        == moved
    )


def test_the_command_line(app, cluster):
    runner = app.test_cli_runner()
    factory_id = busiest_factory(cluster)
    before = snapshot(cluster)
    result = runner.invoke(
        args=[
            "whatif",
            "--factory",
            str(factory_id),
            "--json",
            "--time-limit",
            "2",
            "--workers",
            "1",
        ]
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert {"affected_orders", "fill_before", "fill_after", "cost_change", "unsaved_orders"} <= set(
        answer
    )
    cluster.expire_all()
    assert snapshot(cluster) == before
    bad = runner.invoke(args=["whatif", "--region", "Atlantis"])
    assert bad.exit_code == 2 and "region" in bad.output
    bad = runner.invoke(
        args=[
            "whatif",
            "--factory",
            str(factory_id),
            "--from-week",
            "2031-W05",
            "--to-week",
            "2031-W01",
        ]
    )
    assert bad.exit_code == 2 and "to_week" in bad.output
    report = runner.invoke(args=["network", "report", "--json", "--time-limit", "2"])
    assert report.exit_code == 0, report.output
    data = json.loads(report.output)
    for key in ("completeness", "smoothness", "control", "recovery"):
        assert 0 <= data[key] <= 1
    assert data["processes"]


def test_a_region_takes_all_its_factories_offline(cluster):
    today = utcnow().date()
    region = cluster.exec(select(Factory.region).order_by(Factory.region)).first()
    outage = outage_of(cluster, today, region=region, from_week=week_label(monday_of(today)))
    expected = cluster.exec(
        select(Factory.id).where(Factory.region == region, Factory.status != "suspended")
    ).all()
    assert sorted(outage.factory_ids) == sorted(expected) and len(outage.weeks) == 12
    before = snapshot(cluster)
    result = what_if(cluster, outage, today, time_limit_s=2, workers=1)
    assert snapshot(cluster) == before
    answer = result.as_json()
    for currency, change in answer["cost_change"].items():
        assert change == answer["cost_after"].get(currency, 0) - answer["cost_before"].get(
            currency, 0
        )
    assert not set(result.pickup) & set(outage.factory_ids)
