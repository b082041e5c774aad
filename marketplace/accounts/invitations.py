"""Joining an organization takes the person's consent.

An organization invites an address (`invite`); the person gets a mail with a link and
becomes a member only by following it and accepting: signed in with that address
(`accept_invitation`), or, for an address without an account, by choosing a password
(`join_with_new_account`). Until then the organization sees the address and the name it
typed itself, nothing of an account that may exist. Both kinds of invitee get the same
mail and the inviter the same answer, so inviting tells nobody whether an address has an
account.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select, update

from factories.errors import N_
from factories.models import id_of, utcnow
from marketplace.accounts.models import Invitation, Membership, Organization, Role, User
from marketplace.accounts.service import (
    AccountError,
    add_member,
    check_new_password,
    check_role,
    create_user,
    find_user_by_email,
    is_valid_email,
    normalize_email,
)
from marketplace.accounts.tokens import digest, new_secret

INVITATION_LIFETIME = timedelta(days=7)
EXPIRED = N_("this link has expired or was already used")


def invite(
    session: Session,
    organization: Organization,
    *,
    email: str,
    role: Role,
    display_name: str = "",
    invited_by: User | None = None,
) -> tuple[Invitation, str]:
    """A new invitation and the secret of its link; an earlier one to the same address
    stops working."""
    if not is_valid_email(email):
        raise AccountError("email", N_("enter a valid email address"))
    check_role(organization, role)
    email = normalize_email(email)
    already = session.exec(
        select(Membership.id)
        .join(User, col(User.id) == col(Membership.user_id))
        .where(Membership.organization_id == organization.id, User.email == email)
    ).first()
    if already is not None:
        raise AccountError("email", N_("this person is already a member"))
    now = utcnow()
    session.exec(
        update(Invitation)
        .where(
            col(Invitation.organization_id) == organization.id,
            col(Invitation.email) == email,
            col(Invitation.accepted_at).is_(None),
            col(Invitation.expires_at) > now,
        )
        .values(expires_at=now)
    )
    secret = new_secret()
    invitation = Invitation(
        organization_id=id_of(organization),
        email=email,
        display_name=display_name.strip(),
        role=role,
        invited_by_id=invited_by.id if invited_by is not None else None,
        token_hash=digest(secret),
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    session.add(invitation)
    session.flush()
    return invitation, secret


def pending_invitations(session: Session, organization_id: int) -> list[Invitation]:
    return list(
        session.exec(
            select(Invitation)
            .where(
                Invitation.organization_id == organization_id,
                col(Invitation.accepted_at).is_(None),
                Invitation.expires_at > utcnow(),
            )
            .order_by(col(Invitation.created_at), col(Invitation.id))
        ).all()
    )


def valid_invitation(session: Session, secret: str) -> Invitation | None:
    invitation = session.exec(
        select(Invitation).where(Invitation.token_hash == digest(secret))
    ).first()
    if invitation is None or invitation.accepted_at is not None:
        return None
    if invitation.expires_at <= utcnow():
        return None
    return invitation


def _spend(session: Session, invitation: Invitation) -> Organization:
    spent = session.exec(
        update(Invitation)
        .where(col(Invitation.id) == invitation.id, col(Invitation.accepted_at).is_(None))
        .values(accepted_at=utcnow())
    )
    organization = session.get(Organization, invitation.organization_id)
    if spent.rowcount != 1 or organization is None:
        raise AccountError("token", EXPIRED)
    return organization


def accept_invitation(session: Session, secret: str, user: User) -> Membership:
    """The signed-in person `user` accepts: they are a member from now on."""
    invitation = valid_invitation(session, secret)
    if invitation is None:
        raise AccountError("token", EXPIRED)
    if user.email != invitation.email:
        raise AccountError("email", N_("this invitation is for %(email)s", email=invitation.email))
    organization = _spend(session, invitation)
    membership = session.exec(
        select(Membership).where(
            Membership.user_id == user.id, Membership.organization_id == organization.id
        )
    ).first()
    return membership or add_member(session, user, organization, Role(invitation.role))


def join_with_new_account(
    session: Session, secret: str, *, password: str, display_name: str
) -> tuple[User, Membership]:
    """Someone without an account accepts by choosing a password: their account and
    membership."""
    invitation = valid_invitation(session, secret)
    if invitation is None:
        raise AccountError("token", EXPIRED)
    if find_user_by_email(session, invitation.email) is not None:
        raise AccountError(
            "email",
            N_("an account with this email address already exists: sign in to accept"),
        )
    check_new_password(password, invitation.email)
    organization = _spend(session, invitation)
    user = create_user(
        session,
        invitation.email,
        password,
        display_name=display_name.strip() or invitation.display_name,
    )
    return user, add_member(session, user, organization, Role(invitation.role))
