"""Sign in with the company account: OpenID Connect through Authlib against a real
provider (oidc-provider-mock) listening on 127.0.0.1, with first-login linking by
verified email."""

import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from marketplace.accounts.models import ExternalIdentity, OrganizationKind, Role, User

# The provider runs in a thread of this process, so the test's warning filters apply to
# it too; its own use of deprecated Authlib APIs is not this project's to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:get_jwt_config:DeprecationWarning",
    "ignore::authlib.deprecate.AuthlibDeprecationWarning:oidc_provider_mock",
)


@pytest.fixture
def company_app(make_app, oidc_provider):
    return make_app(
        OIDC_ISSUER=oidc_provider.issuer,
        OIDC_CLIENT_ID="factoryweb",
        OIDC_CLIENT_SECRET="factoryweb-secret",
    )


def company_sign_in(browser, provider, sub, next_path=None):
    """The whole round trip a browser makes; returns our final redirect."""
    start = browser.get("/login/company", query_string={"next": next_path} if next_path else {})
    assert start.status_code == 302
    authorize_url = start.headers["Location"]
    assert authorize_url.startswith(provider.issuer)
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["scope"] == ["openid email profile"]
    assert query["nonce"] and query["state"]
    back = urlsplit(provider.authorize(authorize_url, sub))
    assert back.path == "/login/company/callback"
    return browser.get(f"{back.path}?{back.query}")


def new_sub():
    return f"employee-{secrets.token_hex(4)}"


def test_login_page_offers_company_sign_in_only_when_configured(client, company_app):
    assert "Sign in with your company account" not in client.get("/login").get_data(as_text=True)
    assert client.get("/login/company").status_code == 404
    page = company_app.test_client().get("/login").get_data(as_text=True)
    assert "Sign in with your company account" in page


def test_first_login_links_an_existing_account_by_verified_email(
    company_app, browser_for, oidc_provider, make_member, db_session
):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    sub = new_sub()
    oidc_provider.set_user(sub, email=buyer.email.upper(), email_verified=True, name="B. Uyer")
    browser = browser_for(company_app)

    response = company_sign_in(browser, oidc_provider, sub, next_path="/account/members")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/members"
    me = browser.get("/api/v1/me").get_json()
    assert me["user_id"] == buyer.user.id
    assert me["organization_id"] == buyer.organization.id
    identity = db_session.exec(
        select(ExternalIdentity).where(ExternalIdentity.user_id == buyer.user.id)
    ).one()
    assert (identity.issuer, identity.subject) == (oidc_provider.issuer, sub)

    # Later sign-ins find the link by subject, even if the provider's email changes.
    oidc_provider.set_user(sub, email="renamed@example.com", email_verified=True)
    again = browser_for(company_app)
    company_sign_in(again, oidc_provider, sub)
    assert again.get("/api/v1/me").get_json()["user_id"] == buyer.user.id


def test_an_unverified_email_never_links_to_an_account(
    company_app, browser_for, oidc_provider, make_member, db_session
):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    sub = new_sub()
    oidc_provider.set_user(sub, email=buyer.email, email_verified=False)
    browser = browser_for(company_app)
    response = company_sign_in(browser, oidc_provider, sub)
    assert response.headers["Location"] == "/login"
    assert browser.get("/api/v1/me").status_code == 401
    assert "not verified" in browser.get("/login").get_data(as_text=True)
    assert db_session.exec(select(ExternalIdentity)).all() == []


def test_a_new_person_gets_an_account_and_starts_an_organization(
    company_app, browser_for, oidc_provider, db_session
):
    sub = new_sub()
    email = f"{sub}@company.example"
    oidc_provider.set_user(sub, email=email, email_verified=True, name="New Person")
    browser = browser_for(company_app)
    response = company_sign_in(browser, oidc_provider, sub)
    assert response.headers["Location"] == "/welcome"
    user = db_session.exec(select(User).where(User.email == email)).one()
    assert user.password_hash is None
    assert user.display_name == "New Person"

    welcome = browser.get("/welcome").get_data(as_text=True)
    assert "ask one of its owners to invite the address" in welcome
    assert browser.get("/api/v1/me").status_code == 401

    response = browser.form(
        "/welcome", {"organization_name": "Person Parts", "kind": "buyer", "country": "DE"}
    )
    assert response.status_code == 302
    me = browser.get("/api/v1/me").get_json()
    assert me["role"] == "buyer_member"
    assert me["user_id"] == user.id


