"""The dashboard: figures from the database, CSV downloads, operators only."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from factories.capacity.weeks import monday_of, week_label
from factories.models import CapacityBucket, Factory, FactoryStatus, utcnow
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.orders.models import MatchRun, MatchRunOrder, MatchRunState, Order

OPERATOR_PAGES = [
    "/operator",
    "/operator/utilization.csv",
    "/operator/utilization-by-region.csv",
    "/operator/fill.csv",
    "/operator/runs.csv",
    "/operator/stale-factories.csv",
    "/operator/pending-factories.csv",
    "/operator/expiring-certifications.csv",
    "/operator/network",
    "/operator/network.csv",
    "/operator/whatif",
]


def test_utilization_csv_adds_up_the_buckets(browser, make_member, cluster):
    operator = make_member(OrganizationKind.OPERATOR, Role.OPERATOR)
    browser.login(operator)
    response = browser.get("/operator/utilization.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert rows and set(rows[0]) >= {
        "process", "week", "maximum_hours", "booked_hours", "held_hours", "free_hours"
    }  # fmt: skip
    expected: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    this_week = monday_of(utcnow().date())
    for bucket, status in cluster.exec(
        select(CapacityBucket, Factory.status).join(
            Factory, Factory.id == CapacityBucket.factory_id
        )
    ).all():
        weeks_ahead = (bucket.point_in_time - this_week).days // 7
        if status != FactoryStatus.VERIFIED or not 0 <= weeks_ahead < 12:
            continue
        sums = expected[(bucket.resource, week_label(bucket.point_in_time))]
        sums[0] += bucket.maximum_hours
        sums[1] += bucket.booked_hours
        sums[2] += bucket.held_hours
    found = {
        (r["process"], r["week"]): [
            Decimal(r["maximum_hours"]), Decimal(r["booked_hours"]), Decimal(r["held_hours"])
        ]
        for r in rows
    }  # fmt: skip
    assert {k: v for k, v in found.items() if any(v)} == dict(expected)
    for r in rows:
        assert Decimal(r["free_hours"]) == Decimal(r["maximum_hours"]) - Decimal(r["booked_hours"])
    # Every process x each of the 12 weeks.
    assert len(rows) == 12 * len({r["process"] for r in rows})


def test_dashboard_page_shows_every_table_in_both_languages(browser, make_member, cluster):
    operator = make_member(OrganizationKind.OPERATOR, Role.OPERATOR)
    browser.login(operator)
    page = browser.get("/operator").get_data(as_text=True)
    for element in (
        'id="chart-by-process"', 'id="chart-by-region"', 'id="chart-fill"', 'id="runs-table"',
        'id="stale-table"', 'id="pending-table"', 'id="expiring-table"', 'id="idle-this-week"',
        "/operator/static/plotly.min.js", "no-inline-styles",
    ):  # fmt: skip
        assert element in page, element
    pending = cluster.exec(select(Factory).where(Factory.status == FactoryStatus.PENDING)).all()
    assert pending and all(f.name in page for f in pending)
    browser.client.set_cookie("lang", "zh")
    chinese = browser.get("/operator").get_data(as_text=True)
    assert "集群利用率" in chinese and "下载 CSV" in chinese
    js = browser.get("/operator/static/plotly.min.js")
    body = js.get_data()
    js.close()
    assert js.status_code == 200 and js.mimetype == "text/javascript"
    assert b"plotly.js" in body[:200]


@pytest.mark.parametrize(
    ("kind", "role"),
    [
        (OrganizationKind.BUYER, Role.BUYER_MEMBER),
        (OrganizationKind.FACTORY, Role.FACTORY_OWNER),
        (OrganizationKind.FACTORY, Role.FACTORY_MEMBER),
    ],
)
def test_only_operators_see_operator_pages(browser, make_member, kind, role):
    member = make_member(kind, role)
    browser.login(member)
    for path in OPERATOR_PAGES:
        assert browser.get(path).status_code == 403, path
    token_form = {"factory": "1"}
    assert browser.form("/operator/whatif/apply", token_form).status_code == 403
    assert browser.form("/operator/network/refresh", {}).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client):
    for path in OPERATOR_PAGES:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path


def test_runs_show_fill_and_cost_against_the_bound(browser, make_member, cluster):
    order = cluster.exec(select(Order).order_by(Order.id)).first()
    finished = utcnow()
    run = MatchRun(
        state=MatchRunState.SUCCEEDED,
        started_at=finished - timedelta(seconds=4),
        finished_at=finished,
        plan={"status": "FEASIBLE", "objective": 125000, "bound": 100000, "assignments": [],
              "unassigned": [], "solve_s": 3.9, "fill": 0.875},
    )  # fmt: skip
    cluster.add(run)
    cluster.flush()
    cluster.add(MatchRunOrder(match_run_id=run.id, order_id=order.id))
    cluster.commit()
    operator = make_member(OrganizationKind.OPERATOR, Role.OPERATOR)
    browser.login(operator)
    rows = list(
        csv.DictReader(io.StringIO(browser.get("/operator/runs.csv").get_data(as_text=True)))
    )
    row = next(r for r in rows if r["run"] == str(run.id))
    assert row["fill"] == "0.8750" and row["cost_over_bound"] == "1.2500"
    assert float(row["duration_s"]) == 4.0 and row["orders"] == "1"
    assert row["currency"] == order.currency
    page = browser.get("/operator").get_data(as_text=True)
    assert "€1,250.00" in page and "€1,000.00" in page
