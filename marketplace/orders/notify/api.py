"""Notifications and webhook endpoints in the REST API, with each endpoint's delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from factories.models import id_of
from marketplace import db
from marketplace.accounts.access import require_principal, scope_required
from marketplace.accounts.service import Principal
from marketplace.api.answers import ApiAnswer
from marketplace.orders import access
from marketplace.orders.blueprints import NOTIFY, api
from marketplace.orders.models import Notification, WebhookDelivery, WebhookEndpoint
from marketplace.orders.notify import events
from marketplace.orders.notify import webhooks as webhooks_service
from marketplace.orders.notify.events import WEBHOOK_EVENTS
from marketplace.orders.settings import current_settings


class NotificationOut(BaseModel):
    id: int
    kind: str
    order_id: int | None
    params: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class NotificationList(BaseModel):
    unread: int
    notifications: list[NotificationOut]


class EndpointPath(BaseModel):
    endpoint_id: int


class EndpointIn(BaseModel):
    url: str
    events: list[str] = Field(default_factory=lambda: list(WEBHOOK_EVENTS))


class EndpointOut(BaseModel):
    id: int
    url: str
    events: list[str]
    active: bool
    secret: str = Field(description="HMAC-SHA256 key of the X-FactoryWeb-Signature header")
    created_at: datetime


class AttemptOut(BaseModel):
    number: int = Field(description="1 for the first attempt")
    attempted_at: datetime
    duration_ms: int
    status_code: int | None = Field(description="the receiver's HTTP status, if it answered")
    error: str = Field(description="what went wrong: HTTP <status>, or why no answer came")


class DeliveryOut(BaseModel):
    id: int
    event: str
    event_id: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    history: list[AttemptOut] = Field(description="every attempt, first attempt first")


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]


class EndpointList(BaseModel):
    endpoints: list[EndpointOut]


def _notifications(session: Any, principal: Principal) -> dict[str, Any]:
    items: list[Notification] = events.notifications_of(session, principal.organization_id)
    return {
        "unread": events.unread_count(session, principal.organization_id),
        "notifications": [
            NotificationOut.model_validate(n, from_attributes=True).model_dump(mode="json")
            for n in items
        ],
    }


@api.get("/notifications", tags=[NOTIFY], responses={200: NotificationList})
@scope_required("orders:read")
def list_notifications() -> ApiAnswer:
    return _notifications(db.session(), require_principal())


@api.post("/notifications/read", tags=[NOTIFY], responses={200: NotificationList})
@scope_required("orders:read")
def read_notifications() -> ApiAnswer:
    session, principal = db.session(), require_principal()
    events.mark_read(session, principal.organization_id)
    return _notifications(session, principal)


def _endpoint_out(e: WebhookEndpoint) -> dict[str, Any]:
    return EndpointOut.model_validate(e, from_attributes=True).model_dump(mode="json")


@api.get("/webhooks", tags=[NOTIFY], responses={200: EndpointList})
@scope_required("orders:read")
def list_webhooks() -> ApiAnswer:
    session, principal = db.session(), access.require_person(require_principal())
    return {
        "endpoints": [
            _endpoint_out(e)
            for e in webhooks_service.endpoints_of(session, principal.organization_id)
        ]
    }


@api.post("/webhooks", tags=[NOTIFY], responses={201: EndpointOut})
@scope_required("orders:write")
def add_webhook(body: EndpointIn) -> ApiAnswer:
    session, principal = db.session(), access.require_person(require_principal())
    endpoint = webhooks_service.create_endpoint(
        session,
        principal.organization_id,
        body.url,
        body.events,
        allow_private=current_settings()["WEBHOOK_ALLOW_PRIVATE"],
    )
    return _endpoint_out(endpoint), 201


@api.delete("/webhooks/<int:endpoint_id>", tags=[NOTIFY], responses={204: None})
@scope_required("orders:write")
def delete_webhook(path: EndpointPath) -> ApiAnswer:
    session, principal = db.session(), access.require_person(require_principal())
    session.delete(access.endpoint_for(session, principal, path.endpoint_id))
    return "", 204


@api.get("/webhooks/<int:endpoint_id>/deliveries", tags=[NOTIFY], responses={200: DeliveryList})
@scope_required("orders:read")
def list_deliveries(path: EndpointPath) -> ApiAnswer:
    """The delivery log: every event sent to the endpoint, where it stands, and the
    history of its attempts (when, how long, the answer or the error)."""
    session, principal = db.session(), access.require_person(require_principal())
    endpoint = access.endpoint_for(session, principal, path.endpoint_id)
    items: list[WebhookDelivery] = webhooks_service.deliveries_of(session, id_of(endpoint))
    history = webhooks_service.attempts_of(session, [id_of(d) for d in items])
    return {
        "deliveries": [
            DeliveryOut(
                **d.model_dump(include=set(DeliveryOut.model_fields) - {"history"}),
                history=[
                    AttemptOut.model_validate(a, from_attributes=True) for a in history[id_of(d)]
                ],
            ).model_dump(mode="json")
            for d in items
        ]
    }
