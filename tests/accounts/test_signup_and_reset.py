"""Sign-up starts an organization once its address is confirmed by mail; forgotten
passwords are reset by a mailed single-use link; people join an organization by accepting
an invitation. Mail goes through a real SMTP server listening on 127.0.0.1."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlmodel import select

from factories.models import utcnow
from marketplace.accounts.models import (
    Membership,
    Organization,
    OrganizationKind,
    PasswordToken,
    Role,
    User,
)


def signup_data(**overrides):
    data = {
        "display_name": "Mei Lin",
        "email": "mei.lin@example.com",
        "password": "milling-all-night-42",
        "confirm": "milling-all-night-42",
        "organization_name": "Lin Precision",
        "kind": "factory",
        "country": "CN",
    }
    data.update(overrides)
    return data


def mail_settings(make_app, smtp_server, **config):
    _, port = smtp_server
    return make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=port, **config)


@pytest.fixture
def mailing(make_app, smtp_server, browser_for):
    """A browser on an app whose mail reaches the test's inbox."""
    return browser_for(mail_settings(make_app, smtp_server))


def sign_up(browser, inbox, **overrides):
    """Sign up through the form and the mailed link; the last answer (a redirect)."""
    data = signup_data(**overrides)
    response = browser.form("/signup", data)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == "/signup/sent"
    [message] = inbox.to(data["email"].lower())
    path = urlsplit(inbox.link(message, "/signup/confirm/")).path
    assert browser.get(path).status_code == 200
    return browser.form(path, {})


def test_signup_creates_a_factory_with_its_owner_and_signs_in(mailing, inbox, db_session):
    response = sign_up(mailing, inbox)
    assert response.status_code == 302
    me = mailing.get("/api/v1/me").get_json()
    assert me["role"] == "factory_owner"
    assert me["organization_kind"] == "factory"
    organization = db_session.get(Organization, me["organization_id"])
    assert (organization.name, organization.country) == ("Lin Precision", "CN")
    user = db_session.exec(select(User).where(User.email == "mei.lin@example.com")).one()
    assert user.password_hash.startswith("$argon2id$")
    assert user.display_name == "Mei Lin"


def test_nothing_exists_before_the_address_is_confirmed(mailing, inbox, db_session):
    response = mailing.form("/signup", signup_data())
    assert response.status_code == 302
    assert db_session.exec(select(User).where(User.email == "mei.lin@example.com")).all() == []
    assert mailing.get("/api/v1/me").status_code == 401
    page = mailing.get(response.headers["Location"]).get_data(as_text=True)
    assert "Follow its link within one day" in page
    # The link works once.
    path = urlsplit(inbox.link(inbox.to("mei.lin@example.com")[0], "/signup/confirm/")).path
    assert mailing.form(path, {}).status_code == 302
    assert mailing.get(path).status_code == 404
    assert mailing.form(path, {}).status_code == 404


def test_factory_signup_continues_to_onboarding_when_it_exists(mailing, inbox, app):
    response = sign_up(mailing, inbox)
    expected = "/"
    if "supply.onboarding" in app.view_functions:
        with app.test_request_context():
            from flask import url_for

            expected = url_for("supply.onboarding")
    assert response.headers["Location"] == expected


def test_buyer_signup_makes_a_buyer_member(mailing, inbox):
    response = sign_up(mailing, inbox, kind="buyer", email="buyer@example.com")
    assert response.headers["Location"] == "/home"
    assert mailing.get("/api/v1/me").get_json()["role"] == "buyer_member"


def test_signup_names_the_field_at_fault(browser, db_session):
    cases = {
        "email": signup_data(email="mei.lin@"),
        "password": signup_data(password="short", confirm="short"),
        "confirm": signup_data(confirm="something-else-entirely"),
        "country": signup_data(country="Germany"),
        "kind": signup_data(kind="operator"),
    }
    for field, data in cases.items():
        response = browser.form("/signup", data)
        assert response.status_code == 400, field
        page = response.get_data(as_text=True)
        assert f'id="{field}-errors"' in page, field
    # Nobody can make themselves a cluster operator, and nothing was half-created.
    assert (
        db_session.exec(select(Organization).where(Organization.name == "Lin Precision")).all()
        == []
    )


def test_signup_needs_a_csrf_token(client):
    response = client.post("/signup", data=signup_data())
    assert response.status_code == 400
    assert client.get("/api/v1/me").status_code == 401


def test_password_reset_by_mailed_single_use_link(
    make_app, smtp_server, inbox, browser_for, make_member, db_session
):
    app = mail_settings(make_app, smtp_server, PUBLIC_URL="https://factoryweb.example")
    browser = browser_for(app)
    thief = browser_for(app)
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    thief.login(buyer)

    response = browser.form("/password/forgot", {"email": buyer.email.upper()})
    assert response.status_code == 302
    [message] = inbox.to(buyer.email)
    link = inbox.link(message, "/password/reset/")
    assert link.startswith("https://factoryweb.example/password/reset/")
    path = urlsplit(link).path
    # Only a digest of the secret is kept.
    secret = path.rsplit("/", 1)[1]
    stored = db_session.exec(select(PasswordToken).where(PasswordToken.user_id == buyer.user.id))
    assert all(secret not in t.token_hash for t in stored)

    assert browser.get(path).status_code == 200
    new_password = "a-brand-new-passphrase"
    response = browser.form(path, {"password": new_password, "confirm": new_password})
    assert response.status_code == 302

    # Used once: the link is dead, every session of the account ended, the new password works.
    assert browser.get(path).status_code == 404
    assert browser.form(path, {"password": "x" * 12, "confirm": "x" * 12}).status_code == 404
    assert thief.get("/api/v1/me").status_code == 401
    buyer.password = new_password
    browser.login(buyer)
    assert browser.get("/api/v1/me").status_code == 200


