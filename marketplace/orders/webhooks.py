"""Outgoing webhooks: endpoints per organization, signed deliveries, retries with backoff.

Every request carries the JSON body and

    X-FactoryWeb-Event: order.confirmed
    X-FactoryWeb-Delivery: <delivery id>
    X-FactoryWeb-Signature: sha256=<hex HMAC-SHA256 of the raw body with the endpoint secret>

A 2xx answer ends the delivery; anything else (an error status, a refused connection,
a timeout) schedules the next attempt after base x 2^(attempt-1) seconds, up to
`max_attempts`; then the delivery is marked failed. Every attempt is kept in the
delivery log the organization sees. Redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session, select

from factories.errors import N_
from factories.models import utcnow
from marketplace.db import Database
from marketplace.orders import dispatch
from marketplace.orders.events import WEBHOOK_EVENTS
from marketplace.orders.models import DeliveryState, WebhookDelivery, WebhookEndpoint
from marketplace.orders.service import OrderError

SIGNATURE_HEADER = "X-FactoryWeb-Signature"
DEFAULT_BACKOFF_BASE_S = 30.0
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_TIMEOUT_S = 5.0
MAX_ENDPOINTS = 10


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
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OrderError("url", N_("must be an http:// or https:// address"))
    if len(url) > 500:
        raise OrderError("url", N_("must be at most %(maximum)s characters", maximum=500))
    if not allow_private and _is_private(parts.hostname):
        raise OrderError("url", N_("must be a public address"))
    chosen = list(dict.fromkeys(events or WEBHOOK_EVENTS))
    unknown = [e for e in chosen if e not in WEBHOOK_EVENTS]
    if unknown:
        raise OrderError("events", N_("unknown event %(code)r", code=unknown[0]))
    existing = session.exec(
        select(sa.func.count(WebhookEndpoint.id)).where(
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
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
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
    dispatcher: dispatch.Dispatcher | None = None,
    backoff_base_s: float = DEFAULT_BACKOFF_BASE_S,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    allow_private: bool = True,
) -> WebhookDelivery | None:
    """One attempt at a pending delivery; schedules the next one on failure.

    The row is locked during the attempt (skipped if another worker has it), so one
    delivery is never sent twice at the same time."""
    with database.session() as session:
        query = select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.state == DeliveryState.PENDING
        )
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
        if not endpoint.active:
            error = "endpoint disabled"
        elif not allow_private and _is_private(urlsplit(endpoint.url).hostname or ""):
            error = "address not allowed"
        else:
            try:
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
            except (OSError, ValueError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
        delivery.last_status = status
        delivery.last_error = (
            error if status is None else ("" if status < 300 else f"HTTP {status}")
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
        result = delivery
    if retry_in is not None and dispatcher is not None:
        dispatcher.retry_delivery(delivery_id, retry_in)
    return result


def deliver_due(database: Database, **settings: Any) -> int:
    """Attempt every pending delivery whose time has come (CLI and periodic task)."""
    with database.session() as session:
        due = session.exec(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.state == DeliveryState.PENDING,
                WebhookDelivery.next_attempt_at <= utcnow(),  # type: ignore[operator]
            )
            .order_by(WebhookDelivery.id)
        ).all()
    for delivery_id in due:
        attempt_delivery(database, delivery_id, **settings)
    return len(due)


def endpoints_of(session: Session, organization_id: int) -> list[WebhookEndpoint]:
    return list(
        session.exec(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.organization_id == organization_id)
            .order_by(WebhookEndpoint.id)
        ).all()
    )


def deliveries_of(session: Session, endpoint_id: int, limit: int = 100) -> list[WebhookDelivery]:
    return list(
        session.exec(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id.desc())  # type: ignore[union-attr]
            .limit(limit)
        ).all()
    )
