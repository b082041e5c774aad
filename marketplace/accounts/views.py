"""The account pages: sign-in and sign-out, sign-up confirmed by mail, forgotten
passwords, company sign-in, a factory's machine clients, and the members of an
organization with the invitations that add them."""

from __future__ import annotations

import logging

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
from sqlmodel import select
from wtforms.fields.choices import SelectChoice

from marketplace import db
from marketplace.accounts import letters
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
    ConfirmForm,
    ForgotPasswordForm,
    InviteForm,
    JoinForm,
    LoginForm,
    LogoutForm,
    ResetPasswordForm,
    RevokeForm,
    SignupForm,
    StartOrganizationForm,
)
from marketplace.accounts.invitations import (
    accept_invitation,
    invite,
    join_with_new_account,
    pending_invitations,
    valid_invitation,
)
from marketplace.accounts.mail import send_after_commit
from marketplace.accounts.models import (
    ROLES_BY_KIND,
    Membership,
    OAuthClient,
    Organization,
    OrganizationKind,
    Role,
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
    members_of,
    normalize_email,
    remove_member,
    start_organization,
)
from marketplace.accounts.signup import complete_signup, request_signup, valid_signup
from marketplace.security.hosts import public_url_for
from marketplace.web.forms import perform, submit
from marketplace.web.messages import say
from marketplace.web.navigation import same_site_path

log = logging.getLogger(__name__)
blueprint = Blueprint("accounts", __name__)

OIDC_NEXT_KEY = "oidc_next"


# A link's secret is never longer than this; anything longer names no link.
MAX_LINK_SECRET = 100
# Problems of a mailed link itself, shown above its page's form.
LINK_PROBLEMS = {"token": "", "email": ""}


def _form_status(form) -> int:  # type: ignore[no-untyped-def]
    return 400 if form.errors else 200


def _private(response):  # type: ignore[no-untyped-def]
    """A page whose URL carries a link's secret: sent to no other site, kept in no cache."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _link_expired(advice: str, action: str, label: str):  # type: ignore[no-untyped-def]
    page = render_template("accounts/link_expired.html", advice=advice, action=action, label=label)
    return _private(make_response(page, 404))


def _landing_after_signup(organization: Organization) -> str:
    if (
        organization.kind == OrganizationKind.FACTORY
        and "supply.onboarding" in current_app.view_functions
    ):
        return url_for("supply.onboarding")
    return url_for("web.index")


# Sign in and out ----------------------------------------------------------------------


@blueprint.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
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
def logout():  # type: ignore[no-untyped-def]
    form = LogoutForm()
    if form.validate_on_submit():
        sign_out()
        flash(_("You are signed out."))
    return redirect(url_for("web.index"))


# Sign-up and the first organization ---------------------------------------------------


@blueprint.route("/signup", methods=["GET", "POST"])
def signup():  # type: ignore[no-untyped-def]
    """The answer is the same whether the address has an account or not; the mail to it
    says which (a link to finish signing up, or a reminder of the account)."""
    if current_principal() is not None:
        return redirect(url_for("web.index"))
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
    return render_template("accounts/signup.html", form=form), _form_status(form)


@blueprint.get("/signup/sent")
def signup_sent():  # type: ignore[no-untyped-def]
    return render_template("accounts/signup_sent.html")


@blueprint.route("/signup/confirm/<token>", methods=["GET", "POST"])
def confirm_signup(token: str):  # type: ignore[no-untyped-def]
    db_session = db.session()
    pending = valid_signup(db_session, token) if len(token) <= MAX_LINK_SECRET else None
    if pending is None:
        return _link_expired(
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
            return redirect(_landing_after_signup(organization))
    page = render_template("accounts/confirm_signup.html", form=form, pending=pending)
    return _private(make_response(page, _form_status(form)))


@blueprint.route("/welcome", methods=["GET", "POST"])
def welcome():  # type: ignore[no-untyped-def]
    """For someone signed in who belongs to no organization yet."""
    user = current_user()
    if user is None:
        return redirect(url_for("accounts.login", next=request.full_path))
    if current_principal() is not None:
        return redirect(url_for("web.index"))
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
            return redirect(_landing_after_signup(organization))
    return render_template(
        "accounts/welcome.html", form=form, account=user, logout_form=LogoutForm()
    ), _form_status(form)


# Forgotten passwords ------------------------------------------------------------------


@blueprint.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():  # type: ignore[no-untyped-def]
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
    return render_template("accounts/forgot_password.html", form=form), _form_status(form)


@blueprint.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):  # type: ignore[no-untyped-def]
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
        render_template("accounts/reset_password.html", form=form), _form_status(form)
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# Company sign-in (OpenID Connect) -------------------------------------------------------


@blueprint.get("/login/company")
def oidc_login():  # type: ignore[no-untyped-def]
    client = oidc_client()
    if client is None:
        abort(404)
    session[OIDC_NEXT_KEY] = same_site_path(request.args.get("next"))
    try:
        return client.authorize_redirect(public_url_for("accounts.oidc_callback"))
    except (OAuthError, RequestException, ValueError):
        log.exception("company sign-in: the provider is unreachable")
        flash(_("Company sign-in is not available right now."), "error")
        return redirect(url_for("accounts.login"))


@blueprint.get("/login/company/callback")
def oidc_callback():  # type: ignore[no-untyped-def]
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
def clients():  # type: ignore[no-untyped-def]
    principal = require_principal()
    form = _client_form()
    created: tuple[OAuthClient, str] | None = None
    if form.validate_on_submit():
        organization = db.session().get(Organization, principal.organization_id)
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
        _form_status(form),
    )
    # The page may show a secret once: keep it out of every cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/account/clients/<int:client_pk>/revoke")
@roles_required(Role.FACTORY_OWNER)
def revoke(client_pk: int):  # type: ignore[no-untyped-def]
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
def members():  # type: ignore[no-untyped-def]
    """Everyone of the organization, and the people invited to it; factory owners (and
    members of buyer and operator organizations, which have one role only) invite people.
    An invitee is a member once they accept; until then the page shows only the address
    and the name typed here."""
    principal = require_principal()
    db_session = db.session()
    organization = db_session.get(Organization, principal.organization_id)
    form = _invite_form(organization)
    if form.validate_on_submit():
        inviter = current_user()
        role = Role(form.role.data)
        invited = submit(
            form,
            lambda: invite(
                db_session,
                organization,
                email=form.email.data,
                role=role,
                display_name=form.display_name.data or "",
                invited_by=inviter,
            ),
        )
        if invited is not None:
            invitation, secret = invited
            subject, body = letters.invitation(
                inviter.display_name or inviter.email if inviter is not None else "",
                organization.name,
                _role_labels()[role],
                public_url_for("accounts.invitation", token=secret),
            )
            send_after_commit(db_session, invitation.email, subject, body)
            flash(
                _(
                    "An invitation is on its way to %(email)s. They become a member when "
                    "they accept it.",
                    email=invitation.email,
                )
            )
            return redirect(url_for("accounts.members"))
    return render_template(
        "accounts/members.html",
        form=form,
        organization=organization,
        members=members_of(db_session, organization.id),
        invitations=pending_invitations(db_session, organization.id),
        remove_form=RevokeForm(),
        role_labels=_role_labels(),
    ), _form_status(form)


@blueprint.post("/account/members/<int:membership_id>/remove")
@roles_required(Role.FACTORY_OWNER, Role.BUYER_MEMBER, Role.OPERATOR)
def remove(membership_id: int):  # type: ignore[no-untyped-def]
    principal = require_principal()
    membership = db.session().get(Membership, membership_id)
    if membership is None or not principal.acts_for(membership.organization_id):
        abort(404)
    if RevokeForm().validate_on_submit():
        perform(
            lambda: remove_member(db.session(), membership),
            _("The member was removed."),
            {"membership": ""},
        )
    return redirect(url_for("accounts.members"))


# Invitations, as the invitee answers them ----------------------------------------------


@blueprint.route("/invitations/<token>", methods=["GET", "POST"])
def invitation(token: str):  # type: ignore[no-untyped-def]
    """An address with an account accepts signed in with it; an address without one
    accepts by choosing a password. Ignoring the invitation is saying no."""
    db_session = db.session()
    found = valid_invitation(db_session, token) if len(token) <= MAX_LINK_SECRET else None
    if found is None:
        return _link_expired(
            _("Invitations work once, for seven days. Ask for a new one."),
            url_for("web.index"),
            _("FactoryWeb"),
        )
    organization = db_session.get(Organization, found.organization_id)
    context = {
        "invitation": found,
        "organization": organization,
        "role": _role_labels().get(Role(found.role), found.role),
    }
    if find_user_by_email(db_session, found.email) is None:
        form: JoinForm | ConfirmForm = JoinForm()
        if not form.is_submitted():
            form.display_name.data = found.display_name
        if form.validate_on_submit():
            joined = submit(
                form,
                lambda: join_with_new_account(
                    db_session,
                    token,
                    password=form.password.data,
                    display_name=form.display_name.data or "",
                ),
                LINK_PROBLEMS,
            )
            if joined is not None:
                user, membership = joined
                sign_in(user, membership.organization_id)
                flash(_("You are now a member of %(name)s.", name=organization.name))
                return redirect(url_for("web.index"))
        page = render_template("accounts/invitation.html", form=form, new_account=True, **context)
        return _private(make_response(page, _form_status(form)))

    user = current_user()
    if user is None:
        flash(_("Sign in as %(email)s to answer the invitation.", email=found.email))
        return redirect(url_for("accounts.login", next=request.path))
    if user.email != found.email:
        page = render_template("accounts/invitation.html", wrong_account=True, **context)
        return _private(make_response(page, 403))
    form = ConfirmForm()
    if form.validate_on_submit():
        membership = submit(form, lambda: accept_invitation(db_session, token, user), LINK_PROBLEMS)
        if membership is not None:
            sign_in(user, membership.organization_id)
            flash(_("You are now a member of %(name)s.", name=organization.name))
            return redirect(url_for("web.index"))
    page = render_template("accounts/invitation.html", form=form, new_account=False, **context)
    return _private(make_response(page, _form_status(form)))


def organizations_of_user(user_id: int) -> list[Organization]:
    return list(
        db.session()
        .exec(
            select(Organization)
            .join(Membership, Membership.organization_id == Organization.id)
            .where(Membership.user_id == user_id)
        )
        .all()
    )
