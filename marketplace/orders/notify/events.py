"""What organizations hear about their orders: notifications in the web UI, and webhook
events (`order.proposed`, `order.confirmed`, `milestone.added`, `order.delivered`).

Both are written in the same transaction as the change they report (the outbox): a
webhook delivery row exists exactly when the change committed, and is sent after.
The events and their payloads: docs/webhooks.md.
Each recipient gets only its own view: a factory hears of its own proposals and never of
another factory's work or prices.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from factories.models import id_of, utcnow
from marketplace.orders import outbox
from marketplace.orders.models import (
    DeliveryState,
    Notification,
    WebhookDelivery,
    WebhookEndpoint,
)

ORDER_PROPOSED = "order.proposed"
ORDER_CONFIRMED = "order.confirmed"
MILESTONE_ADDED = "milestone.added"
ORDER_DELIVERED = "order.delivered"
WEBHOOK_EVENTS = (ORDER_PROPOSED, ORDER_CONFIRMED, MILESTONE_ADDED, ORDER_DELIVERED)


def notify(
    session: Session,
    organization_ids: Iterable[int],
    kind: str,
    *,
    order_id: int | None = None,
    **params: Any,
) -> None:
    """A notification for each organization; `kind` and `params` make its text."""
    for organization_id in sorted(set(organization_ids)):
        session.add(
            Notification(
                organization_id=organization_id, kind=kind, order_id=order_id, params=params
            )
        )


def publish(session: Session, organization_id: int, event: str, data: dict[str, Any]) -> int:
    """Queue the event for every active endpoint of the organization that wants it."""
    assert event in WEBHOOK_EVENTS, event
    known = session.info.get(_KNOWN_ENDPOINTS)
    if known is not None and organization_id in known:
        endpoints = known[organization_id]
    else:
        endpoints = _active_endpoints(session, [organization_id]).get(organization_id, [])
    now = utcnow()
    deliveries = []
    for endpoint in endpoints:
        if endpoint.events and event not in endpoint.events:
            continue
        event_id = str(uuid.uuid4())
        delivery = WebhookDelivery(
            endpoint_id=id_of(endpoint),
            event=event,
            event_id=event_id,
            payload={
                "id": event_id,
                "event": event,
                "created_at": now.isoformat(),
                "organization_id": organization_id,
                "data": data,
            },
            state=DeliveryState.PENDING,
            next_attempt_at=now,
        )
        session.add(delivery)
        deliveries.append(delivery)
    if deliveries:
        session.flush()
        outbox.later(session, deliveries=[id_of(d) for d in deliveries])
    return len(deliveries)


_KNOWN_ENDPOINTS = "factoryweb.orders.known_endpoints"


@contextmanager
def endpoints_known(session: Session, organization_ids: Iterable[int]) -> Iterator[None]:
    """Within the block, `publish` to these organizations reads their endpoints from one
    query made here (a run's plan tells thousands of organizations at once); nothing in
    the block may add or change an endpoint of theirs."""
    session.info[_KNOWN_ENDPOINTS] = {
        organization_id: [] for organization_id in organization_ids
    } | _active_endpoints(session, organization_ids)
    try:
        yield
    finally:
        session.info.pop(_KNOWN_ENDPOINTS, None)


def _active_endpoints(
    session: Session, organization_ids: Iterable[int]
) -> dict[int, list[WebhookEndpoint]]:
    found: dict[int, list[WebhookEndpoint]] = {}
    ids = sorted(set(organization_ids))
    if not ids:
        return found
    for endpoint in session.exec(
        select(WebhookEndpoint)
        .where(
            col(WebhookEndpoint.organization_id).in_(ids),
            WebhookEndpoint.active == sa.true(),
        )
        .order_by(col(WebhookEndpoint.id))
    ).all():
        found.setdefault(endpoint.organization_id, []).append(endpoint)
    return found


def unread_count(session: Session, organization_id: int) -> int:
    return session.exec(
        select(sa.func.count(col(Notification.id))).where(
            Notification.organization_id == organization_id,
            col(Notification.read_at).is_(None),
        )
    ).one()


def notifications_of(session: Session, organization_id: int, limit: int = 100) -> list:
    return list(
        session.exec(
            select(Notification)
            .where(Notification.organization_id == organization_id)
            .order_by(col(Notification.id).desc())
            .limit(limit)
        ).all()
    )


def mark_read(session: Session, organization_id: int, notification_id: int | None = None) -> int:
    """Mark one (or, without an id, every) notification of the organization read."""
    statement = sa.update(Notification).where(
        col(Notification.organization_id) == organization_id,
        col(Notification.read_at).is_(None),
    )
    if notification_id is not None:
        statement = statement.where(col(Notification.id) == notification_id)
    return session.exec(statement.values(read_at=utcnow())).rowcount
