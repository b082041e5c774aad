"""OAuth2 client credentials for a factory's machines: owners create and revoke clients in
the web UI; secrets and tokens are stored hashed; tokens expire and can be revoked; the
API takes a bearer token in place of a session (and then needs no CSRF token)."""

from datetime import timedelta

import pytest
from flask import Blueprint, jsonify
from sqlmodel import select

from factories.models import utcnow
from marketplace.accounts.access import require_principal, scope_required
from marketplace.accounts.models import OAuthClient, OAuthToken, OrganizationKind, Role
from marketplace.accounts.tokens import digest


def create_client_in_ui(browser, name="MES line 2", scopes=("capacity:write", "orders:read")):
    response = browser.form("/account/clients", {"name": name, "scopes": list(scopes)})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    client_id = page.split('id="new-client-id">')[1].split("<")[0]
    secret = page.split('id="new-client-secret">')[1].split("<")[0]
    return client_id, secret


def get_token(client, client_id, secret, **data):
    return client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", **data},
        auth=(client_id, secret),
    )


@pytest.fixture
def owner(make_member):
    return make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)


def test_owner_creates_a_client_whose_secret_is_shown_once_and_stored_hashed(
    browser, owner, db_session
):
    browser.login(owner)
    client_id, secret = create_client_in_ui(browser)
    stored = db_session.exec(select(OAuthClient).where(OAuthClient.client_id == client_id)).one()
    assert stored.organization_id == owner.organization.id
    assert stored.created_by_id == owner.user.id
    assert stored.scopes == "capacity:write orders:read"
    assert stored.secret_hash == digest(secret)
    assert secret not in stored.secret_hash
    listing = browser.get("/account/clients").get_data(as_text=True)
    assert client_id in listing
    assert secret not in listing


def test_client_credentials_give_a_bearer_token_for_the_factory(browser, client, owner, db_session):
    browser.login(owner)
    client_id, secret = create_client_in_ui(browser)
    response = get_token(client, client_id, secret)
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "capacity:write orders:read"
    assert response.headers["Cache-Control"] == "no-store"
    stored = db_session.exec(select(OAuthToken)).all()
    assert [t.token_hash for t in stored] == [digest(body["access_token"])]

    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.get_json() == {
        "user_id": None,
        "client_id": client_id,
        "organization_id": owner.organization.id,
        "organization_kind": "factory",
        "role": "factory_member",
        "scopes": ["capacity:write", "orders:read"],
        "csrf_token": None,
    }


def test_secrets_in_the_form_body_work_too(browser, client, owner):
    browser.login(owner)
    client_id, secret = create_client_in_ui(browser)
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200


def test_a_narrower_scope_can_be_asked_for_but_not_a_wider_one(browser, client, owner):
    browser.login(owner)
    client_id, secret = create_client_in_ui(browser)
    narrow = get_token(client, client_id, secret, scope="orders:read")
    assert narrow.get_json()["scope"] == "orders:read"
    wider = get_token(client, client_id, secret, scope="orders:read proposals:write")
    assert wider.status_code == 400
    assert wider.get_json()["error"] == "invalid_scope"
    unknown = get_token(client, client_id, secret, scope="admin")
    assert unknown.get_json()["error"] == "invalid_scope"


def test_wrong_secrets_and_other_grants_are_refused(browser, client, owner):
    browser.login(owner)
    client_id, secret = create_client_in_ui(browser)
    assert get_token(client, client_id, secret + "x").status_code == 401
    assert get_token(client, "fwc_unknown", secret).status_code == 401
    password_grant = client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": owner.email, "password": owner.password},
        auth=(client_id, secret),
    )
    assert password_grant.status_code == 400
    assert password_grant.get_json()["error"] == "unsupported_grant_type"


def test_expired_tokens_stop_working(browser, client, owner, db_session):
    browser.login(owner)
    client_id, secret = create_client_in_ui(browser)
    token = get_token(client, client_id, secret).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    stored = db_session.exec(select(OAuthToken)).one()
    stored.expires_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_token_lifetime_is_configurable(make_app, browser_for, owner):
    app = make_app(OAUTH2_TOKEN_LIFETIME=timedelta(minutes=5))
    browser = browser_for(app)
    browser.login(owner)
    client_id, secret = create_client_in_ui(browser)
    assert get_token(browser.client, client_id, secret).get_json()["expires_in"] == 300


def test_a_client_revokes_its_own_token(browser, client, owner, make_member):
    browser.login(owner)
    client_id, secret = create_client_in_ui(browser)
    other_id, other_secret = create_client_in_ui(browser, name="gateway")
    token = get_token(client, client_id, secret).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    # Another client cannot revoke it.
    refused = client.post("/oauth/revoke", data={"token": token}, auth=(other_id, other_secret))
    assert refused.status_code == 400
    assert client.get("/api/v1/me", headers=headers).status_code == 200

    revoked = client.post("/oauth/revoke", data={"token": token}, auth=(client_id, secret))
    assert revoked.status_code == 200
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    # RFC 7009: an unknown token is not an error.
    unknown = client.post("/oauth/revoke", data={"token": "nope"}, auth=(client_id, secret))
    assert unknown.status_code == 200


