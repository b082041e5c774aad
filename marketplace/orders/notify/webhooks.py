"""Outgoing webhooks: endpoints per organization, signed deliveries, retries with backoff.

Every request carries the JSON body and

    X-FactoryWeb-Event: order.confirmed
    X-FactoryWeb-Delivery: <delivery id>
    X-FactoryWeb-Signature: sha256=<hex HMAC-SHA256 of the raw body with the endpoint secret>

A 2xx answer ends the delivery; anything else (an error status, a refused connection,
a timeout, an answer that is not HTTP) schedules the next attempt after
base x 2^(attempt-1) seconds, up to `max_attempts`; then the delivery is marked failed.
Every attempt (when, how long, the status or the error) is kept in the delivery log the
organization sees. Redirects are not followed. What receivers rely on: docs/webhooks.md.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.errors import N_
from factories.models import id_column, id_of, too_long, utcnow
from marketplace.db import Database
from marketplace.orders import outbox
from marketplace.orders.errors import OrderError
from marketplace.orders.models import (
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from marketplace.orders.notify.events import WEBHOOK_EVENTS

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-FactoryWeb-Signature"
DEFAULT_BACKOFF_BASE_S = 30.0
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_TIMEOUT_S = 5.0
MAX_ENDPOINTS = 10
MAX_ERROR = 500  # WebhookDelivery.last_error, WebhookAttempt.error
# A retry a dispatcher scheduled may fire a little ahead of the clock that set its time:
# a delivery counts as due up to this much early.
DUE_TOLERANCE = timedelta(seconds=1)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does: recompute the signature and compare in constant time."""
    return hmac.compare_digest(sign(secret, body), signature)


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()


def create_endpoint(
    session: Session,
    organization_id: int,
    url: str,
    events: list[str] | None = None,
    *,
    allow_private: bool = True,
) -> WebhookEndpoint:
    url = url.strip()
    if message := too_long(url, WebhookEndpoint, "url"):
        raise OrderError("url", message)
    if any(not c.isprintable() or c.isspace() for c in url):
        raise OrderError("url", N_("must not contain spaces or control characters"))
    try:
        parts = urlsplit(url)
        hostname, _ = parts.hostname, parts.port  # a bad port is only found by asking
    except ValueError:  # "http://[abc": an unclosed IPv6 address, a port out of range
        raise OrderError("url", N_("must be an http:// or https:// address")) from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise OrderError("url", N_("must be an http:// or https:// address"))
    if not allow_private and _is_private(hostname):
        raise OrderError("url", N_("must be a public address"))
    chosen = list(dict.fromkeys(events or WEBHOOK_EVENTS))
    unknown = [e for e in chosen if e not in WEBHOOK_EVENTS]
    if unknown:
        raise OrderError("events", N_("unknown event %(code)r", code=unknown[0]))
    existing = session.exec(
        select(sa.func.count(col(WebhookEndpoint.id))).where(
            WebhookEndpoint.organization_id == organization_id
        )
    ).one()
    if existing >= MAX_ENDPOINTS:
        raise OrderError(
            "url", N_("an organization has at most %(maximum)s endpoints", maximum=MAX_ENDPOINTS)
        )
    endpoint = WebhookEndpoint(
        organization_id=organization_id,
        url=url,
        secret=secrets.token_hex(32),
        events=chosen,
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def _is_private(host: str) -> bool:
    try:
        # The address comes first in the socket address of either family.
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):  # unknown, or no valid name at all ("a..b")
        return True
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved:
            return True
    return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=timeout_s) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def attempt_delivery(
    database: Database,
    delivery_id: int,
    *,
    dispatcher: outbox.Dispatcher | None = None,
    backoff_base_s: float = DEFAULT_BACKOFF_BASE_S,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    allow_private: bool = True,
    due_only: bool = False,
) -> WebhookDelivery | None:
    """One attempt at a pending delivery; schedules the next one on failure.

    The row is locked during the attempt (skipped if another worker has it), so one
    delivery is never sent twice at the same time; with `due_only` (periodic sweeps and
    scheduled retries, which may both reach the same delivery) it is also skipped while
    its next attempt is not yet due. Whatever goes wrong with the request (a refused
    connection, a timeout, an answer that is not HTTP) is a failed attempt: it is
    counted, logged, kept in the delivery's history, and retried with backoff."""
    with database.session() as session:
        query = select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.state == DeliveryState.PENDING
        )
        if due_only:
            query = query.where(col(WebhookDelivery.next_attempt_at) <= utcnow() + DUE_TOLERANCE)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        delivery = session.exec(query).first()
        if delivery is None:
            return None
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        assert endpoint is not None
        body = body_of(delivery)
        delivery.attempts += 1
        status: int | None = None
        error = ""
        attempted_at = utcnow()
        started = time.monotonic()
        try:
            if not endpoint.active:
                error = "endpoint disabled"
            elif not allow_private and _is_private(urlsplit(endpoint.url).hostname or ""):
                error = "address not allowed"
            else:
                status = _post(
                    endpoint.url,
                    body,
                    {
                        "Content-Type": "application/json",
                        "User-Agent": "FactoryWeb-Webhooks/1",
                        "X-FactoryWeb-Event": delivery.event,
                        "X-FactoryWeb-Delivery": str(delivery.id),
                        SIGNATURE_HEADER: sign(endpoint.secret, body),
                    },
                    timeout_s,
                )
        except Exception as exc:  # any failure of the request is this attempt's failure
            error = describe(exc)
        duration_ms = round((time.monotonic() - started) * 1000)
        delivery.last_status = status
        delivery.last_error = (
            error if status is None else ("" if status < 300 else f"HTTP {status}")
        )
        session.add(
            WebhookAttempt(
                delivery_id=id_of(delivery),
                number=delivery.attempts,
                attempted_at=attempted_at,
                duration_ms=duration_ms,
                status_code=status,
                error=delivery.last_error,
            )
        )
        now = utcnow()
        retry_in: float | None = None
        if status is not None and 200 <= status < 300:
            delivery.state = DeliveryState.SUCCEEDED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        elif delivery.attempts >= max_attempts or not endpoint.active:
            delivery.state = DeliveryState.FAILED
            delivery.next_attempt_at = None
        else:
            retry_in = backoff_base_s * 2 ** (delivery.attempts - 1)
            delivery.next_attempt_at = now + timedelta(seconds=retry_in)
        if delivery.state != DeliveryState.SUCCEEDED:
            log.warning(
                "webhook delivery %s (%s) attempt %s of %s to endpoint %s failed: %s; %s",
                delivery.id,
                delivery.event,
                delivery.attempts,
                max_attempts,
                endpoint.id,
                delivery.last_error,
                "giving up" if retry_in is None else f"next attempt in {retry_in:g} s",
            )
        result = delivery
    if retry_in is not None and dispatcher is not None:
        dispatcher.retry_delivery(delivery_id, retry_in)
    return result


