"""Sign-up confirmed by mail, so that its answer never tells whether an address already
has an account: the mail does, to the one person who reads that address.

`request_signup` checks the form and, for an address without an account, keeps what was
typed (the password hashed) as a `SignupRequest` whose link secret it returns; for an
address with an account it keeps nothing and returns that account, whose owner is told by
mail. Either way it spends the time of one password hash. `complete_signup` turns a
confirmed request into the person and the organization they start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, select, update

from factories.errors import N_
from factories.models import utcnow
from marketplace.accounts.models import Organization, OrganizationKind, SignupRequest, User
from marketplace.accounts.passwords import hash_password
from marketplace.accounts.service import (
    AccountError,
    check_signup,
    create_user,
    find_user_by_email,
    normalize_email,
    start_organization,
)
from marketplace.accounts.tokens import digest, new_secret

SIGNUP_LIFETIME = timedelta(days=1)
EXPIRED = N_("this link has expired or was already used")


@dataclass(frozen=True)
class SignupStarted:
    email: str
    secret: str | None = None  # of the confirmation link, for an address without account
    existing: User | None = None  # the account the address already has


def request_signup(
    session: Session,
    *,
    email: str,
    password: str,
    display_name: str,
    organization_name: str,
    kind: OrganizationKind,
    country: str,
    locale: str = "en",
) -> SignupStarted:
    check_signup(email=email, password=password, organization_name=organization_name, kind=kind)
    password_hash = hash_password(password)
    existing = find_user_by_email(session, email)
    if existing is not None:
        return SignupStarted(email=existing.email, existing=existing)
    secret = new_secret()
    now = utcnow()
    session.add(
        SignupRequest(
            token_hash=digest(secret),
            email=normalize_email(email),
            password_hash=password_hash,
            display_name=display_name.strip(),
            organization_name=organization_name.strip(),
            kind=kind,
            country=country.upper(),
            locale=locale,
            created_at=now,
            expires_at=now + SIGNUP_LIFETIME,
        )
    )
    session.flush()
    return SignupStarted(email=normalize_email(email), secret=secret)


def valid_signup(session: Session, secret: str) -> SignupRequest | None:
    row = session.exec(
        select(SignupRequest).where(SignupRequest.token_hash == digest(secret))
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row


def complete_signup(session: Session, secret: str) -> tuple[User, Organization]:
    """The account and organization of a confirmed sign-up; its link is spent."""
    row = valid_signup(session, secret)
    if row is None:
        raise AccountError("token", EXPIRED)
    password_hash = row.password_hash
    # Spent first; the row lock makes a concurrent second use wait, then find it spent.
    spent = session.exec(
        update(SignupRequest)
        .where(col(SignupRequest.id) == row.id, col(SignupRequest.used_at).is_(None))
        .values(used_at=utcnow(), password_hash="")
    )
    if spent.rowcount != 1:
        raise AccountError("token", EXPIRED)
    if find_user_by_email(session, row.email) is not None:
        raise AccountError("email", N_("an account with this email address already exists"))
    user = create_user(session, row.email, None, display_name=row.display_name, locale=row.locale)
    user.password_hash = password_hash
    organization = start_organization(
        session,
        user,
        name=row.organization_name,
        kind=OrganizationKind(row.kind),
        country=row.country,
    )
    return user, organization