def test_owner_revokes_a_client_in_the_ui(browser, client, owner, db_session):
    browser.login(owner)
    client_id, secret = create_client_in_ui(browser)
    token = get_token(client, client_id, secret).get_json()["access_token"]
    stored = db_session.exec(select(OAuthClient).where(OAuthClient.client_id == client_id)).one()
    response = browser.form(f"/account/clients/{stored.id}/revoke", {})
    assert response.status_code == 302
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert get_token(client, client_id, secret).status_code == 401


def test_only_factory_owners_manage_clients(browser, new_browser, make_member, owner, db_session):
    member = make_member(OrganizationKind.FACTORY, Role.FACTORY_MEMBER, owner.organization)
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser.login(owner)
    create_client_in_ui(browser)
    stored = db_session.exec(select(OAuthClient)).one()
    for person in (member, buyer):
        other = new_browser()
        other.login(person)
        assert other.get("/account/clients").status_code == 403
        assert other.form(f"/account/clients/{stored.id}/revoke", {}).status_code == 403
    db_session.refresh(stored)
    assert stored.revoked_at is None


def test_client_form_names_the_field_at_fault(browser, owner):
    browser.login(owner)
    response = browser.form("/account/clients", {"name": "", "scopes": ["capacity:write"]})
    assert response.status_code == 400
    assert 'id="name-errors"' in response.get_data(as_text=True)
    response = browser.form("/account/clients", {"name": "MES"})
    assert 'id="scopes-errors"' in response.get_data(as_text=True)
    response = browser.form("/account/clients", {"name": "MES", "scopes": ["root"]})
    assert response.status_code == 400
    assert 'id="scopes-errors"' in response.get_data(as_text=True)


# Bearer tokens, sessions and CSRF on API writes -----------------------------------------

probe = Blueprint("probe", __name__)


@probe.post("/api/v1/_probe/capacity")
@scope_required("capacity:write")
def write_capacity():  # type: ignore[no-untyped-def]
    principal = require_principal()
    return jsonify(organization_id=principal.organization_id, client_id=principal.client_id)


@pytest.fixture
def probe_app(make_app):
    app = make_app()
    app.register_blueprint(probe)
    return app


def test_api_writes_need_csrf_with_a_session_but_not_with_a_bearer_token(
    probe_app, browser_for, owner
):
    browser = browser_for(probe_app)
    browser.login(owner)
    without_csrf = browser.client.post("/api/v1/_probe/capacity", json={})
    assert without_csrf.status_code == 400
    assert "CSRF" in without_csrf.get_json()["message"]
    assert browser.api("POST", "/api/v1/_probe/capacity", json={}).status_code == 200

    client_id, secret = create_client_in_ui(browser)
    token = get_token(browser.client, client_id, secret).get_json()["access_token"]
    machine = probe_app.test_client()
    response = machine.post(
        "/api/v1/_probe/capacity", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.get_json()["client_id"] == client_id


def test_a_bearer_header_never_borrows_the_session(probe_app, browser_for, owner):
    """A request with a bearer header is judged by the token alone: a forged header next
    to a valid session cookie gets nothing, so skipping CSRF for it is safe."""
    browser = browser_for(probe_app)
    browser.login(owner)
    response = browser.client.post(
        "/api/v1/_probe/capacity", json={}, headers={"Authorization": "Bearer forged"}
    )
    assert response.status_code == 401
    assert browser.client.get("/api/v1/me", headers={"Authorization": "Bearer "}).status_code == 401


def test_scopes_limit_what_a_token_may_do(probe_app, browser_for, owner):
    browser = browser_for(probe_app)
    browser.login(owner)
    client_id, secret = create_client_in_ui(browser, scopes=("orders:read",))
    token = get_token(browser.client, client_id, secret).get_json()["access_token"]
    response = probe_app.test_client().post(
        "/api/v1/_probe/capacity", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
    assert "capacity:write" in response.get_json()["message"]


def test_bearer_tokens_do_not_open_web_pages(browser, app, owner):
    browser.login(owner)
    client_id, secret = create_client_in_ui(browser)
    client = app.test_client()
    token = get_token(client, client_id, secret).get_json()["access_token"]
    response = client.get("/account/clients", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_web_forms_still_need_csrf(browser, owner, db_session):
    browser.login(owner)
    response = browser.client.post(
        "/account/clients", data={"name": "x", "scopes": ["orders:read"]}
    )
    assert response.status_code == 400
    assert db_session.exec(select(OAuthClient)).all() == []
