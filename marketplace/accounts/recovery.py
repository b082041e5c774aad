"""Password links: a reset for someone who forgot, or the first password of an invitee.

The link carries a random secret; the database keeps its SHA-256, when it expires and
when it was used. A link works once, and using it ends every session of the account.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from sqlmodel import Session, col, select, update

from factories.errors import N_
from factories.models import id_of, utcnow
from marketplace.accounts.models import PasswordToken, User
from marketplace.accounts.service import AccountError, set_password
from marketplace.accounts.sessions import revoke_user_sessions
from marketplace.accounts.tokens import digest, new_secret


class TokenPurpose(StrEnum):
    RESET = "reset"
    INVITATION = "invitation"


LIFETIME = {
    TokenPurpose.RESET: timedelta(hours=1),
    TokenPurpose.INVITATION: timedelta(days=7),
}


def issue_password_token(
    session: Session,
    user: User,
    purpose: TokenPurpose = TokenPurpose.RESET,
    lifetime: timedelta | None = None,
) -> str:
    """A new link secret for the user; earlier unused links of the same purpose stop working."""
    now = utcnow()
    session.exec(
        update(PasswordToken)
        .where(
            col(PasswordToken.user_id) == user.id,
            col(PasswordToken.purpose) == purpose,
            col(PasswordToken.used_at).is_(None),
        )
        .values(used_at=now)
    )
    secret = new_secret()
    session.add(
        PasswordToken(
            token_hash=digest(secret),
            user_id=id_of(user),
            purpose=purpose,
            created_at=now,
            expires_at=now + (lifetime or LIFETIME[purpose]),
        )
    )
    session.flush()
    return secret


def valid_token(session: Session, secret: str) -> PasswordToken | None:
    token = session.exec(
        select(PasswordToken).where(PasswordToken.token_hash == digest(secret))
    ).first()
    if token is None or token.used_at is not None or token.expires_at <= utcnow():
        return None
    return token


def redeem_password_token(session: Session, secret: str, new_password: str) -> User:
    """Set the password through a link; the link is spent and every session ends."""
    token = valid_token(session, secret)
    if token is None:
        raise AccountError("token", N_("this link has expired or was already used"))
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        raise AccountError("token", N_("this link has expired or was already used"))
    set_password(session, user, new_password)
    # Spent before anything else can use it; the row lock makes a concurrent second use wait
    # and then find it spent.
    spent = session.exec(
        update(PasswordToken)
        .where(col(PasswordToken.id) == token.id, col(PasswordToken.used_at).is_(None))
        .values(used_at=utcnow())
    )
    if spent.rowcount != 1:
        raise AccountError("token", N_("this link has expired or was already used"))
    revoke_user_sessions(session, id_of(user))
    return user
