"""Sign-up, confirmed by mail, and the first organization."""

from __future__ import annotations

from flask import (
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from marketplace import db
from marketplace.accounts import letters
from marketplace.accounts.access import (
    current_principal,
    current_user,
    sign_in,
)
from marketplace.accounts.forms import (
    ConfirmForm,
    LogoutForm,
    SignupForm,
    StartOrganizationForm,
)
from marketplace.accounts.mail import send_after_commit
from marketplace.accounts.models import (
    OrganizationKind,
)
from marketplace.accounts.service import (
    start_organization,
)
from marketplace.accounts.signup import complete_signup, request_signup, valid_signup
from marketplace.accounts.views.common import (
    LINK_PROBLEMS,
    MAX_LINK_SECRET,
    blueprint,
    form_status,
    landing_after_signup,
    link_expired,
    private,
)
from marketplace.security.hosts import public_url_for
from marketplace.web.forms import submit


@blueprint.route("/signup", methods=["GET", "POST"])
def signup() -> ResponseReturnValue:
    """The answer is the same whether the address has an account or not; the mail to it
    says which (a link to finish signing up, or a reminder of the account)."""
    if current_principal() is not None:
        return redirect(url_for("web.home"))
    form = SignupForm()
    if form.validate_on_submit():
        db_session = db.session()
        started = submit(
            form,
            lambda: request_signup(
                db_session,
                email=form.email.data,
                password=form.password.data,
                display_name=form.display_name.data,
                organization_name=form.organization_name.data,
                kind=OrganizationKind(form.kind.data),
                country=form.country.data,
                locale=str(request.accept_languages.best_match(["en", "zh"], default="en")),
            ),
        )
        if started is not None:
            if started.secret is not None:
                subject, body = letters.confirm_signup(
                    public_url_for("accounts.confirm_signup", token=started.secret)
                )
            else:
                subject, body = letters.account_exists(
                    public_url_for("accounts.login"), public_url_for("accounts.forgot_password")
                )
            send_after_commit(db_session, started.email, subject, body)
            return redirect(url_for("accounts.signup_sent"))
    return render_template("accounts/signup.html", form=form), form_status(form)


@blueprint.get("/signup/sent")
def signup_sent() -> ResponseReturnValue:
    return render_template("accounts/signup_sent.html")


@blueprint.route("/signup/confirm/<token>", methods=["GET", "POST"])
def confirm_signup(token: str) -> ResponseReturnValue:
    db_session = db.session()
    pending = valid_signup(db_session, token) if len(token) <= MAX_LINK_SECRET else None
    if pending is None:
        return link_expired(
            _("Links to finish signing up work once, for one day. Sign up again."),
            url_for("accounts.signup"),
            _("Create an account"),
        )
    form = ConfirmForm()
    if form.validate_on_submit():
        created = submit(form, lambda: complete_signup(db_session, token), LINK_PROBLEMS)
        if created is not None:
            user, organization = created
            sign_in(user, organization.id)
            flash(_("Welcome to FactoryWeb, %(name)s.", name=user.display_name or user.email))
            return redirect(landing_after_signup(organization))
    page = render_template("accounts/confirm_signup.html", form=form, pending=pending)
    return private(make_response(page, form_status(form)))


@blueprint.route("/welcome", methods=["GET", "POST"])
def welcome() -> ResponseReturnValue:
    """For someone signed in who belongs to no organization yet."""
    user = current_user()
    if user is None:
        return redirect(url_for("accounts.login", next=request.full_path))
    if current_principal() is not None:
        return redirect(url_for("web.home"))
    form = StartOrganizationForm()
    if form.validate_on_submit():
        organization = submit(
            form,
            lambda: start_organization(
                db.session(),
                user,
                name=form.organization_name.data,
                kind=OrganizationKind(form.kind.data),
                country=form.country.data,
            ),
            {"name": "organization_name"},
        )
        if organization is not None:
            sign_in(user, organization.id)
            return redirect(landing_after_signup(organization))
    return render_template(
        "accounts/welcome.html", form=form, account=user, logout_form=LogoutForm()
    ), form_status(form)
