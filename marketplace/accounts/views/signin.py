"""Signing in and out, with a password or with the company's identity provider."""

from __future__ import annotations

import logging

from authlib.integrations.base_client import OAuthError
from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from joserfc.errors import JoseError
from requests import RequestException

from marketplace import db
from marketplace.accounts.access import (
    current_principal,
    sign_in,
    sign_out,
)
from marketplace.accounts.forms import (
    LoginForm,
    LogoutForm,
)
from marketplace.accounts.oidc import oidc_client, oidc_enabled, user_for_provider_login
from marketplace.accounts.service import (
    AccountError,
    authenticate,
)
from marketplace.accounts.views.common import (
    blueprint,
    form_status,
)
from marketplace.security.hosts import public_url_for
from marketplace.web.messages import say
from marketplace.web.navigation import same_site_path

log = logging.getLogger(__name__)

OIDC_NEXT_KEY = "oidc_next"


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db.session(), form.email.data, form.password.data)
        if user is not None:
            sign_in(user)
            if current_principal() is None:
                return redirect(url_for("accounts.welcome"))
            return redirect(same_site_path(form.next.data, default=url_for("web.home")))
        form.password.errors.append(_("Unknown email address or wrong password."))
    elif not form.is_submitted():
        form.next.data = request.args.get("next", "")
    return render_template(
        "accounts/login.html", form=form, oidc_enabled=oidc_enabled()
    ), form_status(form)


@blueprint.post("/logout")
def logout() -> ResponseReturnValue:
    form = LogoutForm()
    if form.validate_on_submit():
        sign_out()
        flash(_("You are signed out."))
    return redirect(url_for("web.index"))


@blueprint.get("/login/company")
def oidc_login() -> ResponseReturnValue:
    client = oidc_client()
    if client is None:
        abort(404)
    session[OIDC_NEXT_KEY] = same_site_path(request.args.get("next"), default="")
    try:
        return client.authorize_redirect(public_url_for("accounts.oidc_callback"))
    except (OAuthError, RequestException, ValueError):
        log.exception("company sign-in: the provider is unreachable")
        flash(_("Company sign-in is not available right now."), "error")
        return redirect(url_for("accounts.login"))


@blueprint.get("/login/company/callback")
def oidc_callback() -> ResponseReturnValue:
    client = oidc_client()
    if client is None:
        abort(404)
    next_path = same_site_path(session.get(OIDC_NEXT_KEY), default=url_for("web.home"))
    try:
        token = client.authorize_access_token()
        claims = token.get("userinfo") or client.userinfo(token=token)
        issuer = client.load_server_metadata()["issuer"]
        user = user_for_provider_login(db.session(), issuer, dict(claims))
    except AccountError as error:
        db.discard_changes()
        flash(_("Company sign-in failed: %(reason)s", reason=say(error.message)), "error")
        return redirect(url_for("accounts.login"))
    except JoseError as error:
        # Signature, audience, nonce, issuer or expiry of the ID token is wrong: a
        # misconfigured provider, or a token meant for someone else.
        log.warning("company sign-in: the ID token failed verification: %s", error)
        flash(
            _(
                "Company sign-in failed: the identity token from your company's provider "
                "could not be verified. Please try again, or ask your administrator."
            ),
            "error",
        )
        return redirect(url_for("accounts.login"))
    except (OAuthError, RequestException, ValueError, KeyError) as error:
        log.warning("company sign-in failed: %s", error)
        flash(_("Company sign-in failed. Please try again."), "error")
        return redirect(url_for("accounts.login"))
    sign_in(user)
    if current_principal() is None:
        return redirect(url_for("accounts.welcome"))
    return redirect(next_path)
