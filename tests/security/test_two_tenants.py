"""Two tenants of each kind (buyers, factories with their people and machine clients)
through the real flows, in development and in production configuration: matching, a
machine client accepting, payment, production with documents, a dispute settled with a
refund, payouts and ratings. At every step the other tenant of the same kind, and the
competing factory, learn nothing they should not (the probe's findings stay closed)."""

from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass
from datetime import timedelta

import pytest

from factories.models import utcnow
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.accounts.oauth import SCOPES, create_client
from marketplace.orders.workers.matching import execute_run
from tests.conftest import Browser
from tests.orders.conftest import Shop
from tests.security.conftest import PRODUCTION_URL, Site, SiteClient

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(params=["development", "production"])
def site(request, settings, make_app, tmp_path) -> Site:
    """The application in one configuration, its background work run by the test."""
    config = {"ORDERS_RUNNER": "manual", "ORDERS_UPLOAD_FOLDER": str(tmp_path / "uploads")}
    if request.param == "production":
        app = make_app(
            dataclasses.replace(settings, env="production"), PUBLIC_URL=PRODUCTION_URL, **config
        )
        base_url = PRODUCTION_URL
    else:
        app = make_app(dataclasses.replace(settings, env="development"), **config)
        base_url = "http://localhost"
    app.test_client_class = SiteClient
    return Site(request.param, app, base_url)


@dataclass
class Tenant:
    shop: Shop
    person: Browser
    machine: dict[str, str]  # the Authorization header of its machine client


def machine_header(site: Site, db_session, shop: Shop) -> dict[str, str]:  # type: ignore[no-untyped-def]
    client, secret = create_client(db_session, shop.owner.organization, "MES", list(SCOPES))
    db_session.commit()
    answer = site.client().post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, secret),
    )
    assert answer.status_code == 200, answer.get_json()
    return {"Authorization": f"Bearer {answer.get_json()['access_token']}"}


def signed_in(site: Site, member) -> Browser:  # type: ignore[no-untyped-def]
    browser = site.browser()
    browser.login(member)
    return browser


def run_background(site: Site) -> None:
    """What the workers would do: matching runs, then gateway calls."""
    dispatcher = site.app.extensions["factoryweb.orders.dispatcher"]
    database = site.app.extensions["factoryweb.db"]
    for run_id in dispatcher.take_runs():
        execute_run(database, run_id, workers=1, dispatcher=dispatcher)
    dispatcher.run_jobs(database)


def order_body() -> dict[str, object]:
    due = (utcnow().date() + timedelta(weeks=3)).isoformat()
    return {
        "title": "Gear housings",
        "due_date": due,
        "delivery_country": "DE",
        "delivery_city": "Stuttgart",
        "delivery_latitude": 48.78,
        "delivery_longitude": 9.18,
        "currency": "EUR",
        "submit": True,
        "lines": [
            {
                "process_code": "milling_3axis",
                "material": "aluminium",
                "quantity": 10,
                "hours": "20",
                "length_mm": 200,
                "width_mm": 100,
                "height_mm": 50,
                "tolerance_class": "ISO 2768-m",
                "splittable": False,
            }
        ],
    }


