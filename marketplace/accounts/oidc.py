"""Sign in with the company's OpenID Connect provider (Authlib's Flask client).

Configured by OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET; the provider's
endpoints come from its discovery document. The first sign-in of a provider account
links it to the existing user with the same email address when the provider says that
address is verified, or creates a new user (who then starts an organization or asks an
owner to add them).
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app
from sqlmodel import Session, select

from factories.errors import N_
from factories.models import id_of, utcnow
from marketplace.accounts.models import ExternalIdentity, User
from marketplace.accounts.service import (
    EMAIL_MAX_LENGTH,
    AccountError,
    create_user,
    find_user_by_email,
    is_valid_email,
)
from marketplace.security.text import storable, unstorable

EXTENSION_KEY = "factoryweb.oidc"
PROVIDER = "company"


def init_oidc(app: Flask) -> None:
    issuer = app.config.get("OIDC_ISSUER")
    client_id = app.config.get("OIDC_CLIENT_ID")
    client_secret = app.config.get("OIDC_CLIENT_SECRET")
    if not (issuer and client_id and client_secret):
        app.extensions[EXTENSION_KEY] = None
        return
    oauth = OAuth(app)
    oauth.register(
        PROVIDER,
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile", "timeout": 10},
    )
    app.extensions[EXTENSION_KEY] = oauth


def oidc_client() -> Any | None:
    oauth: OAuth | None = current_app.extensions.get(EXTENSION_KEY)
    return getattr(oauth, PROVIDER) if oauth is not None else None


def oidc_enabled() -> bool:
    return current_app.extensions.get(EXTENSION_KEY) is not None


def _is_verified(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def user_for_provider_login(session: Session, issuer: str, claims: dict[str, Any]) -> User:
    """The user this provider account signs in as: already linked, linked now by verified
    email, or created now. Raises AccountError when none can be trusted."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255 or unstorable(subject):
        raise AccountError("sub", N_("the provider sent no usable subject"))
    identity = session.exec(
        select(ExternalIdentity).where(
            ExternalIdentity.issuer == issuer, ExternalIdentity.subject == subject
        )
    ).first()
    now = utcnow()
    if identity is not None:
        user = session.get(User, identity.user_id)
        if user is None or not user.is_active:
            raise AccountError("email", N_("this account is disabled"))
        identity.last_login_at = now
        user.last_login_at = now
        return user

    email = claims.get("email")
    if not isinstance(email, str) or not email.strip():
        raise AccountError("email", N_("the provider did not share an email address"))
    if not is_valid_email(email):
        raise AccountError(
            "email",
            N_(
                "the provider sent an email address that is not valid or longer than "
                "%(maximum)s characters",
                maximum=EMAIL_MAX_LENGTH,
            ),
        )
    if not _is_verified(claims.get("email_verified")):
        raise AccountError("email", N_("the provider has not verified this email address"))
    user = find_user_by_email(session, email)
    if user is None:
        name = claims.get("name") if isinstance(claims.get("name"), str) else ""
        display_name = storable(name or "").strip()[:120]
        user = create_user(session, email, None, display_name=display_name)
    elif not user.is_active:
        raise AccountError("email", N_("this account is disabled"))
    session.add(
        ExternalIdentity(
            user_id=id_of(user),
            issuer=issuer,
            subject=subject,
            email=user.email,
            created_at=now,
            last_login_at=now,
        )
    )
    user.last_login_at = now
    session.flush()
    return user
