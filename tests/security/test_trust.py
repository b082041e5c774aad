"""What an outside probe found, kept closed, in development and in production
configuration (the `site` fixture runs each test in both):

- mailed links cannot be pointed elsewhere: they are built from PUBLIC_URL (or the
  site's own host), requests for any other host are refused, and production does not
  start without PUBLIC_URL or a list of trusted hosts;
- nobody becomes a member of an organization without accepting an invitation, and the
  inviter learns nothing of an existing account;
- a body too large is refused before it is read, the API says who may call before it
  reads the body, the answers that can happen are in the OpenAPI document, and sign-up
  and password reset answer the same whether an account exists or not.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlmodel import select

from factories.models import utcnow
from marketplace.accounts.models import (
    Invitation,
    Membership,
    Organization,
    OrganizationKind,
    Role,
    SignupRequest,
    User,
)
from marketplace.app import create_app
from marketplace.config import ConfigurationError
from marketplace.orders.production import documents
from marketplace.security.rate_limits import LIMITED_ENDPOINTS
from tests.security.conftest import PRODUCTION_URL

EVIL = "http://evil.example"


# Links in mails and the hosts the site answers ---------------------------------------


def test_production_does_not_start_without_public_url(settings, make_app):
    production = dataclasses.replace(settings, env="production")
    with pytest.raises(ConfigurationError, match="PUBLIC_URL must be set"):
        make_app(production)
    for wrong in (
        "factoryweb.example",
        "ftp://factoryweb.example",
        "https://a@fw.example",
        "https://fw.example/app",
    ):
        with pytest.raises(ConfigurationError, match="PUBLIC_URL"):
            make_app(production, PUBLIC_URL=wrong)
    # An explicit list of host names is the other way to start.
    app = make_app(production, TRUSTED_HOSTS="fw.example, www.fw.example")
    assert app.config["TRUSTED_HOSTS"] == ["fw.example", "www.fw.example"]
    app = make_app(production, PUBLIC_URL="https://fw.example/")
    assert (app.config["PUBLIC_URL"], app.config["TRUSTED_HOSTS"]) == (
        "https://fw.example",
        ["fw.example"],
    )


def test_production_reads_public_url_from_the_environment(settings, monkeypatch, engine):
    from marketplace.db import Database

    production = dataclasses.replace(settings, env="production")
    monkeypatch.setenv("PUBLIC_URL", "https://fw.example")
    app = create_app(production, database=Database(engine))
    assert app.config["TRUSTED_HOSTS"] == ["fw.example"]
    monkeypatch.delenv("PUBLIC_URL")
    with pytest.raises(ConfigurationError, match="PUBLIC_URL"):
        create_app(production, database=Database(engine))


def test_a_forged_host_is_refused_and_mails_nothing(site, inbox, make_member):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser = site.browser()
    token = browser.csrf_token()
    for host in (EVIL, "http://evil.example:8080", "http://localhost.evil.example"):
        evil = site.client(host)
        cookie = browser.client.get_cookie(cookie_name(site), domain=hostname(site.base_url))
        evil.set_cookie(cookie_name(site), cookie.value, domain=hostname(host))
        response = evil.post("/password/forgot", data={"email": buyer.email, "csrf_token": token})
        assert response.status_code == 400, host
        assert evil.get("/").status_code == 400
        assert evil.get("/api/v1/taxonomy").get_json()["error"] == "bad_request"
    assert inbox.messages == []


def cookie_name(site) -> str:  # type: ignore[no-untyped-def]
    return site.app.config["SESSION_COOKIE_NAME"]


def hostname(url: str) -> str:
    return urlsplit(url).hostname or ""


def test_forwarded_host_headers_do_not_move_the_links(site, inbox, make_member):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser = site.browser()
    response = browser.client.post(
        "/password/forgot",
        data={"email": buyer.email, "csrf_token": browser.csrf_token()},
        headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"},
    )
    assert response.status_code == 302
    [message] = inbox.to(buyer.email)
    assert "evil.example" not in inbox.body(message)
    assert inbox.link(message, "/password/reset/").startswith(site.base_url + "/")


def test_behind_a_proxy_a_forwarded_foreign_host_is_refused(settings, make_app, make_member):
    production = dataclasses.replace(settings, env="production")
    app = make_app(production, PUBLIC_URL=PRODUCTION_URL, TRUSTED_PROXIES="1")
    client = app.test_client()
    response = client.get(
        "/api/v1/taxonomy",
        base_url="http://10.0.0.5",
        headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
    )
    assert response.status_code == 400
    response = client.get(
        "/api/v1/taxonomy",
        base_url="http://10.0.0.5",
        headers={"X-Forwarded-Host": "factoryweb.example", "X-Forwarded-Proto": "https"},
    )
    assert response.status_code == 200


def test_every_mailed_link_starts_with_the_site_address(site, inbox, make_member):
    owner = make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)
    browser = site.browser()
    browser.form("/password/forgot", {"email": owner.email})
    browser.form("/signup", signup_data("new.owner@example.com"))
    browser.form("/signup", signup_data(owner.email))
    browser.login(owner)
    browser.form("/account/members", {"email": "jo@example.com", "role": "factory_member"})
    assert len(inbox.messages) == 4
    for message in inbox.messages:
        links = [w for w in inbox.body(message).split() if "://" in w]
        assert links, inbox.body(message)
        assert all(link.startswith(site.base_url + "/") for link in links), links


def test_development_builds_links_from_public_url_when_it_is_set(
    settings, make_app, smtp_server, inbox, make_member
):
    _, port = smtp_server
    app = make_app(
        dataclasses.replace(settings, env="development"),
        PUBLIC_URL="https://fw.example",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
    )
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    client = app.test_client()
    page = client.get("/password/forgot", base_url="http://127.0.0.1:5000").get_data(as_text=True)
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    client.post(
        "/password/forgot",
        base_url="http://127.0.0.1:5000",
        data={"email": buyer.email, "csrf_token": token},
    )
    [message] = inbox.to(buyer.email)
    assert inbox.link(message, "/password/reset/").startswith("https://fw.example/password/reset/")
    assert client.get("/", base_url=EVIL).status_code == 400


# Consent to join an organization ----------------------------------------------------


def invite(browser, email, role="factory_member", name=""):
    return browser.form("/account/members", {"email": email, "display_name": name, "role": role})


def test_an_existing_account_is_invited_not_added(site, inbox, make_member, db_session):
    owner = make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)
    person = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    person.user.display_name = "Wei Secret-Name"
    db_session.commit()
    browser = site.browser()
    browser.login(owner)

    existing = invite(browser, person.email.upper())
    existing_said = flashed(browser.get(existing.headers["Location"]))
    unknown = invite(browser, "nobody.yet@example.com")
    unknown_said = flashed(browser.get(unknown.headers["Location"]))
    # The inviter cannot tell which address has an account.
    assert existing.status_code == unknown.status_code == 302
    assert existing.headers["Location"] == unknown.headers["Location"]
    assert existing_said.replace(person.email, "X") == unknown_said.replace(
        "nobody.yet@example.com", "X"
    )
    page = browser.get("/account/members").get_data(as_text=True)
    assert "Wei Secret-Name" not in page
    invited = page.split('id="invitations"')[1]
    assert person.email in invited and "nobody.yet@example.com" in invited
    # Not a member until they accept.
    assert not membership_of(db_session, person, owner.organization)
    mail = inbox.body(inbox.to(person.email)[0])
    other = inbox.body(inbox.to("nobody.yet@example.com")[0])
    assert mail.replace(links(mail)[0], "L") == other.replace(links(other)[0], "L")
    path = urlsplit(inbox.link(inbox.to(person.email)[0], "/invitations/")).path

    # The link alone does nothing: they sign in with that address, then accept.
    stranger = site.browser()
    response = stranger.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    someone_else = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    stranger.login(someone_else)
    assert stranger.get(path).status_code == 403
    assert stranger.form(path, {}).status_code == 403
    assert not membership_of(db_session, person, owner.organization)

    invitee = site.browser()
    invitee.login(person)
    page = invitee.get(path)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert owner.organization.name in page.get_data(as_text=True)
    assert membership_of(db_session, person, owner.organization) is None
    response = invitee.form(path, {})
    assert response.status_code == 302
    membership = membership_of(db_session, person, owner.organization)
    assert membership is not None and membership.role == "factory_member"
    assert invitee.get("/api/v1/me").get_json()["organization_id"] == owner.organization.id
    # Spent; and the member now shows with their own name.
    assert invitee.get(path).status_code == 404
    assert "Wei Secret-Name" in browser.get("/account/members").get_data(as_text=True)


def flashed(response) -> str:  # type: ignore[no-untyped-def]
    page = response.get_data(as_text=True)
    return " ".join(p.split(">", 1)[1].split("<")[0] for p in page.split('class="flash ')[1:])


def links(body: str) -> list[str]:
    return [word for word in body.split() if "://" in word]


def membership_of(db_session, member, organization):  # type: ignore[no-untyped-def]
    db_session.expire_all()
    return db_session.exec(
        select(Membership).where(
            Membership.user_id == member.user.id, Membership.organization_id == organization.id
        )
    ).first()


def test_an_ignored_invitation_expires_and_a_new_one_replaces_the_old(
    site, inbox, make_member, db_session
):
    owner = make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)
    person = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser = site.browser()
    browser.login(owner)
    invite(browser, person.email)
    invite(browser, person.email, role="factory_owner")
    first, second = (urlsplit(inbox.link(m, "/invitations/")).path for m in inbox.to(person.email))
    invitee = site.browser()
    invitee.login(person)
    assert invitee.get(first).status_code == 404
    assert invitee.get(second).status_code == 200
    for row in db_session.exec(select(Invitation)):
        row.expires_at = utcnow() - timedelta(seconds=1)
    db_session.commit()
    assert invitee.form(second, {}).status_code == 404
    assert membership_of(db_session, person, owner.organization) is None
    assert "invitations" not in browser.get("/account/members").get_data(as_text=True)


def test_members_are_not_invited_twice_and_roles_must_fit(site, make_member):
    owner = make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)
    member = make_member(OrganizationKind.FACTORY, Role.FACTORY_MEMBER, owner.organization)
    browser = site.browser()
    browser.login(owner)
    response = invite(browser, member.email)
    assert response.status_code == 400
    assert "this person is already a member" in response.get_data(as_text=True)
    assert invite(browser, "x@example.com", role="buyer_member").status_code == 400


# Limits ------------------------------------------------------------------------------


class Counting(io.RawIOBase):
    """A request body of `size` bytes that counts how many of them were read."""

    def __init__(self, size: int) -> None:
        self.size, self.position, self.read_bytes = size, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client measures the body this way
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = {0: offset, 1: self.position + offset, 2: self.size + offset}[whence]
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        n = max(0, min(len(buffer), self.size - self.position))
        buffer[:n] = b" " * n
        self.position += n
        self.read_bytes += n
        return n


MB = 1024 * 1024


def test_an_anonymous_64_mb_json_body_is_413_before_it_is_read(site):
    client = site.client()
    for path in ("/api/v1/orders", "/api/v1/factories", "/signup", "/login", "/oauth/token"):
        body = Counting(64 * MB)
        response = client.post(
            path, input_stream=body, content_length=64 * MB, content_type="application/json"
        )
        assert response.status_code == 413, path
        assert body.read_bytes == 0, path
    answer = client.post("/api/v1/orders", data=b"{}" * MB, content_type="application/json")
    assert answer.status_code == 413
    assert answer.get_json()["error"] == "request_entity_too_large"


def document_routes(app) -> dict[tuple[str, str], int]:
    """(method, rule) -> how many files, of every route that says it takes files."""
    found = {}
    for rule in app.url_map.iter_rules():
        allowance = getattr(app.view_functions[rule.endpoint], "files_allowed", None)
        if allowance is not None:
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                found[(method, rule.rule)] = allowance[0]
    return found


def test_document_routes_take_their_files_and_no_more(site):
    """A route that takes documents has room for 10 files of ORDERS_MAX_DOCUMENT_BYTES
    (profile imports for one); beyond that it is 413 as well, unread."""
    client = site.client()
    routes = document_routes(site.app)
    assert routes == {
        ("POST", "/orders/<int:order_id>/milestones"): 10,
        ("POST", "/orders/<int:order_id>/dispute"): 10,
        ("POST", "/api/v1/orders/<int:order_id>/milestones"): 10,
        ("POST", "/api/v1/orders/<int:order_id>/dispute"): 10,
        ("POST", "/supply/factories/<int:factory_id>/import"): 1,
        ("PUT", "/api/v1/factories/<int:factory_id>/profile"): 1,
        ("POST", "/api/v1/factories/<int:factory_id>/aas"): 1,
    }
    for (method, rule), files in routes.items():
        path = rule.replace("<int:order_id>", "1").replace("<int:factory_id>", "1")
        fits = Counting(files * 10 * MB)
        response = client.open(
            path,
            method=method,
            input_stream=fits,
            content_length=fits.size,
            content_type="application/octet-stream",
        )
        assert response.status_code != 413, (method, path)
        too_big = Counting(files * 10 * MB + 2 * MB)
        response = client.open(
            path,
            method=method,
            input_stream=too_big,
            content_length=too_big.size,
            content_type="application/octet-stream",
        )
        assert response.status_code == 413, (method, path)
        assert too_big.read_bytes == 0


def test_the_documents_limit_follows_the_orders_setting(settings, make_app):
    app = make_app(ORDERS_MAX_DOCUMENT_BYTES=20 * MB, MAX_CONTENT_LENGTH=2 * MB)
    client = app.test_client()
    body = Counting(150 * MB)
    response = client.post(
        "/api/v1/orders/1/milestones",
        input_stream=body,
        content_length=body.size,
        content_type="multipart/form-data; boundary=x",
    )
    assert response.status_code == 401  # fits: 10 x 20 MB + 2 MB
    body = Counting(3 * MB)
    response = client.post(
        "/api/v1/orders", input_stream=body, content_length=body.size, content_type="text/plain"
    )
    assert response.status_code == 413


def test_the_documents_routes_count_files_as_the_orders_area_does(settings, make_app):
    assert max(document_routes(make_app()).values()) == documents.MAX_DOCUMENTS


def test_authentication_comes_before_body_validation(site, make_member):
    client = site.client()
    for headers in ({}, {"Authorization": "Bearer fwt_forged"}, {"Authorization": "Basic eDp5"}):
        response = client.post("/api/v1/orders", json={"lines": "x"}, headers=headers)
        assert response.status_code == 401, headers
        assert response.get_json()["error"] == "unauthorized"
    machine = site.browser()
    machine.login(make_member(OrganizationKind.FACTORY, Role.FACTORY_MEMBER))
    # Signed in but in the wrong role: 403, still before the body.
    assert machine.api("POST", "/api/v1/factories", json={"lines": "x"}).status_code == 403


def test_the_document_declares_the_answers_that_can_happen(site):
    document = site.client().get("/api/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            answers = operation["responses"]
            write = method in ("post", "put", "patch", "delete")
            signed_in = bool(operation.get("security"))
            assert ("400" in answers) == write, (method, path)
            assert ("413" in answers) == write, (method, path)
            if signed_in:
                assert "401" in answers, (method, path)
    view_functions = site.app.view_functions
    for endpoint in LIMITED_ENDPOINTS:
        rule = next(r for r in site.app.url_map.iter_rules() if r.endpoint == endpoint)
        item = document["paths"].get(rule.rule)
        if item is not None:
            assert all("429" in op["responses"] for op in item.values()), rule.rule
        assert endpoint in view_functions


# Quiet answers --------------------------------------------------------------------------


def signup_data(email: str, **overrides: str) -> dict[str, str]:
    return {
        "display_name": "Mei Lin",
        "email": email,
        "password": "milling-all-night-42",
        "confirm": "milling-all-night-42",
        "organization_name": "Lin Precision",
        "kind": "factory",
        "country": "CN",
        **overrides,
    }


def answer_of(browser, response) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    """What a visitor sees: the status, where it leads, and the page there."""
    location = response.headers.get("Location", "")
    page = browser.get(location).get_data(as_text=True) if location else ""
    # Each visitor's own CSRF token aside.
    page = re.sub(r'(name="csrf[-_]token"[^>]*(?:content|value)=")[^"]*', r"\1", page)
    return response.status_code, location, page


def test_signup_answers_the_same_whether_the_address_has_an_account(
    site, inbox, make_member, db_session
):
    existing = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    before = existing.user.password_hash
    taken = site.browser()
    free = site.browser()
    taken_answer = answer_of(taken, taken.form("/signup", signup_data(existing.email)))
    free_answer = answer_of(free, free.form("/signup", signup_data("mei.lin@example.com")))
    assert taken_answer == free_answer
    assert taken_answer[:2] == (302, "/signup/sent")

    # Nothing was created or changed for the taken address; its owner is told the truth.
    db_session.expire_all()
    assert db_session.get(User, existing.user.id).password_hash == before
    assert (
        db_session.exec(select(Organization).where(Organization.name == "Lin Precision")).all()
        == []
    )
    assert [r.email for r in db_session.exec(select(SignupRequest))] == ["mei.lin@example.com"]
    told = inbox.body(inbox.to(existing.email)[0])
    assert "already has one" in told and "/signup/confirm/" not in told
    welcome = inbox.body(inbox.to("mei.lin@example.com")[0])
    assert "/signup/confirm/" in welcome
    assert taken.get("/api/v1/me").status_code == free.get("/api/v1/me").status_code == 401


def test_a_sign_up_link_for_an_address_taken_meanwhile_creates_nothing(site, inbox, make_member):
    browser = site.browser()
    browser.form("/signup", signup_data("late@example.com"))
    path = urlsplit(inbox.link(inbox.to("late@example.com")[0], "/signup/confirm/")).path
    make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER, email="late@example.com")
    response = browser.form(path, {})
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    assert browser.get("/api/v1/me").status_code == 401


def test_password_reset_answers_the_same_whether_the_address_has_an_account(
    site, inbox, make_member
):
    existing = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    one, other = site.browser(), site.browser()
    known = answer_of(one, one.form("/password/forgot", {"email": existing.email}))
    unknown = answer_of(other, other.form("/password/forgot", {"email": "nobody@example.com"}))
    assert known == unknown
    assert "/password/reset/" in inbox.body(inbox.to(existing.email)[0])
    told = inbox.body(inbox.to("nobody@example.com")[0])
    assert "no account uses it" in told and "/password/reset/" not in told


def test_a_refused_request_mails_nothing(site, inbox, make_member):
    """Mail leaves after the commit: a refused form (here a sign-up whose passwords
    differ, an invitation with a role the organization lacks) sends none."""
    owner = make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)
    browser = site.browser()
    assert browser.form("/signup", signup_data("a@example.com", confirm="other")).status_code == 400
    browser.login(owner)
    assert invite(browser, "b@example.com", role="operator").status_code == 400
    assert inbox.messages == []


def test_rate_limited_answers_are_json_on_the_api_side(settings, make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_TOKEN="1 per minute")
    client = app.test_client()
    client.post("/oauth/token", data={"grant_type": "client_credentials"})
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 429
    assert json.loads(response.get_data())["error"] == "too_many_requests"
    assert response.headers["Retry-After"]
