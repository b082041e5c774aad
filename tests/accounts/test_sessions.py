"""Sessions live on the server: rotated at sign-in, dead after sign-out even for someone
who kept the cookie, and sent as a __Host- cookie in production."""

import dataclasses
from datetime import timedelta

from argon2 import PasswordHasher
from sqlmodel import select

from factories.models import utcnow
from marketplace.accounts.models import OrganizationKind, Role, User, UserSession
from marketplace.accounts.passwords import verify_password


def session_cookie(browser, name="session"):
    cookie = browser.client.get_cookie(name)
    assert cookie is not None
    return cookie.value


def test_a_copied_cookie_stops_working_at_sign_out(browser, new_browser, make_member):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser.login(buyer)
    stolen = session_cookie(browser)

    thief = new_browser()
    thief.client.set_cookie("session", stolen)
    assert thief.get("/api/v1/me").status_code == 200

    browser.logout()
    assert browser.get("/api/v1/me").status_code == 401
    # The signed cookie is still valid as a cookie; the server no longer honours it.
    assert thief.get("/api/v1/me").status_code == 401


def test_sign_in_replaces_the_session_and_ends_the_previous_one(
    browser, new_browser, make_member, db_session
):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser.login(buyer)
    first = session_cookie(browser)
    browser.login(buyer)
    second = session_cookie(browser)
    assert first != second

    replay = new_browser()
    replay.client.set_cookie("session", first)
    assert replay.get("/api/v1/me").status_code == 401
    rows = db_session.exec(select(UserSession).where(UserSession.user_id == buyer.user.id)).all()
    assert len(rows) == 2
    assert sum(row.revoked_at is None for row in rows) == 1
    # Only a digest of the secret is stored.
    assert all(len(row.secret_hash) == 64 for row in rows)


def test_idle_and_expired_sessions_end(browser, make_member, db_session):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser.login(buyer)
    assert browser.get("/api/v1/me").status_code == 200
    row = db_session.exec(select(UserSession).where(UserSession.user_id == buyer.user.id)).one()
    row.last_seen_at = utcnow() - timedelta(hours=13)
    db_session.commit()
    assert browser.get("/api/v1/me").status_code == 401

    browser.login(buyer)
    row = db_session.exec(
        select(UserSession)
        .where(UserSession.user_id == buyer.user.id)
        .order_by(UserSession.id.desc())
    ).first()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    assert browser.get("/api/v1/me").status_code == 401


def test_disabled_user_loses_access_at_once(browser, make_member, db_session):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser.login(buyer)
    buyer.user.is_active = False
    db_session.commit()
    assert browser.get("/api/v1/me").status_code == 401


def test_production_sends_a_host_prefixed_secure_cookie(settings, make_app, make_member):
    production = dataclasses.replace(settings, env="production")
    app = make_app(production, PUBLIC_URL="https://localhost")
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost").get_data(as_text=True)
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    response = client.post(
        "/login",
        base_url="https://localhost",
        data={"email": buyer.email, "password": buyer.password, "csrf_token": token},
        headers={"Referer": "https://localhost/login"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    cookie = next(
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("__Host-session=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"secure", "httponly", "path"} <= attributes
    assert "domain" not in attributes
    assert "samesite=lax" in cookie.lower()
    assert "Path=/" in cookie
    assert client.get("/api/v1/me", base_url="https://localhost").status_code == 200


def test_the_api_document_names_the_cookie_the_application_sets(settings, make_app, client):
    def cookie_scheme(client):
        document = client.get("/api/openapi.json").get_json()
        return document["components"]["securitySchemes"]["sessionCookie"]

    assert cookie_scheme(client) == {"type": "apiKey", "in": "cookie", "name": "session"}
    production = make_app(
        dataclasses.replace(settings, env="production"), PUBLIC_URL="https://localhost"
    ).test_client()
    assert cookie_scheme(production)["name"] == "__Host-session"


def test_weak_password_hashes_are_upgraded_at_sign_in(browser, make_member, db_session):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    buyer.user.password_hash = weak.hash(buyer.password)
    db_session.commit()
    browser.login(buyer)
    db_session.expire_all()
    upgraded = db_session.get(User, buyer.user.id).password_hash
    assert "m=8192" not in upgraded
    assert upgraded.startswith("$argon2id$")
    assert verify_password(upgraded, buyer.password)
