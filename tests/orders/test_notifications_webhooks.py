"""Item 5: notifications in the web UI, and webhooks per organization signed with an
HMAC secret, retried with backoff, with a delivery log; tried against a real HTTP
server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from sqlmodel import select

from marketplace.orders.models import (
    DeliveryState,
    MatchRunOrder,
    Order,
    OrderState,
    Proposal,
    WebhookDelivery,
)
from marketplace.orders.notify import outbound
from marketplace.orders.notify.webhooks import SIGNATURE_HEADER, attempt_delivery, verify
from marketplace.orders.posting.service import create_order
from marketplace.orders.proposals import service as service
from marketplace.orders.runs.service import request_matching
from marketplace.orders.workers.matching import execute_run
from tests.orders.conftest import line, order_input, pay_order, principal


class Receiver:
    """A webhook receiver: answers with the next status of `script` (then 200)."""

    def __init__(self, script: list[int]) -> None:
        self.script = list(script)
        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.script.pop(0) if receiver.script else 200
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.requests.append((headers, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/factoryweb"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    with Receiver([500, 503]) as r:
        yield r


@pytest.fixture
def as_if_public(monkeypatch):
    """The loopback receivers of these tests stand for receivers on the internet, whose
    answers the delivery log shows (a private address's are kept from the user)."""
    monkeypatch.setattr(outbound, "is_global", lambda address: True)


def deliver_all(database, dispatcher, **settings):
    """Send what is queued, then every retry the dispatcher was asked to schedule."""
    attempts = 0
    while True:
        queued = dispatcher.take_deliveries() + [d for d, _ in dispatcher.retries]
        dispatcher.retries.clear()
        if not queued:
            return attempts
        for delivery_id in queued:
            attempt_delivery(database, delivery_id, dispatcher=dispatcher, **settings)
            attempts += 1


def test_signed_webhooks_retried_with_backoff_and_logged(
    browser, db_session, make_shop, buyer, dispatcher, database, receiver, as_if_public
):
    shop = make_shop(hours=40, rate_minor=5000)
    browser.login(buyer)
    response = browser.form(
        "/webhooks", {"url": receiver.url, "events": ["order.proposed", "order.confirmed"]}
    )
    assert response.status_code == 303
    endpoint_page = browser.get(response.headers["Location"]).get_data(as_text=True)
    secret = endpoint_page.split('<code id="secret">')[1].split("</code>")[0]
    assert len(secret) == 64

    who = principal(db_session, buyer)
    order = create_order(db_session, who, order_input(line(hours=Decimal(10))), submit=True)
    request_matching(db_session, who, order.id, 2)
    db_session.commit()
    for run_id in dispatcher.take_runs():
        execute_run(database, run_id, workers=1, dispatcher=dispatcher)

    attempts = deliver_all(database, dispatcher, backoff_base_s=30, max_attempts=5)
    assert attempts == 3  # 500, 503, then 200
    delivery = db_session.exec(select(WebhookDelivery)).one()
    db_session.refresh(delivery)
    assert delivery.state == DeliveryState.SUCCEEDED and delivery.attempts == 3
    assert delivery.last_status == 200 and delivery.delivered_at is not None
    statuses = [status for _, _, status in receiver.requests]
    assert statuses == [500, 503, 200]
    for headers, body, _ in receiver.requests:
        assert verify(secret, body, headers[SIGNATURE_HEADER.lower()])
        assert headers["x-factoryweb-event"] == "order.proposed"
        payload = json.loads(body)
        assert payload["event"] == "order.proposed"
        assert payload["data"]["order_id"] == order.id
    assert not verify(
        "another secret", receiver.requests[0][1], receiver.requests[0][0][SIGNATURE_HEADER.lower()]
    )
    # The same event id on every attempt, so receivers can drop duplicates.
    assert len({json.loads(b)["id"] for _, b, _ in receiver.requests}) == 1

    # Backoff doubles: the dispatcher was asked to retry after 30 s, then 60 s.
    # (deliver_all re-ran them at once; the intervals are what a worker would wait.)
    # The factory accepts and the buyer pays: order.confirmed reaches the buyer's endpoint.
    proposal = db_session.exec(select(Proposal).where(Proposal.order_id == order.id)).one()
    service.accept(db_session, principal(db_session, shop.owner), proposal.id)
    db_session.commit()
    pay_order(db_session, dispatcher, database, buyer, order.id)
    deliver_all(database, dispatcher)
    events = [json.loads(b)["event"] for _, b, _ in receiver.requests]
    assert events[-1] == "order.confirmed"
    confirmed = json.loads(receiver.requests[-1][1])["data"]
    assert confirmed["price_minor"] == 10 * 5000

    log = browser.get(f"/api/v1/webhooks/{delivery.endpoint_id}/deliveries").get_json()
    assert [d["state"] for d in log["deliveries"]] == ["succeeded", "succeeded"]
    assert log["deliveries"][-1]["attempts"] == 3
    # Every attempt is in the log: when, how long, and the answer.
    history = log["deliveries"][-1]["history"]
    assert [a["number"] for a in history] == [1, 2, 3]
    assert [a["status_code"] for a in history] == [500, 503, 200]
    assert [a["error"] for a in history] == ["HTTP 500", "HTTP 503", ""]
    assert all(a["duration_ms"] >= 0 for a in history)
    times = [a["attempted_at"] for a in history]
    assert times == sorted(times) and times[0] >= log["deliveries"][-1]["created_at"]
    assert [a["status_code"] for a in log["deliveries"][0]["history"]] == [200]
    page = browser.get(f"/webhooks/{delivery.endpoint_id}").get_data(as_text=True)
    assert "order.confirmed" in page and "order.proposed" in page
    attempts = page.split(f'id="attempts-{delivery.id}">')[1].split("</ol>")[0]
    assert attempts.count("<li>") == 3
    assert (
        "HTTP 500 after" in attempts and "HTTP 503 after" in attempts and ": 200 after" in attempts
    )


def test_backoff_doubles_and_gives_up(db_session, make_member, database, dispatcher, as_if_public):
    from marketplace.accounts.models import OrganizationKind, Role
    from marketplace.orders.notify import events
    from marketplace.orders.notify.webhooks import create_endpoint

    member = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    with Receiver([500] * 10) as failing:
        create_endpoint(db_session, member.organization.id, failing.url)
        events.publish(db_session, member.organization.id, events.ORDER_DELIVERED, {"order_id": 1})
        db_session.commit()
        [delivery_id] = dispatcher.take_deliveries()
        for _ in range(4):
            attempt_delivery(
                database, delivery_id, dispatcher=dispatcher, backoff_base_s=2, max_attempts=4
            )
    assert [delay for _, delay in dispatcher.retries] == [2, 4, 8]
    delivery = db_session.get(WebhookDelivery, delivery_id)
    db_session.refresh(delivery)
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == 4
    assert delivery.last_error == "HTTP 500" and delivery.next_attempt_at is None


def test_unreachable_endpoint_is_retried(
    db_session, make_member, database, dispatcher, as_if_public
):
    from marketplace.accounts.models import OrganizationKind, Role
    from marketplace.orders.notify import events
    from marketplace.orders.notify.webhooks import create_endpoint

    member = make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)
    # A port bound but not listening refuses connections, and stays ours (a port merely
    # closed again could be taken by another process meanwhile).
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/hooks/factoryweb"
        create_endpoint(db_session, member.organization.id, url)
        events.publish(db_session, member.organization.id, events.MILESTONE_ADDED, {"order_id": 1})
        db_session.commit()
        [delivery_id] = dispatcher.take_deliveries()
        delivery = attempt_delivery(database, delivery_id, dispatcher=dispatcher, timeout_s=2)
    assert delivery.state == DeliveryState.PENDING and delivery.last_status is None
    assert "Connection refused" in delivery.last_error or "URLError" in delivery.last_error
    assert dispatcher.retries == [(delivery_id, 30.0)]


