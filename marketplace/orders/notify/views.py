"""Notifications and webhook endpoints on the web; the notification bell of every page."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from factories.models import id_of
from marketplace import db
from marketplace.accounts.access import current_principal, login_required, require_principal
from marketplace.orders import access
from marketplace.orders.blueprints import pages
from marketplace.orders.notify import events
from marketplace.orders.notify import webhooks as webhooks_service
from marketplace.orders.notify.forms import WebhookForm
from marketplace.orders.notify.texts import notification_text
from marketplace.orders.settings import current_settings
from marketplace.web.forms import ActionForm, require_valid, submit
from marketplace.web.labels import money, state_label


@pages.app_context_processor
def orders_context() -> dict[str, Any]:
    def unread_notifications() -> int:
        principal = current_principal()
        if principal is None or principal.user_id is None:
            return 0
        # The navigation and a home page both show it: counted once a request.
        if "unread_notifications" not in g:
            g.unread_notifications = events.unread_count(db.session(), principal.organization_id)
        return g.unread_notifications

    return {
        "unread_notifications": unread_notifications,
        "state_label": state_label,
        "money": money,
        "notification_text": notification_text,
    }


@pages.get("/notifications")
@login_required
def notifications() -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    return render_template(
        "orders/notifications.html",
        notifications=events.notifications_of(session, principal.organization_id),
        action_form=ActionForm(),
    )


@pages.post("/notifications/read")
@login_required
def notifications_read() -> ResponseReturnValue:
    session, principal = db.session(), require_principal()
    require_valid(ActionForm())
    events.mark_read(session, principal.organization_id)
    return redirect(url_for("orders.notifications"), code=303)


@pages.route("/webhooks", methods=["GET", "POST"])
@login_required
def webhooks() -> ResponseReturnValue:
    session, principal = db.session(), access.require_person(require_principal())
    form = WebhookForm()
    status = 200
    if form.is_submitted():
        # The form parses, then the service checks the address too: all messages at once.
        endpoint = submit(
            form,
            lambda: webhooks_service.create_endpoint(
                session,
                principal.organization_id,
                form.url.data or "",
                list(form.events.data or []),
                allow_private=current_settings()["WEBHOOK_ALLOW_PRIVATE"],
            ),
        )
        if endpoint is not None:
            flash(_("Endpoint added. Its signing secret is shown on its page."))
            return redirect(url_for("orders.webhook_detail", endpoint_id=endpoint.id), code=303)
        status = 400
    return render_template(
        "orders/webhooks.html",
        form=form,
        endpoints=webhooks_service.endpoints_of(session, principal.organization_id),
    ), status


@pages.get("/webhooks/<int:endpoint_id>")
@login_required
def webhook_detail(endpoint_id: int) -> ResponseReturnValue:
    session, principal = db.session(), access.require_person(require_principal())
    endpoint = access.endpoint_for(session, principal, endpoint_id)
    deliveries = webhooks_service.deliveries_of(session, id_of(endpoint))
    return render_template(
        "orders/webhook.html",
        endpoint=endpoint,
        deliveries=deliveries,
        history=webhooks_service.attempts_of(session, [id_of(d) for d in deliveries]),
        action_form=ActionForm(),
    )


@pages.post("/webhooks/<int:endpoint_id>/delete")
@login_required
def webhook_delete(endpoint_id: int) -> ResponseReturnValue:
    session, principal = db.session(), access.require_person(require_principal())
    require_valid(ActionForm())
    endpoint = access.endpoint_for(session, principal, endpoint_id)
    session.delete(endpoint)
    flash(_("Endpoint removed."))
    return redirect(url_for("orders.webhooks"), code=303)
