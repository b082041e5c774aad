"""What a factory sees of its competitors: the search over every shop's rates, credit and
free hours is for buyers and operators only; a factory's people and its machine clients,
whatever scopes they hold, are refused it (docs/api.md: what is public of a factory)."""

from __future__ import annotations

from marketplace.accounts.models import OrganizationKind, Role
from marketplace.accounts.oauth import SCOPES, create_client


def test_a_machine_client_cannot_search_its_competitors(client, db_session, make_shop, buyer):
    shop = make_shop(hours=40, rate_minor=5000)
    make_shop(hours=40, rate_minor=4500)  # a competitor
    machine, secret = create_client(db_session, shop.owner.organization, "MES", list(SCOPES))
    db_session.commit()
    token = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(machine.client_id, secret),
    ).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    refused = client.get("/api/v1/factories?process=milling_3axis", headers=headers)
    assert refused.status_code == 403
    assert "hourly_rate" not in refused.get_data(as_text=True)
    # Its own factory stays readable.
    mine = client.get("/api/v1/factories/mine", headers=headers)
    assert mine.status_code == 200 and mine.get_json()["factories"][0]["id"] == shop.id


def test_a_factorys_people_cannot_search_either_but_buyers_and_operators_can(
    browser, new_browser, make_shop, make_member, buyer
):
    shop = make_shop(hours=40)
    member = make_member(OrganizationKind.FACTORY, Role.FACTORY_MEMBER, shop.owner.organization)
    for person in (shop.owner, member):
        factory_browser = new_browser()
        factory_browser.login(person)
        assert factory_browser.get("/supply/search").status_code == 403
        assert factory_browser.get("/api/v1/factories").status_code == 403
    operator = make_member(OrganizationKind.OPERATOR, Role.OPERATOR)
    for person in (buyer, operator):
        searcher = new_browser()
        searcher.login(person)
        assert searcher.get("/supply/search").status_code == 200
        assert searcher.get("/api/v1/factories").status_code == 200