def test_notifications_bell_and_list(
    browser, new_browser, db_session, make_shop, buyer, dispatcher, database
):
    shop = make_shop(hours=40)
    who = principal(db_session, buyer)
    order = create_order(db_session, who, order_input(line(hours=Decimal(10))), submit=True)
    request_matching(db_session, who, order.id, 2)
    db_session.commit()
    for run_id in dispatcher.take_runs():
        execute_run(database, run_id, workers=1)

    factory = new_browser()
    factory.login(shop.owner)
    home = factory.get("/").get_data(as_text=True)
    assert 'id="notification-bell"' in home
    assert 'aria-label="Notifications: 1 unread"' in home
    assert '<span class="count" aria-hidden="true">1</span>' in home
    page = factory.get("/notifications").get_data(as_text=True)
    assert "New work proposed to you on “Brackets”" in page
    proposal = db_session.exec(select(Proposal)).one()
    factory.form(f"/proposals/{proposal.id}/decline", {"note": "full"})

    browser.login(buyer)
    listing = browser.get("/api/v1/notifications").get_json()
    kinds = [n["kind"] for n in listing["notifications"]]
    assert kinds[:2] == ["proposal.declined", "order.proposed"] and listing["unread"] == 2
    assert "declined its part of “Brackets”" in browser.get("/notifications").get_data(as_text=True)
    browser.form("/notifications/read", {})
    assert '<span class="count">' not in browser.get("/").get_data(as_text=True)
    # The factory's notifications are its own.
    assert browser.get("/api/v1/notifications").get_json()["unread"] == 0
    assert factory.get("/api/v1/notifications").get_json()["unread"] == 1


