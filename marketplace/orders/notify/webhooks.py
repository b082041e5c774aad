"""Outgoing webhooks: endpoints per organization, signed deliveries, retries with backoff.

Every request carries the JSON body and

    X-FactoryWeb-Event: order.confirmed
    X-FactoryWeb-Delivery: <delivery id>
    X-FactoryWeb-Signature: sha256=<hex HMAC-SHA256 of the raw body with the endpoint secret>

A 2xx answer ends the delivery; anything else (an error status, a refused connection,
a timeout, an answer that is not HTTP) schedules the next attempt after
base x 2^(attempt-1) seconds, up to `max_attempts`; then the delivery is marked failed.
Every attempt (when, how long, the status or the error) is kept in the delivery log the
organization sees. Requests go only where `outbound` allows, to the address it checked,
and never follow redirects. What receivers rely on: docs/webhooks.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.errors import N_, Message
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
from marketplace.orders.notify import outbound
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
# What the organization reads when its endpoint's address was refused, and when a private
# address (development) did not take the delivery.
NOT_ALLOWED = "address not allowed"
NOT_DELIVERED = "not delivered"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does: recompute the signature and compare in constant time."""
    return hmac.compare_digest(sign(secret, body), signature)


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()


def url_problem(url: str, allow_private: bool) -> Message | None:
    """What is wrong with an endpoint's address (None: nothing)."""
    if message := too_long(url, WebhookEndpoint, "url"):
        return message
    if any(not c.isprintable() or c.isspace() for c in url):
        return N_("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        hostname, _ = parts.hostname, parts.port  # a bad port is only found by asking
    except ValueError:  # "http://[abc": an unclosed IPv6 address, a port out of range
        return N_("must be an http:// or https:// address")
    if parts.scheme not in ("http", "https") or not hostname:
        return N_("must be an http:// or https:// address")
    if not allow_private:
        try:
            outbound.target_of(url, allow_private=False)
        except outbound.AddressRefused:
            return N_("must be a public address")
    return None


def create_endpoint(
    session: Session,
    organization_id: int,
    url: str,
    events: list[str] | None = None,
    *,
    allow_private: bool = True,
) -> WebhookEndpoint:
    url = url.strip()
    problems = []
    if message := url_problem(url, allow_private):
        problems.append(("url", message))
    chosen = list(dict.fromkeys(events or WEBHOOK_EVENTS))
    unknown = [e for e in chosen if e not in WEBHOOK_EVENTS]
    if unknown:
        problems.append(("events", N_("unknown event %(code)r", code=unknown[0])))
    if problems:
        raise OrderError.of(problems)
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


def _lease(timeout_s: float) -> timedelta:
    """How long a claimed attempt keeps others away: the request's timeout, twice over."""
    return timedelta(seconds=2 * timeout_s + 5)


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
    """One attempt at a pending delivery whose time has come; schedules the next one on
    failure. None when there was nothing to attempt (sent, given up, not yet due, or
    being attempted elsewhere).

    The attempt is claimed in a transaction of its own (its next attempt moved past the
    request's timeout, so no sweep or scheduled retry makes the same attempt meanwhile),
    the request goes out with no transaction open and no row locked, and its outcome is
    written in a third. A process that dies in between leaves the claim to expire: the
    attempt is made again, so a receiver may see a delivery twice, never none (it tells
    them apart by X-FactoryWeb-Delivery). Whatever goes wrong with the request (a refused
    address or connection, a timeout, an answer that is not HTTP) is a failed attempt:
    counted, logged, kept in the delivery's history, and retried with backoff.

    With `due_only` (periodic sweeps and scheduled retries, which may both reach the
    same delivery) the delivery is skipped while its next attempt is not yet due or
    another attempt holds it; without, it is attempted now (the first attempt, sent
    once the change that made it committed)."""
    claimed = _claim(database, delivery_id, timeout_s, due_only)
    if claimed is None:
        return None
    status, error, detail, attempted_at, duration_ms = _send(claimed, timeout_s, allow_private)
    return _record(
        database,
        claimed,
        status,
        error,
        detail,
        attempted_at,
        duration_ms,
        dispatcher=dispatcher,
        backoff_base_s=backoff_base_s,
        max_attempts=max_attempts,
    )


@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    number: int
    event: str
    url: str
    secret: str
    active: bool
    endpoint_id: int
    body: bytes


def _claim(database: Database, delivery_id: int, timeout_s: float, due_only: bool) -> _Claim | None:
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
        delivery.attempts += 1
        delivery.next_attempt_at = utcnow() + _lease(timeout_s)
        return _Claim(
            delivery_id=delivery_id,
            number=delivery.attempts,
            event=delivery.event,
            url=endpoint.url,
            secret=endpoint.secret,
            active=endpoint.active,
            endpoint_id=id_of(endpoint),
            body=body_of(delivery),
        )


def _send(
    claim: _Claim, timeout_s: float, allow_private: bool
) -> tuple[int | None, str, str, datetime, int]:
    """(status, error the organization reads, detail for the server log, when, ms)."""
    status: int | None = None
    error = detail = ""
    attempted_at = utcnow()
    started = time.monotonic()
    private = False
    try:
        if not claim.active:
            error = detail = "endpoint disabled"
        else:
            target = outbound.target_of(claim.url, allow_private=allow_private)
            private = not target.is_global
            status = outbound.post(
                target,
                claim.body,
                {
                    "Content-Type": "application/json",
                    "User-Agent": "FactoryWeb-Webhooks/1",
                    "X-FactoryWeb-Event": claim.event,
                    "X-FactoryWeb-Delivery": str(claim.delivery_id),
                    SIGNATURE_HEADER: sign(claim.secret, claim.body),
                },
                timeout_s,
            )
            if not 200 <= status < 300:
                error = detail = f"HTTP {status}"
    except outbound.AddressRefused as refused:
        error, detail = NOT_ALLOWED, describe(refused)
    except Exception as exc:  # any failure of the request is this attempt's failure
        error = detail = describe(exc)
    if private and error:
        # A private address (development only): the log says what happened, the
        # organization only that it did not arrive.
        status, error = None, NOT_DELIVERED
    duration_ms = round((time.monotonic() - started) * 1000)
    return status, error, detail, attempted_at, duration_ms


def _record(
    database: Database,
    claim: _Claim,
    status: int | None,
    error: str,
    detail: str,
    attempted_at: datetime,
    duration_ms: int,
    *,
    dispatcher: outbox.Dispatcher | None,
    backoff_base_s: float,
    max_attempts: int,
) -> WebhookDelivery | None:
    retry_in: float | None = None
    with database.session() as session:
        delivery = session.exec(
            select(WebhookDelivery).where(WebhookDelivery.id == claim.delivery_id).with_for_update()
        ).first()
        if delivery is None:  # the endpoint was removed meanwhile
            return None
        delivery.last_status = status
        delivery.last_error = error
        session.add(
            WebhookAttempt(
                delivery_id=claim.delivery_id,
                number=claim.number,
                attempted_at=attempted_at,
                duration_ms=duration_ms,
                status_code=status,
                error=error,
            )
        )
        now = utcnow()
        if status is not None and 200 <= status < 300:
            delivery.state = DeliveryState.SUCCEEDED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        elif claim.number >= max_attempts or not claim.active:
            delivery.state = DeliveryState.FAILED
            delivery.next_attempt_at = None
        else:
            retry_in = backoff_base_s * 2 ** (claim.number - 1)
            delivery.next_attempt_at = now + timedelta(seconds=retry_in)
        if delivery.state != DeliveryState.SUCCEEDED:
            log.warning(
                "webhook delivery %s (%s) attempt %s of %s to endpoint %s failed: %s; %s",
                claim.delivery_id,
                claim.event,
                claim.number,
                max_attempts,
                claim.endpoint_id,
                detail,
                "giving up" if retry_in is None else f"next attempt in {retry_in:g} s",
            )
        result = delivery
    if retry_in is not None and dispatcher is not None:
        dispatcher.retry_delivery(claim.delivery_id, retry_in)
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
