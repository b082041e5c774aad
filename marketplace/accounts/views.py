from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urljoin

from authlib.integrations.base_client import OAuthError
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from joserfc.errors import JoseError
from requests import RequestException
from sqlmodel import col, select
from wtforms.fields.choices import SelectChoice

from factories.models import id_of
from marketplace import db
from marketplace.accounts.access import (
    current_principal,
    current_user,
    require_principal,
    roles_required,
    sign_in,
    sign_out,
)
from marketplace.accounts.forms import (
    ClientForm,
    ForgotPasswordForm,
    InviteForm,
    LoginForm,
    LogoutForm,
    ResetPasswordForm,
    RevokeForm,
    SignupForm,
    StartOrganizationForm,
)
from marketplace.accounts.mail import mailer
from marketplace.accounts.models import (
    ROLES_BY_KIND,
    Membership,
    OAuthClient,
    Organization,
    OrganizationKind,
    Role,
    User,
)
from marketplace.accounts.oauth import SCOPES, clients_of, create_client, revoke_client
from marketplace.accounts.oidc import oidc_client, oidc_enabled, user_for_provider_login
from marketplace.accounts.recovery import (
    TokenPurpose,
    issue_password_token,
    redeem_password_token,
    valid_token,
)
from marketplace.accounts.service import (
    AccountError,
    authenticate,
    find_user_by_email,
    invite_member,
    members_of,
    remove_member,
    sign_up,
    start_organization,
)
from marketplace.web.messages import say
from marketplace.web.navigation import same_site_path

log = logging.getLogger(__name__)
blueprint = Blueprint("accounts", __name__)

OIDC_NEXT_KEY = "oidc_next"


def _form_status(form) -> int:
    return 400 if form.errors else 200


def _attach(form, error: AccountError) -> None:
    field = getattr(form, error.field, None)
    if field is None:
        form.form_errors.append(say(error.message))
    else:
        field.errors = [*field.errors, say(error.message)]


def _landing_after_signup(organization: Organization) -> str:
    if (
        organization.kind == OrganizationKind.FACTORY
        and "supply.onboarding" in current_app.view_functions
    ):
        return url_for("supply.onboarding")
    return url_for("web.index")


def _external_url(endpoint: str, **values: Any) -> str:
    """Links in mails: from PUBLIC_URL when set, so a forged Host header cannot redirect them."""
    base = current_app.config.get("PUBLIC_URL")
    if base:
        return urljoin(base.rstrip("/") + "/", url_for(endpoint, **values).lstrip("/"))
    return url_for(endpoint, _external=True, **values)


# Sign in and out ----------------------------------------------------------------------


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db.session(), form.email.data, form.password.data)
        if user is not None:
            sign_in(user)
            if current_principal() is None:
                return redirect(url_for("accounts.welcome"))
            return redirect(same_site_path(form.next.data))
        form.password.errors.append(_("Unknown email address or wrong password."))
    elif not form.is_submitted():
        form.next.data = request.args.get("next", "")
    return render_template(
        "accounts/login.html", form=form, oidc_enabled=oidc_enabled()
    ), _form_status(form)


@blueprint.post("/logout")
def logout():
    form = LogoutForm()
    if form.validate_on_submit():
        sign_out()
        flash(_("You are signed out."))
    return redirect(url_for("web.index"))


# Sign-up and the first organization ---------------------------------------------------


@blueprint.route("/signup", methods=["GET", "POST"])
def signup():
    if current_principal() is not None:
        return redirect(url_for("web.index"))
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user, organization = sign_up(
                db.session(),
                email=form.email.data,
                password=form.password.data,
                display_name=form.display_name.data,
                organization_name=form.organization_name.data,
                kind=OrganizationKind(form.kind.data),
                country=form.country.data,
                locale=str(request.accept_languages.best_match(["en", "zh"], default="en")),
            )
        except AccountError as error:
            _attach(form, error)
        else:
            sign_in(user, organization.id)
            flash(_("Welcome to FactoryWeb, %(name)s.", name=user.display_name or user.email))
            return redirect(_landing_after_signup(organization))
    return render_template("accounts/signup.html", form=form), _form_status(form)