def test_reset_link_expires(make_app, smtp_server, inbox, browser_for, make_member, db_session):
    browser = browser_for(mail_settings(make_app, smtp_server))
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser.form("/password/forgot", {"email": buyer.email})
    path = urlsplit(inbox.link(inbox.to(buyer.email)[0], "/password/reset/")).path
    token = db_session.exec(
        select(PasswordToken).where(PasswordToken.user_id == buyer.user.id)
    ).one()
    token.expires_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    response = browser.form(path, {"password": "y" * 12, "confirm": "y" * 12})
    assert response.status_code == 404
    assert "no longer works" in response.get_data(as_text=True)


def test_a_newer_reset_link_replaces_the_older_one(
    make_app, smtp_server, inbox, browser_for, make_member
):
    browser = browser_for(mail_settings(make_app, smtp_server))
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser.form("/password/forgot", {"email": buyer.email})
    browser.form("/password/forgot", {"email": buyer.email})
    first, second = (
        urlsplit(inbox.link(m, "/password/reset/")).path for m in inbox.to(buyer.email)
    )
    assert browser.get(first).status_code == 404
    assert browser.get(second).status_code == 200


def test_unknown_addresses_get_the_same_answer_and_a_mail_saying_so(
    make_app, smtp_server, inbox, browser_for
):
    browser = browser_for(mail_settings(make_app, smtp_server))
    response = browser.form("/password/forgot", {"email": "nobody@example.com"})
    assert response.status_code == 302
    follow = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "If an account uses this address" in follow
    [message] = inbox.to("nobody@example.com")
    assert "no account uses it" in inbox.body(message)
    assert "/password/reset/" not in inbox.body(message)
    inbox.link(message, "/signup")


def test_owner_invites_a_new_colleague_who_accepts_by_choosing_a_password(
    make_app, smtp_server, inbox, browser_for, make_member, db_session
):
    app = mail_settings(make_app, smtp_server)
    owner_browser, colleague_browser = browser_for(app), browser_for(app)
    owner = make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)
    owner_browser.login(owner)
    response = owner_browser.form(
        "/account/members",
        {"email": "new.machinist@example.com", "display_name": "Jo", "role": "factory_member"},
    )
    assert response.status_code == 302
    # Invited, not a member: no account exists until they accept.
    invited = select(User).where(User.email == "new.machinist@example.com")
    assert db_session.exec(invited).all() == []
    page = owner_browser.get("/account/members").get_data(as_text=True)
    assert "new.machinist@example.com" in page.split('id="invitations"')[1]

    path = urlsplit(inbox.link(inbox.to("new.machinist@example.com")[0], "/invitations/")).path
    page = colleague_browser.get(path).get_data(as_text=True)
    assert 'value="Jo"' in page
    response = colleague_browser.form(
        path,
        {"display_name": "Jo", "password": "first-pass-phrase", "confirm": "first-pass-phrase"},
    )
    assert response.status_code == 302
    me = colleague_browser.get("/api/v1/me").get_json()
    assert me["role"] == "factory_member"
    assert me["organization_id"] == owner.organization.id
    membership = db_session.exec(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(User.email == "new.machinist@example.com")
    ).one()
    assert (membership.organization_id, membership.role) == (
        owner.organization.id,
        "factory_member",
    )
    colleague_browser.logout()
    colleague_browser.client.post(
        "/login",
        data={
            "email": "new.machinist@example.com",
            "password": "first-pass-phrase",
            "csrf_token": colleague_browser.csrf_token(),
        },
    )
    assert colleague_browser.get("/api/v1/me").get_json()["role"] == "factory_member"
    assert colleague_browser.get(path).status_code == 404


def test_factory_members_cannot_add_people(browser, make_member):
    owner = make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)
    member = make_member(OrganizationKind.FACTORY, Role.FACTORY_MEMBER, owner.organization)
    browser.login(member)
    response = browser.form("/account/members", {"email": "x@example.com", "role": "factory_owner"})
    assert response.status_code == 403


def test_removed_member_loses_access_and_the_last_owner_stays(
    browser, new_browser, make_member, db_session
):
    owner = make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)
    member = make_member(OrganizationKind.FACTORY, Role.FACTORY_MEMBER, owner.organization)
    member_browser = new_browser()
    member_browser.login(member)
    browser.login(owner)
    memberships = {
        m.user_id: m
        for m in db_session.exec(
            select(Membership).where(Membership.organization_id == owner.organization.id)
        )
    }
    browser.form(f"/account/members/{memberships[member.user.id].id}/remove", {})
    assert member_browser.get("/api/v1/me").status_code == 401
    browser.form(f"/account/members/{memberships[owner.user.id].id}/remove", {})
    assert browser.get("/api/v1/me").get_json()["role"] == "factory_owner"


def test_signup_names_every_problem_at_once(browser, db_session):
    data = signup_data(
        display_name="",
        organization_name="",
        password="mei.lin@example.com",
        confirm="mei.lin@example.com",
        country="Germany",
    )
    response = browser.form("/signup", data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for field in ("display_name", "organization_name", "password", "country"):
        assert f'id="{field}-errors"' in page, field
    assert "must not be the email address" in page.split('id="password-errors"')[1]
    # What was typed stays (the passwords excepted).
    assert (
        'value="mei.lin@example.com"'
        in page.split('id="email"')[0] + page.split('id="email"')[1][:200]
    )
