"""Rate limits on sign-in, sign-up, password reset and the token endpoint, counted in the
real Redis at 127.0.0.1:6379 under a key prefix of this test run. The test application
switches limits off by default; these tests switch them on."""

import dataclasses
import logging
import secrets
import socket

import pytest
import redis

from marketplace.accounts.models import OrganizationKind, Role

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def redis_client():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as error:  # pragma: no cover - depends on the machine
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {error}")
    yield client
    client.close()


@pytest.fixture
def key_prefix(redis_client):
    prefix = f"fwtest-{secrets.token_hex(6)}"
    yield prefix
    for key in redis_client.scan_iter(f"*{prefix}*"):
        redis_client.delete(key)


@pytest.fixture
def limited_app(make_app, key_prefix):
    return make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_KEY_PREFIX=key_prefix,
        RATELIMIT_LOGIN="3 per minute",
        RATELIMIT_LOGIN_PER_ACCOUNT="2 per minute",
        RATELIMIT_SIGNUP="2 per minute",
        RATELIMIT_PASSWORD_RESET="2 per minute",
        RATELIMIT_TOKEN="3 per minute",
    )


def login(browser, email, password="wrong-password", address="10.0.0.1"):
    return browser.client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": browser.csrf_token()},
        environ_base={"REMOTE_ADDR": address},
    )


def test_login_attempts_are_limited_per_address_in_redis(
    limited_app, browser_for, redis_client, key_prefix
):
    browser = browser_for(limited_app)
    answers = [login(browser, f"user{i}@example.com") for i in range(4)]
    assert [a.status_code for a in answers] == [400, 400, 400, 429]
    # The refusal is a page of the site, in its layout, that says what to do.
    refusal = answers[-1].get_data(as_text=True)
    assert 'class="error-page"' in refusal and "Please wait a moment" in refusal
    assert redis_client.keys(f"*{key_prefix}*"), "the counters live in Redis"
    # Another address is not held back by this one.
    assert login(browser, "user9@example.com", address="10.0.0.2").status_code == 400
    # Pages still open; only attempts count.
    assert browser.client.get("/login", environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 200


def test_login_attempts_are_limited_per_account_across_addresses(
    limited_app, browser_for, make_member
):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser = browser_for(limited_app)
    assert login(browser, buyer.email, address="10.1.0.1").status_code == 400
    assert login(browser, buyer.email, address="10.1.0.2").status_code == 400
    blocked = login(browser, buyer.email, password=buyer.password, address="10.1.0.3")
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)
    assert blocked.headers.get("Retry-After")
    assert browser.get("/api/v1/me").status_code == 401


def test_signup_and_password_reset_are_limited(limited_app, browser_for):
    browser = browser_for(limited_app)
    statuses = [
        browser.form("/signup", {"email": f"s{i}@example.com"}).status_code for i in range(3)
    ]
    assert statuses == [400, 400, 429]
    statuses = [
        browser.form("/password/forgot", {"email": f"r{i}@example.com"}).status_code
        for i in range(3)
    ]
    assert statuses == [302, 302, 429]


def test_token_endpoint_is_limited_with_a_json_answer(limited_app):
    client = limited_app.test_client()
    statuses = [
        client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=("fwc_x", "nope")
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    body = client.post("/oauth/token", data={"grant_type": "client_credentials"}).get_json()
    assert body["error"] == "too_many_requests"


def test_limits_are_off_in_the_default_test_application(browser):
    statuses = {login(browser, "x@example.com").status_code for _ in range(12)}
    assert statuses == {400}


def test_limits_are_on_outside_tests_with_memory_storage_by_default(make_app, browser_for):
    app = make_app(TESTING=False, RATELIMIT_LOGIN="1 per minute")
    assert app.config["RATELIMIT_ENABLED"] is True
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    browser = browser_for(app)
    assert login(browser, "a@example.com").status_code == 400
    assert login(browser, "b@example.com").status_code == 429


def test_behind_trusted_proxies_each_visitor_has_its_own_count(make_app, browser_for, key_prefix):
    app = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_KEY_PREFIX=key_prefix,
        RATELIMIT_LOGIN="2 per minute",
        RATELIMIT_LOGIN_PER_ACCOUNT="100 per minute",
        TRUSTED_PROXIES="1",
    )
    browser = browser_for(app)

    def through_proxy(visitor):
        return browser.client.post(
            "/login",
            data={"email": "a@example.com", "password": "x", "csrf_token": browser.csrf_token()},
            environ_base={"REMOTE_ADDR": "10.0.0.1"},
            headers={"X-Forwarded-For": f"spoofed, {visitor}"},
        ).status_code

    assert [through_proxy("203.0.113.7") for _ in range(3)] == [400, 400, 429]
    # Another visitor behind the same load balancer is not blocked by the first one, and
    # what a client writes in front of the proxy's own entry is not trusted.
    assert through_proxy("203.0.113.8") == 400


def test_trusted_proxies_must_be_a_small_whole_number(make_app):
    from marketplace.config import ConfigurationError

    with pytest.raises(ConfigurationError, match="TRUSTED_PROXIES"):
        make_app(TRUSTED_PROXIES="yes")


@pytest.fixture
def refused_redis_url():
    """A Redis URL whose port is bound by this test and never listens: connections to it
    are refused, as when Redis is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"


def test_a_redis_outage_moves_the_counters_into_memory(
    make_app, browser_for, refused_redis_url, caplog
):
    app = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=refused_redis_url,
        RATELIMIT_LOGIN="3 per minute",
        RATELIMIT_LOGIN_PER_ACCOUNT="100 per minute",
    )
    browser = browser_for(app)
    with caplog.at_level(logging.WARNING, logger="flask-limiter"):
        statuses = [login(browser, f"user{i}@example.com").status_code for i in range(4)]
    # Sign-in still answers, and is still limited.
    assert statuses == [400, 400, 400, 429]
    assert "Rate limit storage unreachable" in caplog.text


def test_a_redis_outage_without_the_fallback_lets_sign_in_through_and_logs_it(
    make_app, browser_for, make_member, refused_redis_url, caplog
):
    app = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=refused_redis_url,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=False,
        RATELIMIT_LOGIN="1 per minute",
    )
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser = browser_for(app)
    with caplog.at_level(logging.ERROR, logger="flask-limiter"):
        assert login(browser, buyer.email).status_code == 400
        assert login(browser, buyer.email, password=buyer.password).status_code == 302
    assert browser.get("/api/v1/me").status_code == 200
    assert "Failed to rate limit" in caplog.text
    assert "Connection refused" in caplog.text or "ConnectionError" in caplog.text


def test_production_warns_when_the_counters_live_in_process_memory(settings, make_app, caplog):
    production = dataclasses.replace(settings, env="production")
    with caplog.at_level(logging.WARNING, logger="marketplace.security"):
        make_app(production, RATELIMIT_ENABLED=True, PUBLIC_URL="https://localhost")
    assert "set RATELIMIT_STORAGE_URI" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="marketplace.security"):
        make_app(
            production,
            RATELIMIT_ENABLED=True,
            RATELIMIT_STORAGE_URI=REDIS_URL,
            PUBLIC_URL="https://localhost",
        )
        make_app(RATELIMIT_ENABLED=True)
    assert "RATELIMIT_STORAGE_URI" not in caplog.text
