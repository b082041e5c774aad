"""The factory pages on the demo cluster: what a visitor of `make demo` sees."""

from dataclasses import dataclass

from sqlmodel import select

from factories.capacity.weeks import monday_of
from factories.models import Factory, utcnow
from marketplace.tools.demo.cluster import demo_logins
from marketplace.tools.demo.data import DEMO_PASSWORD, DemoSpec
from marketplace.tools.demo.seed import seed_marketplace


@dataclass
class Login:
    email: str
    password: str = DEMO_PASSWORD


def test_demo_owner_and_buyer_pages(browser, new_browser, db_session):
    seed_marketplace(
        db_session, DemoSpec(factories=40, orders=20, start=monday_of(utcnow().date()))
    )
    db_session.commit()
    logins = demo_logins()
    browser.login(Login(logins["factory_owner"][0]))
    landing = browser.get("/supply/onboarding")
    assert landing.status_code == 200
    factory_id = int(
        landing.get_data(as_text=True).split('href="/supply/factories/')[1].split('"')[0]
    )
    for path in ("", "/capacity", "/export/aas-xml"):
        assert browser.get(f"/supply/factories/{factory_id}{path}").status_code == 200, path
    profile = browser.get(f"/api/v1/factories/{factory_id}/profile")
    assert (
        browser.api(
            "PUT", f"/api/v1/factories/{factory_id}/profile", json=profile.get_json()
        ).status_code
        == 200
    )

    buyer = new_browser()
    buyer.login(Login(logins["buyer_member"][0]))
    page = buyer.get(
        "/supply/search", query_string={"process": "milling", "certification": "ISO9001"}
    )
    assert page.status_code == 200
    verified = db_session.exec(select(Factory).where(Factory.status == "verified")).all()
    results = page.get_data(as_text=True).split('id="search-results"')[1]
    assert any(f.name in results for f in verified)
    api = buyer.get(
        "/api/v1/factories", query_string={"process": "milling", "per_page": 100}
    ).get_json()
    assert api["total"] >= 1 and all(r["reasons"] for r in api["results"])

    operator = new_browser()
    operator.login(Login(logins["operator"][0]))
    listing = operator.get("/supply/operator/factories", query_string={"status": "pending"})
    assert listing.status_code == 200 and 'id="operator-factories"' in listing.get_data(
        as_text=True
    )