def test_webhook_endpoints_are_the_organizations_own(browser, new_browser, make_member):
    from marketplace.accounts.models import OrganizationKind, Role

    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    bad = browser.api("POST", "/api/v1/webhooks", json={"url": "ftp://example.com/x"})
    assert bad.status_code == 422 and bad.get_json()["fields"][0]["field"] == "url"
    bad = browser.api(
        "POST", "/api/v1/webhooks", json={"url": "https://example.com/", "events": ["order.paid"]}
    )
    assert bad.get_json()["fields"][0]["field"] == "events"
    created = browser.api("POST", "/api/v1/webhooks", json={"url": "https://example.com/hook"})
    assert created.status_code == 201
    endpoint = created.get_json()
    other = new_browser()
    other.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    assert other.get(f"/webhooks/{endpoint['id']}").status_code == 404
    assert other.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries").status_code == 404
    assert other.api("DELETE", f"/api/v1/webhooks/{endpoint['id']}").status_code == 404
    assert other.get("/api/v1/webhooks").get_json()["endpoints"] == []
    assert browser.api("DELETE", f"/api/v1/webhooks/{endpoint['id']}").status_code == 204


def test_background_retries_wait_and_then_succeed(committed):
    """The thread dispatcher sleeps the backoff for real before each retry."""
    import time

    from marketplace.accounts.models import OrganizationKind
    from marketplace.orders.notify import events
    from marketplace.orders.notify.webhooks import create_endpoint
    from marketplace.orders.workers.dispatchers import ThreadDispatcher
    from tests.orders.conftest import organization

    dispatcher = ThreadDispatcher(committed, webhook_settings={"backoff_base_s": 0.2})
    with Receiver([502, 502]) as flaky:
        # The first attempt starts as the session commits: the clock starts before that.
        started = time.monotonic()
        with committed.session() as session:
            session.info["dispatcher"] = dispatcher
            org = organization(session, OrganizationKind.BUYER)
            create_endpoint(session, org, flaky.url)
            events.publish(session, org, events.ORDER_CONFIRMED, {"order_id": 7})
        assert dispatcher.join(timeout=60), "the deliveries did not finish"
        elapsed = time.monotonic() - started
    assert [status for _, _, status in flaky.requests] == [502, 502, 200]
    assert elapsed >= 0.2 + 0.4  # two pauses: base, then twice the base
    with committed.session() as session:
        delivery = session.exec(
            select(WebhookDelivery).where(
                WebhookDelivery.payload["organization_id"].as_integer() == org
            )
        ).one()
        assert delivery.state == DeliveryState.SUCCEEDED and delivery.attempts == 3


