"""A factory's machine clients (OAuth2 client credentials)."""

from __future__ import annotations

from flask import (
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from marketplace import db
from marketplace.accounts.access import (
    current_user,
    require_principal,
    roles_required,
)
from marketplace.accounts.forms import (
    ClientForm,
    RevokeForm,
)
from marketplace.accounts.models import (
    OAuthClient,
    Organization,
    Role,
)
from marketplace.accounts.oauth import SCOPES, clients_of, create_client, revoke_client
from marketplace.accounts.views.common import (
    blueprint,
    form_status,
)
from marketplace.security.hosts import public_url_for
from marketplace.web.forms import submit
from marketplace.web.messages import say


def _client_form() -> ClientForm:
    form = ClientForm()
    form.scopes.choices = [
        SelectChoice(scope, f"{scope} — {say(text)}") for scope, text in SCOPES.items()
    ]
    return form


def _own_client(client_pk: int) -> OAuthClient:
    client = db.session().get(OAuthClient, client_pk)
    if client is None or not require_principal().acts_for(client.organization_id):
        abort(404)
    return client


@blueprint.route("/account/clients", methods=["GET", "POST"])
@roles_required(Role.FACTORY_OWNER)
def clients() -> ResponseReturnValue:
    principal = require_principal()
    form = _client_form()
    created: tuple[OAuthClient, str] | None = None
    if form.validate_on_submit():
        organization = db.session().get_one(Organization, principal.organization_id)
        created = submit(
            form,
            lambda: create_client(
                db.session(), organization, form.name.data, form.scopes.data, current_user()
            ),
            {"organization": ""},
        )
        if created is not None:
            form = _client_form()
            form.name.data = ""
    response = make_response(
        render_template(
            "accounts/clients.html",
            form=form,
            clients=clients_of(db.session(), principal.organization_id),
            created=created,
            revoke_form=RevokeForm(),
            token_url=public_url_for("oauth.issue_token"),
        ),
        form_status(form),
    )
    # The page may show a secret once: keep it out of every cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/account/clients/<int:client_pk>/revoke")
@roles_required(Role.FACTORY_OWNER)
def revoke(client_pk: int) -> ResponseReturnValue:
    client = _own_client(client_pk)
    if RevokeForm().validate_on_submit():
        revoke_client(db.session(), client)
        flash(_("The client %(name)s can no longer get or use tokens.", name=client.name))
    return redirect(url_for("accounts.clients"))