@blueprint.route("/welcome", methods=["GET", "POST"])
def welcome():
    """For someone signed in who belongs to no organization yet."""
    user = current_user()
    if user is None:
        return redirect(url_for("accounts.login", next=request.full_path))
    if current_principal() is not None:
        return redirect(url_for("web.index"))
    form = StartOrganizationForm()
    if form.validate_on_submit():
        try:
            organization = start_organization(
                db.session(),
                user,
                name=form.organization_name.data,
                kind=OrganizationKind(form.kind.data),
                country=form.country.data,
            )
        except AccountError as error:
            _attach(form, error)
        else:
            sign_in(user, organization.id)
            return redirect(_landing_after_signup(organization))
    return render_template(
        "accounts/welcome.html", form=form, account=user, logout_form=LogoutForm()
    ), _form_status(form)


# Forgotten passwords ------------------------------------------------------------------


@blueprint.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        user = find_user_by_email(db.session(), form.email.data)
        if user is not None and user.is_active:
            secret = issue_password_token(db.session(), user, TokenPurpose.RESET)
            link = _external_url("accounts.reset_password", token=secret)
            try:
                mailer().send(
                    user.email,
                    _("Reset your FactoryWeb password"),
                    _(
                        "Someone asked to reset the password of your FactoryWeb account.\n\n"
                        "Set a new password here (the link works once, for one hour):\n"
                        "%(link)s\n\nIf it was not you, ignore this message.",
                        link=link,
                    ),
                )
            except OSError:
                log.exception("password reset mail to user %s failed", user.id)
        # The same answer whether or not the address has an account.
        flash(_("If an account uses this address, a link to reset the password is on its way."))
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot_password.html", form=form), _form_status(form)