class Garbage:
    """A receiver that reads the request and answers bytes that are not HTTP at all."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.hits = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/hooks/factoryweb"

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed: the test is over
                return
            with connection:
                connection.settimeout(5)
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    request += chunk
                self.hits += 1
                connection.sendall(self.answer)

    def __enter__(self) -> Garbage:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.listener.close()
        self.thread.join(5)


def test_a_receiver_answering_garbage_is_a_failed_attempt_retried_then_given_up(
    browser, db_session, make_member, database, dispatcher, caplog, as_if_public
):
    """A malformed status line (http.client.BadStatusLine, no OSError) is a failed
    attempt like any other: counted, logged, kept in the history, retried with backoff
    up to the maximum; not a rolled-back attempt that a periodic sweep retries forever."""
    from marketplace.accounts.models import OrganizationKind, Role
    from marketplace.orders.models import WebhookAttempt
    from marketplace.orders.notify import events
    from marketplace.orders.notify.webhooks import create_endpoint, deliver_due

    member = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    with Garbage(b"\x00SPAM \xff\r\n\r\n") as garbage:
        endpoint = create_endpoint(db_session, member.organization.id, garbage.url)
        events.publish(db_session, member.organization.id, events.ORDER_DELIVERED, {"order_id": 1})
        db_session.commit()
        [delivery_id] = dispatcher.take_deliveries()
        with caplog.at_level("WARNING", logger="marketplace.orders.notify.webhooks"):
            for _ in range(2):
                delivery = attempt_delivery(
                    database, delivery_id, dispatcher=dispatcher, backoff_base_s=2, max_attempts=3
                )
                assert delivery.state == DeliveryState.PENDING
            # The periodic sweep: the delivery is not due yet, so it is left alone ...
            assert deliver_due(database, backoff_base_s=2, max_attempts=3) == 0
            # ... until its time comes; then the last attempt gives up.
            db_session.execute(
                sa.update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id)
                .values(next_attempt_at=sa.func.now())
            )
            db_session.commit()
            assert deliver_due(database, backoff_base_s=2, max_attempts=3) == 1
            assert deliver_due(database, backoff_base_s=2, max_attempts=3) == 0
        hits = garbage.hits
    assert hits == 3
    db_session.expire_all()
    delivery = db_session.get(WebhookDelivery, delivery_id)
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == 3
    assert delivery.last_status is None and delivery.next_attempt_at is None
    assert delivery.last_error.startswith("BadStatusLine: ")
    assert "\x00" not in delivery.last_error and "\\x00SPAM" in delivery.last_error
    assert [d for _, d in dispatcher.retries] == [2, 4]
    history = db_session.exec(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.number)
    ).all()
    assert [(a.number, a.status_code) for a in history] == [(1, None), (2, None), (3, None)]
    assert {a.error for a in history} == {delivery.last_error}
    failures = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(failures) == 3 and "BadStatusLine" in failures[0].getMessage()
    assert "giving up" in failures[-1].getMessage()

    browser.login(member)
    [logged] = browser.get(f"/api/v1/webhooks/{endpoint.id}/deliveries").get_json()["deliveries"]
    assert [a["error"] for a in logged["history"]] == [delivery.last_error] * 3
    page = browser.get(f"/webhooks/{endpoint.id}").get_data(as_text=True)
    assert page.count("BadStatusLine") == 4  # the last answer, and each of the attempts


def test_endpoint_addresses_that_cannot_be_parsed_are_named(browser, make_member, db_session):
    from marketplace.accounts.models import OrganizationKind, Role
    from marketplace.orders.models import WebhookEndpoint

    browser.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    for url in (
        "http://[abc",  # urlsplit: Invalid IPv6 URL
        "http://example.com:99999/",  # a port out of range
        "http://exa mple.com/",
        "http://example.com/\nX-Injected: 1",
        "https://" + "a" * 500 + ".example.com/",
    ):
        response = browser.api("POST", "/api/v1/webhooks", json={"url": url})
        assert response.status_code == 422, (url, response.get_data(as_text=True))
        assert [f["field"] for f in response.get_json()["fields"]] == ["url"]
        response = browser.form("/webhooks", {"url": url, "events": ["order.confirmed"]})
        assert response.status_code == 400, url
        assert 'class="field-error" id="url-errors"' in response.get_data(as_text=True)
    browser.get("/lang/zh")
    response = browser.form("/webhooks", {"url": "http://[abc", "events": ["order.confirmed"]})
    error = response.get_data(as_text=True).split('id="url-errors"')[1].split("</ul>")[0]
    assert "http" in error and "must be" not in error
    assert db_session.exec(select(WebhookEndpoint)).all() == []


def test_milestones_and_delivery_reach_each_party_of_its_own_work_only(
    browser, new_browser, db_session, make_shop, buyer, dispatcher, database, app
):
    """The real flows (a factory reports a milestone on the web, the buyer confirms
    delivery) publish `milestone.added` and `order.delivered` to real receivers: the buyer
    hears of every factory's milestones, a factory only of its own, and every factory of
    the order (no other) hears of the delivery."""
    from pathlib import Path

    from marketplace.orders.models import Notification
    from marketplace.orders.notify.webhooks import create_endpoint
    from marketplace.orders.production import documents
    from marketplace.orders.production.service import add_milestone
    from tests.orders.test_production import PDF, confirmed_order

    a = make_shop(hours=20, rate_minor=5000)
    b = make_shop(hours=20, rate_minor=6000)
    bystander = make_shop(hours=40, rate_minor=9000, weeks=1)  # no work on this order
    order = confirmed_order(db_session, dispatcher, database, buyer, a, b)
    assert {p.factory_id for p in db_session.exec(select(Proposal))} == {a.id, b.id}
    dispatcher.take_deliveries()
    with (
        Receiver([]) as to_buyer,
        Receiver([]) as to_a,
        Receiver([]) as to_b,
        Receiver([]) as to_bystander,
    ):
        receivers = {
            buyer.organization.id: to_buyer,
            a.owner.organization.id: to_a,
            b.owner.organization.id: to_b,
            bystander.owner.organization.id: to_bystander,
        }
        for organization_id, receiver in receivers.items():
            create_endpoint(db_session, organization_id, receiver.url)
        db_session.commit()

        def heard(receiver, event):
            return [
                json.loads(body)
                for headers, body, _ in receiver.requests
                if headers["x-factoryweb-event"] == event
            ]

        factory_a = new_browser()
        factory_a.login(a.owner)
        response = factory_a.form(f"/orders/{order.id}/milestones", {"kind": "started"})
        assert response.status_code == 303
        deliver_all(database, dispatcher)
        [told_buyer] = heard(to_buyer, "milestone.added")
        [told_a] = heard(to_a, "milestone.added")
        for payload, organization in ((told_buyer, buyer), (told_a, a.owner)):
            assert payload["organization_id"] == organization.organization.id
            data = payload["data"]
            assert (data["order_id"], data["factory_id"], data["kind"]) == (
                order.id,
                a.id,
                "started",
            )
            assert data["order_state"] == OrderState.IN_PRODUCTION
        assert to_b.requests == [] and to_bystander.requests == []

        # The rest of production, through the service the pages and the API call.
        folder = Path(app.config["ORDERS_UPLOAD_FOLDER"])
        for shop in (a, b):
            owner = principal(db_session, shop.owner)
            for kind, extra in (
                ("started", {}),
                ("qa_passed", {"uploads": [documents.Upload("qa.pdf", PDF)]}),
                ("shipped", {"carrier": "DHL", "tracking_number": f"JD{shop.id:010d}"}),
            ):
                if shop is a and kind == "started":
                    continue
                add_milestone(db_session, owner, order.id, kind, upload_folder=folder, **extra)
                db_session.commit()
        deliver_all(database, dispatcher)
        assert db_session.get(Order, order.id).state == OrderState.SHIPPED
        by_buyer = [
            (m["data"]["factory_id"], m["data"]["kind"]) for m in heard(to_buyer, "milestone.added")
        ]
        assert sorted(by_buyer) == sorted(
            (shop.id, kind) for shop in (a, b) for kind in ("started", "qa_passed", "shipped")
        )
        for shop, receiver in ((a, to_a), (b, to_b)):
            mine = heard(receiver, "milestone.added")
            assert len(mine) == 3 and {m["data"]["factory_id"] for m in mine} == {shop.id}
            assert all(
                h["x-factoryweb-event"] == "milestone.added" for h, _, _ in receiver.requests
            )

        browser.login(buyer)
        response = browser.form(f"/orders/{order.id}/deliver", {})
        assert response.status_code == 303
        deliver_all(database, dispatcher)
        for organization_id, receiver in receivers.items():
            delivered = heard(receiver, "order.delivered")
            if receiver is to_bystander:
                assert delivered == [] and receiver.requests == []
                continue
            [payload] = delivered
            assert payload["organization_id"] == organization_id
            assert payload["data"]["order_id"] == order.id
            assert payload["data"]["state"] == OrderState.DELIVERED
            # The order, its state and when: nothing of who else made it.
            assert set(payload["data"]) == {"order_id", "state", "delivered_at"}

    # The notifications in the web UI follow the same lines.
    kinds: dict[int, list[str]] = {}
    for n in db_session.exec(select(Notification).where(Notification.order_id == order.id)):
        kinds.setdefault(n.organization_id, []).append(n.kind)
    assert kinds[buyer.organization.id].count("milestone.added") == 6
    for shop in (a, b):
        assert kinds[shop.owner.organization.id].count("order.delivered") == 1
        assert "milestone.added" not in kinds[shop.owner.organization.id]
    assert bystander.owner.organization.id not in kinds


def test_without_celery_the_serving_process_keeps_house(committed, committed_app):
    """In thread mode the web process itself expires proposals past their deadline (and
    re-matches their work) and sends the webhook deliveries that are due, every
    ORDERS_HOUSEKEEPING_INTERVAL_S, from its first request on: no page needs opening, no
    cron job is needed."""
    import time
    from datetime import timedelta

    from factories.models import utcnow
    from marketplace.accounts.models import OrganizationKind, Role
    from marketplace.orders.models import MatchRun, MatchRunKind, MatchRunState, ProposalState
    from marketplace.orders.notify import events
    from marketplace.orders.notify.webhooks import create_endpoint
    from marketplace.orders.workers.dispatchers import ManualDispatcher
    from tests.conftest import Browser
    from tests.orders.conftest import create_shop, organization, person

    manual = ManualDispatcher()
    with committed.session() as session:
        session.info["dispatcher"] = manual
        shop_org = organization(session, OrganizationKind.FACTORY)
        create_shop(session, shop_org, "waterjet_cutting", materials=("titanium",), hours=40)
        member = person(session, OrganizationKind.BUYER, Role.BUYER_MEMBER)
        who = principal(session, member)
        order = create_order(
            session,
            who,
            order_input(line(process_code="waterjet_cutting", material="titanium")),
            submit=True,
        )
        run = request_matching(session, who, order.id, 2)
        order_id, run_id = order.id, run.id
    execute_run(committed, run_id, workers=1, dispatcher=manual)
    with Receiver([]) as receiver:
        with committed.session() as session:
            session.info["dispatcher"] = manual  # queued, and left for the housekeeping
            proposal = session.exec(select(Proposal).where(Proposal.order_id == order_id)).one()
            proposal.expires_at = utcnow() - timedelta(minutes=1)
            proposal_id = proposal.id
            create_endpoint(session, member.organization.id, receiver.url, ["order.delivered"])
            events.publish(
                session, member.organization.id, events.ORDER_DELIVERED, {"order_id": order_id}
            )

        app = committed_app("thread", ORDERS_HOUSEKEEPING_INTERVAL_S=0.2)
        time.sleep(1.0)  # five rounds' time: none ran, the app is not serving yet
        assert receiver.requests == []
        Browser(app.test_client()).get("/")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with committed.session() as session:
                state = session.get(Proposal, proposal_id).state
                rematches = session.exec(
                    select(MatchRun)
                    .join(MatchRunOrder, MatchRunOrder.match_run_id == MatchRun.id)
                    .where(
                        MatchRunOrder.order_id == order_id, MatchRun.kind == MatchRunKind.REMATCH
                    )
                ).all()
            if state == ProposalState.EXPIRED and receiver.requests and rematches:
                break
            time.sleep(0.1)
        assert state == ProposalState.EXPIRED
        assert [json.loads(b)["data"] for _, b, _ in receiver.requests] == [{"order_id": order_id}]
        assert rematches, "the expired work was not re-matched"
        dispatcher = app.extensions["factoryweb.orders.dispatcher"]
        assert dispatcher.stop_housekeeping(30) and dispatcher.join(60)
    with committed.session() as session:
        # The only option let its proposal expire: the order is open again.
        assert session.get(Order, order_id).state == OrderState.OPEN
        finished = {session.get(MatchRun, r.id).state for r in rematches}
        assert finished == {MatchRunState.SUCCEEDED}


def test_a_celery_retry_the_sweep_already_made_waits_for_the_next_one(
    committed, start_celery_worker
):
    """A retry scheduled through Celery (a countdown task) finds the delivery already
    attempted by beat's sweep of due deliveries: it is skipped, so the receiver is not
    called again before the backoff of the sweep's own attempt has passed."""
    import time

    from marketplace.accounts.models import OrganizationKind
    from marketplace.orders.models import WebhookAttempt
    from marketplace.orders.notify import events
    from marketplace.orders.notify.webhooks import create_endpoint
    from marketplace.orders.workers.dispatchers import CeleryDispatcher
    from tests.orders.conftest import organization

    broker, queue, worker, log = start_celery_worker(WEBHOOK_BACKOFF_BASE_S="3")
    celery = CeleryDispatcher(broker, queue)
    with Receiver([500, 500]) as flaky:
        with committed.session() as session:
            session.info["dispatcher"] = celery
            org = organization(session, OrganizationKind.BUYER)
            create_endpoint(session, org, flaky.url)
            events.publish(session, org, events.ORDER_CONFIRMED, {"order_id": 11})
        deadline = time.monotonic() + 60
        while not flaky.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flaky.requests, f"the worker made no first attempt: {log.read_text()}"
        with committed.session() as session:
            [delivery_id] = session.exec(
                select(WebhookDelivery.id).where(
                    WebhookDelivery.payload["organization_id"].as_integer() == org
                )
            ).all()
        # The sweep comes by early (as after a restart): the second attempt, due in 6 s.
        while time.monotonic() < deadline:
            with committed.session() as session:
                if session.get(WebhookDelivery, delivery_id).attempts == 1:
                    break
            time.sleep(0.05)
        attempt_delivery(committed, delivery_id, dispatcher=celery, backoff_base_s=3)
        while len(flaky.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # room for a fourth call, which must not come
        assert worker.poll() is None, f"the worker died: {log.read_text()}"
    assert [status for _, _, status in flaky.requests] == [500, 500, 200]
    with committed.session() as session:
        attempts = session.exec(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.number)
        ).all()
        assert session.get(WebhookDelivery, delivery_id).state == DeliveryState.SUCCEEDED
    # A receiver on this machine is a private address: the user's log says only that
    # the first two did not arrive (the worker's log has the statuses).
    assert [(a.status_code, a.error) for a in attempts] == [
        (None, "not delivered"),
        (None, "not delivered"),
        (200, ""),
    ]
    # The first attempt's retry (due 3 s after it) found the sweep's attempt and waited.
    assert (attempts[2].attempted_at - attempts[1].attempted_at).total_seconds() >= 5


