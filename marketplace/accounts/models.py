"""Organizations, people and what each person may do in each organization."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from factories.models import UtcDateTime, timestamp_field


class OrganizationKind(StrEnum):
    FACTORY = "factory"
    BUYER = "buyer"
    OPERATOR = "operator"


class Role(StrEnum):
    BUYER_MEMBER = "buyer_member"
    FACTORY_MEMBER = "factory_member"
    FACTORY_OWNER = "factory_owner"
    OPERATOR = "operator"


ROLES_BY_KIND: dict[OrganizationKind, frozenset[Role]] = {
    OrganizationKind.FACTORY: frozenset({Role.FACTORY_MEMBER, Role.FACTORY_OWNER}),
    OrganizationKind.BUYER: frozenset({Role.BUYER_MEMBER}),
    OrganizationKind.OPERATOR: frozenset({Role.OPERATOR}),
}


class Organization(SQLModel, table=True):
    __table_args__ = (sa.CheckConstraint("kind IN ('factory', 'buyer', 'operator')", name="kind"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, index=True)
    name: str = Field(max_length=200)
    country: str = Field(default="", max_length=2)
    created_at: datetime = timestamp_field()


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    # Stored lower-cased; uniqueness is on the normalized form.
    email: str = Field(max_length=254, unique=True)
    # None for people who only ever sign in through their company's identity provider.
    password_hash: str | None = Field(default=None, max_length=255)
    display_name: str = Field(default="", max_length=120)
    locale: str = Field(default="en", max_length=8)
    is_active: bool = Field(default=True)
    created_at: datetime = timestamp_field()
    last_login_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Membership(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("user_id", "organization_id"),
        sa.CheckConstraint(
            "role IN ('buyer_member', 'factory_member', 'factory_owner', 'operator')", name="role"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    organization_id: int = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=20)
    created_at: datetime = timestamp_field()


class UserSession(SQLModel, table=True):
    """A signed-in browser. The cookie carries a random secret; only its hash is kept here,
    so that signing out (or a password reset) ends the session on the server for good."""

    __tablename__ = "user_session"

    id: int | None = Field(default=None, primary_key=True)
    secret_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    organization_id: int | None = Field(
        default=None, foreign_key="organization.id", ondelete="CASCADE"
    )
    user_agent: str = Field(default="", max_length=200)
    created_at: datetime = timestamp_field()
    last_seen_at: datetime = timestamp_field()
    expires_at: datetime = Field(sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class PasswordToken(SQLModel, table=True):
    """A single-use link to set a password: a reset, or the first password of an invitee."""

    __tablename__ = "password_token"
    __table_args__ = (sa.CheckConstraint("purpose IN ('reset', 'invitation')", name="purpose"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    purpose: str = Field(default="reset", max_length=16)
    created_at: datetime = timestamp_field()
    expires_at: datetime = Field(sa_type=UtcDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ExternalIdentity(SQLModel, table=True):
    """A person's account at their company's OpenID Connect provider, linked to a user."""

    __tablename__ = "external_identity"
    __table_args__ = (sa.UniqueConstraint("issuer", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True, ondelete="CASCADE")
    issuer: str = Field(max_length=255)
    subject: str = Field(max_length=255)
    email: str = Field(default="", max_length=254)
    created_at: datetime = timestamp_field()
    last_login_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class OAuthClient(SQLModel, table=True):
    """A machine of a factory (MES, ERP, gateway) that gets tokens with client credentials.

    The secret is shown once at creation; only its SHA-256 is stored (it is 256 random
    bits, so a slow password hash would add nothing but latency to every token request).
    """

    __tablename__ = "oauth_client"

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=120)
    client_id: str = Field(max_length=64, unique=True)
    secret_hash: str = Field(max_length=64)
    # Space-separated OAuth2 scopes the client may ask for.
    scopes: str = Field(max_length=255)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    created_at: datetime = timestamp_field()
    last_used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class OAuthToken(SQLModel, table=True):
    """An access token issued to a machine client; only its SHA-256 is stored."""

    __tablename__ = "oauth_token"

    id: int | None = Field(default=None, primary_key=True)
    client_pk: int = Field(foreign_key="oauth_client.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    scopes: str = Field(max_length=255)
    issued_at: datetime = timestamp_field()
    expires_at: datetime = Field(sa_type=UtcDateTime, index=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class SignupRequest(SQLModel, table=True):
    """A sign-up waiting for its email address to be confirmed. No account or organization
    exists until the link mailed to the address is followed, so that signing up answers
    the same whether the address already has an account or not (that mail tells which)."""

    __tablename__ = "signup_request"
    __table_args__ = (sa.CheckConstraint("kind IN ('factory', 'buyer')", name="kind"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    email: str = Field(max_length=254, index=True)
    # Hashed when the form was sent; emptied once the account exists.
    password_hash: str = Field(default="", max_length=255)
    display_name: str = Field(default="", max_length=120)
    organization_name: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    country: str = Field(default="", max_length=2)
    locale: str = Field(default="en", max_length=8)
    created_at: datetime = timestamp_field()
    expires_at: datetime = Field(sa_type=UtcDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Invitation(SQLModel, table=True):
    """An offer to join an organization, mailed to an address. The person becomes a member
    only by accepting it: signed in with that address, or choosing a password when the
    address has no account yet. Until then the organization knows only the address (and
    the name) it typed itself."""

    __tablename__ = "invitation"
    __table_args__ = (
        sa.CheckConstraint(
            "role IN ('buyer_member', 'factory_member', 'factory_owner', 'operator')", name="role"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    email: str = Field(max_length=254)
    # The name the inviter typed, offered to a new account; never the account's own.
    display_name: str = Field(default="", max_length=120)
    role: str = Field(max_length=20)
    invited_by_id: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = timestamp_field()
    expires_at: datetime = Field(sa_type=UtcDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
