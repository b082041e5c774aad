"""OAuth2 for the machines of a factory (MES, ERP, gateway): the client-credentials grant
only, narrow scopes, hashed client secrets and access tokens, expiry and revocation.

POST /oauth/token  grant_type=client_credentials [&scope=...]  -> a bearer token
POST /oauth/revoke token=...                                    -> RFC 7009

The API accepts `Authorization: Bearer <token>`; such a request acts for the client's
factory with exactly the token's scopes (see access.current_principal).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, InvalidClientError, InvalidScopeError, TokenMixin
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7009 import RevocationEndpoint
from flask import Blueprint, Flask, Response, current_app, request
from flask.typing import ResponseReturnValue
from sqlmodel import Session, col, select, update

from factories.errors import N_
from factories.models import id_of, utcnow
from marketplace import db
from marketplace.accounts.models import (
    OAuthClient,
    OAuthToken,
    Organization,
    OrganizationKind,
    Role,
    User,
)
from marketplace.accounts.service import AccountError, Principal
from marketplace.accounts.tokens import digest, matches, new_secret

SCOPES: dict[str, str] = {
    "capacity:write": N_("publish free capacity"),
    "proposals:read": N_("read the factory's proposals"),
    "proposals:write": N_("accept or decline proposals"),
    "milestones:write": N_("report production milestones"),
    "orders:read": N_("read the orders the factory works on"),
    "orders:write": N_("update the orders the factory works on"),
}
AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
DEFAULT_TOKEN_LIFETIME = timedelta(hours=1)
EXTENSION_KEY = "factoryweb.oauth"
CLIENT_ID_PREFIX = "fwc_"
SECRET_PREFIX = "fws_"
TOKEN_PREFIX = "fwt_"


# Clients, as the owners of a factory manage them -------------------------------------


def create_client(
    session: Session,
    organization: Organization,
    name: str,
    scopes: list[str],
    created_by: User | None = None,
) -> tuple[OAuthClient, str]:
    """A new machine client of a factory; returns it with its secret (shown only now)."""
    if organization.kind != OrganizationKind.FACTORY:
        raise AccountError("organization", N_("only factories have machine clients"))
    name = name.strip()
    problems = []
    if not name:
        problems.append(("name", N_("name the machine, e.g. 'MES line 2'")))
    elif len(name) > 120:
        problems.append(("name", N_("at most %(maximum)s characters", maximum=120)))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        problems.append(("scopes", N_("unknown scope %(code)s", code=unknown[0])))
    elif not scopes:
        problems.append(("scopes", N_("choose at least one scope")))
    if problems:
        raise AccountError.of(problems)
    secret = new_secret(SECRET_PREFIX)
    client = OAuthClient(
        organization_id=id_of(organization),
        name=name,
        client_id=CLIENT_ID_PREFIX + new_secret()[:22],
        secret_hash=digest(secret),
        scopes=" ".join(s for s in SCOPES if s in scopes),
        created_by_id=created_by.id if created_by else None,
    )
    session.add(client)
    session.flush()
    return client, secret


def clients_of(session: Session, organization_id: int) -> list[OAuthClient]:
    return list(
        session.exec(
            select(OAuthClient)
            .where(OAuthClient.organization_id == organization_id)
            .order_by(col(OAuthClient.revoked_at).is_not(None), col(OAuthClient.created_at).desc())
        ).all()
    )


def revoke_client(session: Session, client: OAuthClient) -> None:
    """The client gets no more tokens, and the ones it has stop working now."""
    now = utcnow()
    if client.revoked_at is None:
        client.revoked_at = now
    session.exec(
        update(OAuthToken)
        .where(col(OAuthToken.client_pk) == client.id, col(OAuthToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    session.flush()


def principal_for_token(
    session: Session, token: str, now: datetime | None = None
) -> Principal | None:
    """The machine client acting with this bearer token, or None if it does not count."""
    now = now or utcnow()
    row = session.exec(
        select(OAuthToken, OAuthClient, Organization)
        .join(OAuthClient, col(OAuthClient.id) == col(OAuthToken.client_pk))
        .join(Organization, col(Organization.id) == col(OAuthClient.organization_id))
        .where(OAuthToken.token_hash == digest(token))
    ).first()
    if row is None:
        return None
    access_token, client, organization = row
    if access_token.revoked_at is not None or access_token.expires_at <= now:
        return None
    if client.revoked_at is not None or organization.kind != OrganizationKind.FACTORY:
        return None
    return Principal(
        organization_id=id_of(organization),
        organization_kind=OrganizationKind.FACTORY,
        role=Role.FACTORY_MEMBER,
        client_id=client.client_id,
        scopes=frozenset(access_token.scopes.split()),
    )


# The authorization server ------------------------------------------------------------


@dataclass
class MachineClient(ClientMixin):
    row: OAuthClient

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return self.row.scopes
        allowed = set(self.row.scopes.split())
        return " ".join(s for s in scope_to_list(scope) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return matches(client_secret, self.row.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == ClientCredentialsGrant.GRANT_TYPE


@dataclass
class IssuedToken(TokenMixin):
    row: OAuthToken

    def check_client(self, client: MachineClient) -> bool:
        return self.row.client_pk == client.row.id

    def get_scope(self) -> str:
        return self.row.scopes

    def get_expires_in(self) -> int:
        return int((self.row.expires_at - self.row.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.row.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None


class MachineCredentialsGrant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_requested_scope(self) -> None:
        super().validate_requested_scope()
        requested = set(scope_to_list(self.request.payload.scope) or [])
        allowed = set(self.request.client.row.scopes.split())
        if not requested <= allowed:
            raise InvalidScopeError(
                description="scope: this client may only ask for " + " ".join(sorted(allowed))
            )


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS
    SUPPORTED_TOKEN_TYPES = ("access_token",)

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        row = (
            db.session()
            .exec(select(OAuthToken).where(OAuthToken.token_hash == digest(token_string)))
            .first()
        )
        return IssuedToken(row) if row is not None else None

    def revoke_token(self, token: IssuedToken, request: Any) -> None:
        if token.row.revoked_at is None:
            token.row.revoked_at = utcnow()
        db.session().flush()


def _query_client(client_id: str) -> MachineClient | None:
    if not isinstance(client_id, str) or len(client_id) > 64:
        return None
    row = (
        db.session()
        .exec(
            select(OAuthClient).where(
                OAuthClient.client_id == client_id, col(OAuthClient.revoked_at).is_(None)
            )
        )
        .first()
    )
    return MachineClient(row) if row is not None else None


def _save_token(token: dict[str, Any], request: Any) -> None:
    client: MachineClient = request.client
    now = utcnow()
    session = db.session()
    session.add(
        OAuthToken(
            client_pk=id_of(client.row),
            token_hash=digest(token["access_token"]),
            scopes=token.get("scope") or "",
            issued_at=now,
            expires_at=now + timedelta(seconds=int(token["expires_in"])),
        )
    )
    client.row.last_used_at = now
    session.flush()


def _generate_access_token(**_: Any) -> str:
    return new_secret(TOKEN_PREFIX)


def init_oauth(app: Flask) -> None:
    lifetime = app.config.get("OAUTH2_TOKEN_LIFETIME", DEFAULT_TOKEN_LIFETIME)
    server = AuthorizationServer(query_client=_query_client, save_token=_save_token)
    server.load_config(
        {
            "OAUTH2_ACCESS_TOKEN_GENERATOR": _generate_access_token,
            "OAUTH2_TOKEN_EXPIRES_IN": {"client_credentials": int(lifetime.total_seconds())},
            "OAUTH2_SCOPES_SUPPORTED": list(SCOPES),
        }
    )
    server.register_grant(MachineCredentialsGrant)
    server.register_endpoint(Revocation)
    app.extensions[EXTENSION_KEY] = server


def authorization_server() -> AuthorizationServer:
    return current_app.extensions[EXTENSION_KEY]


blueprint = Blueprint("oauth", __name__)


@blueprint.post("/oauth/token")
def issue_token() -> ResponseReturnValue:
    """Client credentials in (HTTP Basic or form fields), a bearer token out."""
    return authorization_server().create_token_response()


@blueprint.post("/oauth/revoke")
def revoke_token() -> ResponseReturnValue:
    """RFC 7009: a client ends one of its own tokens; unknown tokens are not an error."""
    return authorization_server().create_endpoint_response(Revocation.ENDPOINT_NAME)


def refuse_client(description: str) -> Response:
    """The token endpoints' answer to client credentials that cannot be read: the same as
    for an unknown client (RFC 6749 section 5.2)."""
    error = InvalidClientError(status_code=401, description=description)
    return authorization_server().handle_error_response(request, error)