def test_a_private_address_in_development_tells_the_user_nothing_of_its_network(
    browser, db_session, make_member, database, dispatcher, caplog
):
    """Development allows receivers on private addresses, but the delivery log is no
    port scanner: refused, an error status or garbage all read "not delivered"; the
    server's log keeps what happened."""
    from marketplace.accounts.models import OrganizationKind, Role
    from marketplace.orders.notify import events
    from marketplace.orders.notify.webhooks import create_endpoint

    member = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    with socket.socket() as closed, Receiver([500]) as failing:
        closed.bind(("127.0.0.1", 0))
        endpoints = [
            create_endpoint(
                db_session, member.organization.id, f"http://127.0.0.1:{closed.getsockname()[1]}/"
            ),
            create_endpoint(db_session, member.organization.id, failing.url),
        ]
        events.publish(db_session, member.organization.id, events.ORDER_DELIVERED, {"order_id": 1})
        db_session.commit()
        with caplog.at_level("WARNING", logger="marketplace.orders.notify.webhooks"):
            for delivery_id in dispatcher.take_deliveries():
                attempt_delivery(database, delivery_id, dispatcher=dispatcher, timeout_s=2)
    told = [r.getMessage() for r in caplog.records]
    assert any("refused" in m.lower() for m in told) and any("HTTP 500" in m for m in told)
    browser.login(member)
    for endpoint in endpoints:
        [logged] = browser.get(f"/api/v1/webhooks/{endpoint.id}/deliveries").get_json()[
            "deliveries"
        ]
        assert logged["last_error"] == "not delivered" and logged["last_status"] is None
        assert [(a["status_code"], a["error"]) for a in logged["history"]] == [
            (None, "not delivered")
        ]
        page = browser.get(f"/webhooks/{endpoint.id}").get_data(as_text=True)
        assert "refused" not in page.lower() and "HTTP 500" not in page


def test_the_webhook_form_names_every_problem_at_once(browser, buyer):
    browser.login(buyer)
    response = browser.form("/webhooks", {"url": "ftp://example.com/hook", "events": ["nonsense"]})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "must be an http:// or https:// address" in page.split('id="url-errors"')[1]
    assert 'id="events-errors"' in page
    assert 'value="ftp://example.com/hook"' in page
