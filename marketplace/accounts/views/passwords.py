"""Forgotten passwords: a mailed link, valid once, for an hour."""

from __future__ import annotations

import logging

from flask import (
    flash,
    make_response,
    redirect,
    render_template,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from marketplace import db
from marketplace.accounts import letters
from marketplace.accounts.access import (
    sign_out,
)
from marketplace.accounts.forms import (
    ForgotPasswordForm,
    ResetPasswordForm,
)
from marketplace.accounts.mail import send_after_commit
from marketplace.accounts.recovery import (
    TokenPurpose,
    issue_password_token,
    redeem_password_token,
    valid_token,
)
from marketplace.accounts.service import (
    find_user_by_email,
    normalize_email,
)
from marketplace.accounts.views.common import (
    LINK_PROBLEMS,
    MAX_LINK_SECRET,
    blueprint,
    form_status,
)
from marketplace.security.hosts import public_url_for
from marketplace.web.forms import submit

log = logging.getLogger(__name__)


@blueprint.route("/password/forgot", methods=["GET", "POST"])
def forgot_password() -> ResponseReturnValue:
    """The same answer whether or not the address has an account; the mail to it says
    which (a link to set a new password, or that no account uses the address)."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        db_session = db.session()
        user = find_user_by_email(db_session, form.email.data)
        if user is not None and user.is_active:
            secret = issue_password_token(db_session, user, TokenPurpose.RESET)
            subject, body = letters.password_reset(
                public_url_for("accounts.reset_password", token=secret)
            )
        else:
            subject, body = letters.no_account(public_url_for("accounts.signup"))
        send_after_commit(db_session, normalize_email(form.email.data), subject, body)
        flash(_("If an account uses this address, a link to reset the password is on its way."))
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot_password.html", form=form), form_status(form)


@blueprint.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> ResponseReturnValue:
    if len(token) > MAX_LINK_SECRET or valid_token(db.session(), token) is None:
        return render_template("accounts/reset_expired.html"), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        reset = submit(
            form,
            lambda: redeem_password_token(db.session(), token, form.password.data),
            LINK_PROBLEMS,
        )
        if reset is not None:
            sign_out()
            flash(_("Your password is set. Sign in with it now."))
            return redirect(url_for("accounts.login"))
    response = make_response(
        render_template("accounts/reset_password.html", form=form), form_status(form)
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