def describe(error: BaseException) -> str:
    """What went wrong with a request, as one line of printable text for the log: the
    receiver's own words may hold anything (a malformed status line, NUL bytes)."""
    text = f"{type(error).__name__}: {error}"
    printable = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return printable[:MAX_ERROR]


def deliver_due(database: Database, **settings: Any) -> int:
    """Attempt every pending delivery whose time has come (CLI and periodic task);
    returns how many attempts were made."""
    with database.session() as session:
        due = session.exec(
            select(id_column(WebhookDelivery))
            .where(
                WebhookDelivery.state == DeliveryState.PENDING,
                col(WebhookDelivery.next_attempt_at) <= utcnow(),
            )
            .order_by(col(WebhookDelivery.id))
        ).all()
    attempted = 0
    for delivery_id in due:
        if attempt_delivery(database, delivery_id, due_only=True, **settings) is not None:
            attempted += 1
    return attempted


def endpoints_of(session: Session, organization_id: int) -> list[WebhookEndpoint]:
    return list(
        session.exec(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.organization_id == organization_id)
            .order_by(col(WebhookEndpoint.id))
        ).all()
    )


def deliveries_of(session: Session, endpoint_id: int, limit: int = 100) -> list[WebhookDelivery]:
    return list(
        session.exec(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(col(WebhookDelivery.id).desc())
            .limit(limit)
        ).all()
    )


def attempts_of(session: Session, delivery_ids: list[int]) -> dict[int, list[WebhookAttempt]]:
    """Every attempt of each delivery, first attempt first (one query for a whole log)."""
    result: dict[int, list[WebhookAttempt]] = {d: [] for d in delivery_ids}
    if delivery_ids:
        for attempt in session.exec(
            select(WebhookAttempt)
            .where(col(WebhookAttempt.delivery_id).in_(delivery_ids))
            .order_by(col(WebhookAttempt.delivery_id), col(WebhookAttempt.number))
        ).all():
            result[attempt.delivery_id].append(attempt)
    return result
