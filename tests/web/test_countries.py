"""Countries are chosen from a list by name and shown by name, never typed as codes."""

import pytest

from marketplace.accounts.models import OrganizationKind, Role
from marketplace.web.labels import countries, country_label


def test_countries_are_named_in_the_readers_language():
    assert country_label("DE", "en") == "Germany" and country_label("DE", "zh") == "德国"
    assert country_label("GE", "en") == "Georgia"
    english = dict(countries("en"))
    assert english["DE"] == "Germany" and english["CN"] == "China"
    assert not {"EU", "UN", "ZZ", "001"} & set(english)
    names = [name for _, name in countries("en")]
    assert names.index("Åland Islands") < names.index("Austria") < names.index("Germany")


@pytest.fixture
def buyer(make_member):
    return make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)


def test_the_order_form_offers_countries_by_name(browser, buyer):
    browser.login(buyer)
    page = browser.get("/orders/new").get_data(as_text=True)
    select = page.split('name="delivery_country"')[1].split("</select>")[0]
    assert '<option value="DE">Germany</option>' in select
    assert '<option value="GE">Georgia</option>' in select
    chinese = browser.get("/orders/new", headers={"Accept-Language": "zh-CN"})
    assert '<option value="DE">德国</option>' in chinese.get_data(as_text=True)


def test_a_code_not_on_the_list_is_refused_by_name(browser, buyer):
    browser.login(buyer)
    response = browser.form(
        "/orders/new",
        {"title": "Brackets", "due_date": "2027-03-01", "delivery_country": "Germany"},
    )
    page = response.get_data(as_text=True)
    assert "Choose a country from the list." in page.split('id="delivery_country-errors"')[1]
