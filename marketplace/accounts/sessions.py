"""Server-side sessions: the browser holds a random secret, the database says whether it
still counts. Signing out, a password reset or an expired session end it for good, even
for someone who kept a copy of the cookie."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select, update

from factories.models import utcnow
from marketplace.accounts.models import UserSession
from marketplace.accounts.tokens import digest, new_secret

# How often last_seen_at is written: not on every request.
TOUCH_INTERVAL = timedelta(minutes=5)


def open_session(
    session: Session,
    user_id: int,
    organization_id: int | None,
    lifetime: timedelta,
    user_agent: str = "",
) -> tuple[str, UserSession]:
    """A new session for the user; returns the secret for the cookie and the row."""
    secret = new_secret()
    now = utcnow()
    row = UserSession(
        secret_hash=digest(secret),
        user_id=user_id,
        organization_id=organization_id,
        user_agent=user_agent[:200],
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    return secret, row


def find_session(
    session: Session, secret: str, idle_timeout: timedelta, now: datetime | None = None
) -> UserSession | None:
    """The live session for this secret, or None when unknown, revoked, expired or idle."""
    now = now or utcnow()
    row = session.exec(select(UserSession).where(UserSession.secret_hash == digest(secret))).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at <= now or row.last_seen_at + idle_timeout <= now:
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
    return row


def revoke_session(session: Session, row: UserSession) -> None:
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()


def revoke_user_sessions(session: Session, user_id: int) -> int:
    """End every session of a user (after a password reset, or when they are removed)."""
    result = session.exec(
        update(UserSession)
        .where(col(UserSession.user_id) == user_id, col(UserSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount
