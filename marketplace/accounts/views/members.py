"""The members of an organization, and the invitations that add them."""

from __future__ import annotations

import logging

from flask import (
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlmodel import col, select
from wtforms.fields.choices import SelectChoice

from marketplace import db
from marketplace.accounts import letters
from marketplace.accounts.access import (
    current_user,
    require_principal,
    roles_required,
    sign_in,
)
from marketplace.accounts.forms import (
    ConfirmForm,
    InviteForm,
    JoinForm,
    RevokeForm,
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
    Organization,
    OrganizationKind,
    Role,
)
from marketplace.accounts.service import (
    find_user_by_email,
    members_of,
    remove_member,
)
from marketplace.accounts.views.common import (
    LINK_PROBLEMS,
    MAX_LINK_SECRET,
    blueprint,
    form_status,
    link_expired,
    private,
)
from marketplace.security.hosts import public_url_for
from marketplace.web.forms import perform, submit

log = logging.getLogger(__name__)


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
def members() -> ResponseReturnValue:
    """Everyone of the organization, and the people invited to it; factory owners (and
    members of buyer and operator organizations, which have one role only) invite people.
    An invitee is a member once they accept; until then the page shows only the address
    and the name typed here."""
    principal = require_principal()
    db_session = db.session()
    organization = db_session.get_one(Organization, principal.organization_id)
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
        members=members_of(db_session, principal.organization_id),
        invitations=pending_invitations(db_session, principal.organization_id),
        remove_form=RevokeForm(),
        role_labels=_role_labels(),
    ), form_status(form)


@blueprint.post("/account/members/<int:membership_id>/remove")
@roles_required(Role.FACTORY_OWNER, Role.BUYER_MEMBER, Role.OPERATOR)
def remove(membership_id: int) -> ResponseReturnValue:
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
def invitation(token: str) -> ResponseReturnValue:
    """An address with an account accepts signed in with it; an address without one
    accepts by choosing a password. Ignoring the invitation is saying no."""
    db_session = db.session()
    found = valid_invitation(db_session, token) if len(token) <= MAX_LINK_SECRET else None
    if found is None:
        return link_expired(
            _("Invitations work once, for seven days. Ask for a new one."),
            url_for("web.index"),
            _("FactoryWeb"),
        )
    organization = db_session.get_one(Organization, found.organization_id)
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
                account, membership = joined
                sign_in(account, membership.organization_id)
                flash(_("You are now a member of %(name)s.", name=organization.name))
                return redirect(url_for("web.home"))
        page = render_template("accounts/invitation.html", form=form, new_account=True, **context)
        return private(make_response(page, form_status(form)))

    user = current_user()
    if user is None:
        flash(_("Sign in as %(email)s to answer the invitation.", email=found.email))
        return redirect(url_for("accounts.login", next=request.path))
    if user.email != found.email:
        page = render_template("accounts/invitation.html", wrong_account=True, **context)
        return private(make_response(page, 403))
    form = ConfirmForm()
    if form.validate_on_submit():
        accepted = submit(form, lambda: accept_invitation(db_session, token, user), LINK_PROBLEMS)
        if accepted is not None:
            sign_in(user, accepted.organization_id)
            flash(_("You are now a member of %(name)s.", name=organization.name))
            return redirect(url_for("web.home"))
    page = render_template("accounts/invitation.html", form=form, new_account=False, **context)
    return private(make_response(page, form_status(form)))


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