def test_a_forged_callback_signs_nobody_in(company_app, browser_for, oidc_provider):
    browser = browser_for(company_app)
    browser.get("/login/company")
    response = browser.get("/login/company/callback?code=made-up&state=made-up")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert browser.get("/api/v1/me").status_code == 401


def test_a_code_cannot_be_replayed_by_another_browser(
    company_app, browser_for, oidc_provider, make_member
):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    sub = new_sub()
    oidc_provider.set_user(sub, email=buyer.email, email_verified=True)
    victim = browser_for(company_app)
    start = victim.get("/login/company")
    back = urlsplit(oidc_provider.authorize(start.headers["Location"], sub))
    # An attacker who steals the redirect has no matching state in their session.
    attacker = browser_for(company_app)
    attacker.get("/login/company")
    attacker.get(f"{back.path}?{back.query}")
    assert attacker.get("/api/v1/me").status_code == 401


def signed_in_nobody(browser, response, db_session):
    """The callback went back to the login page, which says why; no one is signed in."""
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert browser.get("/api/v1/me").status_code == 401
    assert db_session.exec(select(ExternalIdentity)).all() == []
    return browser.get("/login").get_data(as_text=True)


# The provider puts a user's claims into the ID token over its own, so a claim set here
# replaces the audience, nonce, expiry or issuer that Authlib then checks.
@pytest.mark.parametrize(
    "forged",
    [
        {"aud": "another-client"},
        {"nonce": "not-the-one-we-sent"},
        {"exp": 1_000_000_000},
        {"iss": "https://impostor.example"},
    ],
    ids=["audience", "nonce", "expired", "issuer"],
)
def test_an_id_token_that_fails_verification_signs_nobody_in(
    company_app, browser_for, oidc_provider, make_member, db_session, forged
):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    sub = new_sub()
    oidc_provider.set_user(sub, email=buyer.email, email_verified=True, **forged)
    browser = browser_for(company_app)
    page = signed_in_nobody(browser, company_sign_in(browser, oidc_provider, sub), db_session)
    assert "identity token" in page and "could not be verified" in page


def test_an_email_address_too_long_for_an_account_is_refused_with_a_message(
    company_app, browser_for, oidc_provider, db_session
):
    sub = new_sub()
    email = "x" * 250 + "@company.example"
    oidc_provider.set_user(sub, email=email, email_verified=True)
    browser = browser_for(company_app)
    page = signed_in_nobody(browser, company_sign_in(browser, oidc_provider, sub), db_session)
    assert "email address that is not valid or longer than 254 characters" in page
    assert db_session.exec(select(User).where(User.email.startswith("xxxx"))).all() == []


def test_an_email_address_that_is_no_address_is_refused(
    company_app, browser_for, oidc_provider, db_session
):
    sub = new_sub()
    oidc_provider.set_user(sub, email="employee at company", email_verified=True)
    browser = browser_for(company_app)
    page = signed_in_nobody(browser, company_sign_in(browser, oidc_provider, sub), db_session)
    assert "email address that is not valid" in page


def test_text_the_database_cannot_hold_never_reaches_it(
    company_app, browser_for, oidc_provider, db_session
):
    # A subject with a NUL (the provider makes an account for any subject it is given).
    browser = browser_for(company_app)
    page = signed_in_nobody(browser, company_sign_in(browser, oidc_provider, "emp\x00"), db_session)
    assert "no usable subject" in page
    # A display name with a NUL is kept without it.
    sub = new_sub()
    oidc_provider.set_user(sub, email=f"{sub}@company.example", email_verified=True, name="Ne\x00w")
    browser = browser_for(company_app)
    assert company_sign_in(browser, oidc_provider, sub).headers["Location"] == "/welcome"
    user = db_session.exec(select(User).where(User.email == f"{sub}@company.example")).one()
    assert user.display_name == "New"