@blueprint.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    if len(token) > 100 or valid_token(db.session(), token) is None:
        return render_template("accounts/reset_expired.html"), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            redeem_password_token(db.session(), token, form.password.data)
        except AccountError as error:
            _attach(form, error)
        else:
            sign_out()
            flash(_("Your password is set. Sign in with it now."))
            return redirect(url_for("accounts.login"))
    response = make_response(
        render_template("accounts/reset_password.html", form=form), _form_status(form)
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# Company sign-in (OpenID Connect) -------------------------------------------------------


@blueprint.get("/login/company")
def oidc_login():
    client = oidc_client()
    if client is None:
        abort(404)
    session[OIDC_NEXT_KEY] = same_site_path(request.args.get("next"))
    try:
        return client.authorize_redirect(url_for("accounts.oidc_callback", _external=True))
    except (OAuthError, RequestException, ValueError):
        log.exception("company sign-in: the provider is unreachable")
        flash(_("Company sign-in is not available right now."), "error")
        return redirect(url_for("accounts.login"))


@blueprint.get("/login/company/callback")
def oidc_callback():
    client = oidc_client()
    if client is None:
        abort(404)
    next_path = same_site_path(session.get(OIDC_NEXT_KEY))
    try:
        token = client.authorize_access_token()
        claims = token.get("userinfo") or client.userinfo(token=token)
        issuer = client.load_server_metadata()["issuer"]
        user = user_for_provider_login(db.session(), issuer, dict(claims))
    except AccountError as error:
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


# Machine clients of a factory ----------------------------------------------------------


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
def clients():
    principal = require_principal()
    form = _client_form()
    created: tuple[OAuthClient, str] | None = None
    if form.validate_on_submit():
        organization = db.session().get_one(Organization, principal.organization_id)
        try:
            created = create_client(
                db.session(), organization, form.name.data, form.scopes.data, current_user()
            )
        except AccountError as error:
            _attach(form, error)
        else:
            form = _client_form()
            form.name.data = ""
    response = make_response(
        render_template(
            "accounts/clients.html",
            form=form,
            clients=clients_of(db.session(), principal.organization_id),
            created=created,
            revoke_form=RevokeForm(),
            token_url=url_for("oauth.issue_token", _external=True),
        ),
        _form_status(form),
    )
    # The page may show a secret once: keep it out of every cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/account/clients/<int:client_pk>/revoke")
@roles_required(Role.FACTORY_OWNER)
def revoke(client_pk: int):
    client = _own_client(client_pk)
    if RevokeForm().validate_on_submit():
        revoke_client(db.session(), client)
        flash(_("The client %(name)s can no longer get or use tokens.", name=client.name))
    return redirect(url_for("accounts.clients"))


# Members of an organization -------------------------------------------------------------


def _role_labels() -> dict[str, str]:
    return {
        Role.FACTORY_MEMBER: _("Factory member"),
        Role.FACTORY_OWNER: _("Factory owner"),
        Role.BUYER_MEMBER: _("Buyer"),
        Role.OPERATOR: _("Operator"),
    }


def _invite_form(organization: Organization) -> InviteForm:
    form = InviteForm()
    labels = _role_labels()
    roles = sorted(ROLES_BY_KIND[OrganizationKind(organization.kind)])
    form.role.choices = [SelectChoice(role.value, labels[role]) for role in roles]
    return form


@blueprint.route("/account/members", methods=["GET", "POST"])
@roles_required(Role.FACTORY_OWNER, Role.BUYER_MEMBER, Role.OPERATOR)
def members():
    """Everyone of the organization; factory owners (and members of buyer and operator
    organizations, which have one role only) add people."""
    principal = require_principal()
    organization = db.session().get_one(Organization, principal.organization_id)
    form = _invite_form(organization)
    if form.validate_on_submit():
        try:
            user, is_new = invite_member(
                db.session(),
                organization,
                form.email.data,
                Role(form.role.data),
                form.display_name.data or "",
            )
        except AccountError as error:
            _attach(form, error)
        else:
            _send_invitation(user, organization, is_new)
            flash(_("%(email)s is now a member.", email=user.email))
            return redirect(url_for("accounts.members"))
    return render_template(
        "accounts/members.html",
        form=form,
        organization=organization,
        members=members_of(db.session(), id_of(organization)),
        remove_form=RevokeForm(),
        role_labels=_role_labels(),
    ), _form_status(form)


def _send_invitation(user: User, organization: Organization, is_new: bool) -> None:
    if is_new:
        secret = issue_password_token(db.session(), user, TokenPurpose.INVITATION)
        body = _(
            "You were added to %(organization)s on FactoryWeb.\n\n"
            "Choose your password here (the link works once, for seven days):\n%(link)s",
            organization=organization.name,
            link=_external_url("accounts.reset_password", token=secret),
        )
    else:
        body = _(
            "You were added to %(organization)s on FactoryWeb. Sign in as usual:\n%(link)s",
            organization=organization.name,
            link=_external_url("accounts.login"),
        )
    try:
        mailer().send(user.email, _("You were added to %(name)s", name=organization.name), body)
    except OSError:
        log.exception("invitation mail to user %s failed", user.id)


@blueprint.post("/account/members/<int:membership_id>/remove")
@roles_required(Role.FACTORY_OWNER, Role.BUYER_MEMBER, Role.OPERATOR)
def remove(membership_id: int):
    principal = require_principal()
    membership = db.session().get(Membership, membership_id)
    if membership is None or not principal.acts_for(membership.organization_id):
        abort(404)
    if RevokeForm().validate_on_submit():
        try:
            remove_member(db.session(), membership)
        except AccountError as error:
            flash(say(error.message), "error")
        else:
            flash(_("The member was removed."))
    return redirect(url_for("accounts.members"))


def organizations_of_user(user_id: int) -> list[Organization]:
    return list(
        db.session()
        .exec(
            select(Organization)
            .join(Membership, col(Membership.organization_id) == col(Organization.id))
            .where(Membership.user_id == user_id)
        )
        .all()
    )