def test_two_tenants_of_each_kind_through_the_whole_flow(site, db_session, make_shop, make_member):
    winner_shop = make_shop(hours=40, rate_minor=5000)
    loser_shop = make_shop(hours=40, rate_minor=5600)
    winner = Tenant(winner_shop, signed_in(site, winner_shop.owner),
                    machine_header(site, db_session, winner_shop))  # fmt: skip
    loser = Tenant(loser_shop, signed_in(site, loser_shop.owner),
                   machine_header(site, db_session, loser_shop))  # fmt: skip
    buyer = signed_in(site, make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    other_buyer = signed_in(site, make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    operator = signed_in(site, make_member(OrganizationKind.OPERATOR, Role.OPERATOR))
    api = site.client()

    def refused_to_outsiders(path: str) -> None:
        assert other_buyer.get(path).status_code == 404, path
        assert loser.person.get(path).status_code == 404, path
        # A token opens the API only: on a page it is nobody signed in.
        machine = api.get(path, headers=loser.machine)
        assert machine.status_code == (404 if path.startswith("/api/") else 302), path

    # Matching: the order goes to the cheaper shop; the competitors see none of it.
    created = buyer.api("POST", "/api/v1/orders", json=order_body())
    assert created.status_code == 201, created.get_json()
    order_id = created.get_json()["id"]
    assert buyer.api("POST", f"/api/v1/orders/{order_id}/match", json={}).status_code == 202
    run_background(site)
    refused_to_outsiders(f"/api/v1/orders/{order_id}")
    refused_to_outsiders(f"/orders/{order_id}")
    # A machine client searches no competitor, whatever its scopes.
    assert api.get("/api/v1/factories", headers=loser.machine).status_code == 403

    # The winner's machine client accepts; the loser learns where it stood, not a price.
    [proposal] = api.get("/api/v1/proposals", headers=winner.machine).get_json()["proposals"]
    accepted = api.post(f"/api/v1/proposals/{proposal['id']}/accept", headers=winner.machine)
    assert accepted.status_code == 200, accepted.get_json()
    lost = api.get("/api/v1/lost-work", headers=loser.machine).get_json()
    text = json.dumps(lost)
    assert str(proposal["price_minor"]) not in text
    loser_price = 20 * 5600
    assert str(loser_price - proposal["price_minor"]) not in text

    # Payment: only the buyer pays; only the buyer and operators see the books.
    paid = buyer.api(
        "POST", f"/api/v1/orders/{order_id}/payment", json={"payment_method": "pm_card_visa"}
    )
    assert paid.status_code == 202, paid.get_json()
    assert (
        other_buyer.api(
            "POST", f"/api/v1/orders/{order_id}/payment", json={"payment_method": "pm_card_visa"}
        ).status_code
        == 404
    )
    run_background(site)
    money = api.get(f"/api/v1/orders/{order_id}/payment", headers=winner.machine).get_json()
    assert money["books"] is None and money["payments"] == []
    refused_to_outsiders(f"/api/v1/orders/{order_id}/payment")

    # Production with documents, by the winner's machine client.
    for data in (
        {"kind": "started"},
        {"kind": "qa_passed", "documents": [(io.BytesIO(PDF), "qa-report-acme-secret.pdf")]},
        {"kind": "shipped", "tracking_number": "1Z999", "carrier": "UPS"},
    ):
        reported = api.post(
            f"/api/v1/orders/{order_id}/milestones", data=data, headers=winner.machine,
            content_type="multipart/form-data",
        )  # fmt: skip
        assert reported.status_code == 201, reported.get_json()
    assert api.post(
        f"/api/v1/orders/{order_id}/milestones", data={"kind": "started"}, headers=loser.machine,
        content_type="multipart/form-data",
    ).status_code == 404  # fmt: skip
    page = buyer.get(f"/orders/{order_id}").get_data(as_text=True)
    document = page.split('href="/documents/')[1].split('"')[0]
    download = buyer.get(f"/documents/{document}")
    assert download.status_code == 200 and download.get_data() == PDF
    download.close()
    assert f"document-{document}.pdf" in download.headers["Content-Disposition"]
    assert "acme-secret" not in download.headers["Content-Disposition"]
    refused_to_outsiders(f"/documents/{document}")

    # A dispute, settled with part of the winner's share refunded.
    disputed = buyer.client.post(
        f"/api/v1/orders/{order_id}/dispute",
        data={"reason": "Two housings out of tolerance."},
        headers={"X-CSRFToken": buyer.csrf_token()},
        content_type="multipart/form-data",
    )
    assert disputed.status_code == 201, disputed.get_json()
    refused_to_outsiders(f"/orders/{order_id}")
    dispute_id = (
        operator.get(f"/orders/{order_id}").get_data(as_text=True)
        .split('/disputes/')[1].split('/resolve')[0]
    )  # fmt: skip
    settle = {
        "resolution": "Two housings refunded.",
        "refunds": [{"factory_id": winner.shop.id, "amount_minor": 1234}],
    }
    assert (
        other_buyer.api("POST", f"/api/v1/disputes/{dispute_id}/resolve", json=settle).status_code
        == 403
    )
    settled = operator.api("POST", f"/api/v1/disputes/{dispute_id}/resolve", json=settle)
    assert settled.status_code == 200, settled.get_json()
    run_background(site)
    books = buyer.get(f"/api/v1/orders/{order_id}/payment").get_json()["books"]
    assert books["refunded"] == 1234

    # Payouts: each factory sees its own, nothing of another's.
    mine = api.get("/api/v1/payouts", headers=winner.machine).get_json()["payouts"]
    assert [p["order_id"] for p in mine] == [order_id] and mine[0]["refunded_minor"] == 1234
    assert api.get("/api/v1/payouts", headers=loser.machine).get_json()["payouts"] == []

    # Ratings: the buyer rates the winner; nobody else rates on this order.
    rated = buyer.api(
        "POST", f"/api/v1/orders/{order_id}/ratings",
        json={"score": 4, "comment": "Fair settlement", "factory_id": winner.shop.id},
    )  # fmt: skip
    assert rated.status_code == 201, rated.get_json()
    for outsider in (other_buyer, loser.person):
        assert (
            outsider.api(
                "POST", f"/api/v1/orders/{order_id}/ratings", json={"score": 1, "comment": "x"}
            ).status_code
            == 404
        )
