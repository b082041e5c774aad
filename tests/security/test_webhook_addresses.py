"""Webhooks cannot reach inside: in production every address an endpoint's host resolves
to must be global, the request goes to the address that was checked (no second lookup),
and redirects are not followed."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from factories.models import utcnow
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.orders.errors import OrderError
from marketplace.orders.models import DeliveryState, WebhookDelivery
from marketplace.orders.notify import events, outbound
from marketplace.orders.notify.webhooks import attempt_delivery, create_endpoint

NOT_GLOBAL = [
    "100.100.100.200",  # shared address space (a cloud's metadata service)
    "100.64.0.1",
    "10.1.2.3",
    "172.16.5.4",
    "192.168.1.1",
    "127.0.0.1",
    "169.254.169.254",  # link-local metadata
    "0.0.0.0",
    "198.18.0.1",  # benchmarking
    "192.0.0.8",  # IETF protocol assignments
    "240.0.0.1",  # reserved
    "224.0.0.1",  # multicast
    "255.255.255.255",
    "::1",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:169.254.169.254",
    "2002:7f00:1::1",  # 6to4 around 127.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo around 127.0.0.1
]


def fake_dns(monkeypatch, *answers: list[str]):
    """getaddrinfo answers `answers` in turn (the last one from then on)."""
    calls = []

    def getaddrinfo(host, port, *args, **kwargs):
        answer = answers[min(len(calls), len(answers) - 1)]
        calls.append(host)
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port),
            )
            for a in answer
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


@pytest.mark.parametrize("address", NOT_GLOBAL)
def test_every_non_global_range_is_refused_in_production(db_session, make_member, address):
    member = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(OrderError) as refused:
        create_endpoint(
            db_session, member.organization.id, f"https://{host}/hook", allow_private=False
        )
    assert refused.value.field == "url" and "public" in refused.value.message
    assert not outbound.is_global(ipaddress.ip_address(address))


def test_a_name_with_one_private_address_among_public_ones_is_refused(
    db_session, make_member, monkeypatch
):
    member = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    fake_dns(monkeypatch, ["93.184.216.34", "10.0.0.7"])
    with pytest.raises(OrderError):
        create_endpoint(
            db_session, member.organization.id, "https://hooks.example/x", allow_private=False
        )
    fake_dns(monkeypatch, ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
    endpoint = create_endpoint(
        db_session, member.organization.id, "https://hooks.example/x", allow_private=False
    )
    assert endpoint.id


def test_the_request_goes_to_the_address_that_was_checked(
    db_session, make_member, database, dispatcher, monkeypatch
):
    """DNS rebinding: the name answers a public address when checked and 127.0.0.1 the
    next time. The name is resolved once per attempt, and the connection goes to the
    public address; an answer that turns private at the attempt is refused."""
    member = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    calls = fake_dns(monkeypatch, ["93.184.216.34"], ["127.0.0.1"])
    create_endpoint(
        db_session, member.organization.id, "http://hooks.example/x", allow_private=False
    )
    events.publish(db_session, member.organization.id, events.ORDER_DELIVERED, {"order_id": 1})
    db_session.commit()
    [delivery_id] = dispatcher.take_deliveries()

    # The attempt: its lookup answers a public address, a second one would not.
    calls.clear()
    fake_dns(monkeypatch, ["93.184.216.34"], ["127.0.0.1"])
    connected = []

    def create_connection(address, timeout=None, *args, **kwargs):
        connected.append(address)
        raise ConnectionRefusedError("test: no network")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    attempt_delivery(database, delivery_id, dispatcher=dispatcher, allow_private=False)
    assert connected == [("93.184.216.34", 80)]

    # Rebound to a private address by the next attempt: refused before connecting.
    fake_dns(monkeypatch, ["127.0.0.1"])
    connected.clear()
    db_session.execute(
        WebhookDelivery.__table__.update()
        .where(WebhookDelivery.__table__.c.id == delivery_id)
        .values(next_attempt_at=utcnow())
    )
    db_session.commit()
    delivery = attempt_delivery(
        database, delivery_id, dispatcher=dispatcher, allow_private=False, due_only=True
    )
    assert connected == []
    assert delivery.state == DeliveryState.PENDING and delivery.last_error == "address not allowed"


def test_redirects_are_not_followed(monkeypatch):
    """A 3xx answer is the answer: its Location is never requested."""
    import http.server
    import threading

    hits = []

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            hits.append(self.path)
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        target = outbound.target_of(
            f"http://127.0.0.1:{server.server_port}/hook", allow_private=True
        )
        assert outbound.post(target, b"{}", {"Content-Type": "application/json"}, 2) == 302
    finally:
        server.shutdown()
        server.server_close()
    assert hits == ["/hook"]
