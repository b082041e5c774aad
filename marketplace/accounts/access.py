"""Who is making this request, and may they? Used by every view of the web and the API.

A request is made by
- a person in a browser: the signed cookie carries a random session secret, and the
  `user_session` row it points to must exist, be live and not revoked; or
- a machine client of a factory: `Authorization: Bearer <token>` on an API path. Such a
  request is authenticated by the token alone (the cookie is ignored), so it needs no
  CSRF token.

Handlers follow one order: load the object, check access, then process. The checks
here answer "is someone signed in, in a suitable role"; object-level checks
("is this order theirs") are made by the services with the Principal, and objects of
other organizations answer 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import abort, current_app, g, redirect, request, session, url_for
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from factories.models import id_of
from marketplace import db
from marketplace.accounts.models import Role, User, UserSession
from marketplace.accounts.oauth import principal_for_token
from marketplace.accounts.service import Principal, memberships_of, principal_for
from marketplace.accounts.sessions import find_session, open_session, revoke_session
from marketplace.security.requests import bearer_token, is_api_request

SESSION_SECRET_KEY = "sid"
DEFAULT_SESSION_LIFETIME = timedelta(days=14)
DEFAULT_SESSION_IDLE_TIMEOUT = timedelta(hours=12)

P = ParamSpec("P")
R = TypeVar("R")


def current_principal() -> Principal | None:
    if "principal" not in g:
        g.principal = _principal_from_request()
    return g.principal


def _principal_from_request() -> Principal | None:
    token = bearer_token()
    if token is not None:
        return principal_for_token(db.session(), token) if token else None
    account_session = current_session()
    if account_session is None or current_user() is None:
        return None
    return principal_for(db.session(), account_session.user_id, account_session.organization_id)


def current_session() -> UserSession | None:
    """The live server-side session of this browser, if any (never for bearer requests)."""
    if "user_session" not in g:
        g.user_session = _session_from_cookie()
    return g.user_session


def _session_from_cookie() -> UserSession | None:
    if bearer_token() is not None:
        return None
    secret = session.get(SESSION_SECRET_KEY)
    if not isinstance(secret, str) or not secret:
        return None
    idle = current_app.config.get("SESSION_IDLE_TIMEOUT", DEFAULT_SESSION_IDLE_TIMEOUT)
    return find_session(db.session(), secret, idle)


def current_user() -> User | None:
    """The signed-in person, also when they belong to no organization yet."""
    # Kept for the request: the session's identity map holds rows only while someone
    # does, and the layout asks for the person again after the view.
    if "current_user" not in g:
        g.current_user = _user_of_session()
    return g.current_user


def _user_of_session() -> User | None:
    account_session = current_session()
    if account_session is None:
        return None
    user = db.session().get(User, account_session.user_id)
    if user is None or not user.is_active:
        return None
    return user


def sign_in(user: User, organization_id: int | None = None) -> None:
    """A fresh session at every sign-in, so a session fixed before login is worthless."""
    previous = current_session()
    if previous is not None:
        revoke_session(db.session(), previous)
    if organization_id is None:
        memberships = memberships_of(db.session(), id_of(user))
        organization_id = memberships[0][1].id if memberships else None
    secret, row = open_session(
        db.session(),
        id_of(user),
        organization_id,
        current_app.config.get("SESSION_LIFETIME", DEFAULT_SESSION_LIFETIME),
        user_agent=request.headers.get("User-Agent", ""),
    )
    session.clear()
    session[SESSION_SECRET_KEY] = secret
    session.permanent = True
    g.user_session = row
    g.pop("principal", None)


def sign_out() -> None:
    account_session = current_session()
    if account_session is not None:
        revoke_session(db.session(), account_session)
    session.clear()
    g.user_session = None
    g.pop("principal", None)


# Access checks ---------------------------------------------------------------------------
#
# Each decorator below wraps its view in checks, and also records them on the view as
# `access_checks`. Pages run them when the view is called. The API runs them before the
# view is called (`check_api_access`, from a before_request hook), so that a caller who is
# not signed in, in the wrong role or without the scope hears so (401, 403) before its body
# is parsed and validated (422): authentication comes first.

Check = Callable[[], Any]


def _guarded(view: Callable[P, R], check: Check) -> Callable[P, R]:
    """`view`, checked by `check` first; `check` returns a response to send instead of
    the view's (a redirect to sign in), aborts, or returns None to let the call through."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        refusal = check()
        if refusal is not None:
            return refusal
        return view(*args, **kwargs)

    # The checks travel on the view itself; a callable's type declares no such attribute.
    wrapper.access_checks = (check, *getattr(view, "access_checks", ()))  # type: ignore[attr-defined]
    return wrapper


NOT_SIGNED_IN = "sign in first: send the session cookie, or Authorization: Bearer <token>"


def _signed_in() -> Any:
    if current_principal() is not None:
        return None
    if is_api_request():
        raise Unauthorized(NOT_SIGNED_IN, www_authenticate=WWWAuthenticate("Bearer"))
    if current_user() is not None:
        # Signed in, but in no organization yet.
        return redirect(url_for("accounts.welcome"))
    return redirect(url_for("accounts.login", next=request.full_path))


def login_required(view: Callable[P, R]) -> Callable[P, R]:
    return _guarded(view, _signed_in)


def roles_required(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Signed in, and acting in one of `roles`; anyone else gets 403."""

    def in_role() -> None:
        if require_principal().role not in roles:
            abort(403)

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        wrapper = login_required(_guarded(view, in_role))
        # Read back by the cross-organization tests; a callable's type declares no such
        # attribute.
        wrapper.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
        return wrapper

    return decorator


def require_principal() -> Principal:
    """Inside a view already guarded by login_required: the principal, never None."""
    principal = current_principal()
    if principal is None:
        raise Unauthorized(NOT_SIGNED_IN, www_authenticate=WWWAuthenticate("Bearer"))
    return principal


def scope_required(scope: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Signed in (session or token) and allowed `scope`; machine clients only hold theirs."""

    def has_scope() -> None:
        if not require_principal().has_scope(scope):
            abort(403, description=f"this action needs the scope {scope}")

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        return login_required(_guarded(view, has_scope))

    return decorator


def check_api_access() -> Any:
    """Before an API view parses its input: the access checks its decorators declare,
    outermost first. A response (or an abort) refuses the request; None lets it on."""
    if not is_api_request() or request.method == "OPTIONS" or request.endpoint is None:
        return None
    view = current_app.view_functions.get(request.endpoint)
    for check in getattr(view, "access_checks", ()):
        refusal = check()
        if refusal is not None:
            return refusal
    return None


def shared_across_organizations(
    *roles: Role, writes: bool = False
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Marks a view that deliberately works on objects of other organizations: a
    factory's public profile (no roles: everyone, also people not signed in), an
    operator's cluster view (`Role.OPERATOR`), an operator's verification of a factory
    (`Role.OPERATOR, writes=True`). The cross-organization test matrix skips these roles
    on such views (reads only, unless `writes`) and checks everyone else."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        # Marks on the view itself, which a callable's type does not declare.
        view.shared_with_roles = frozenset(roles) if roles else None  # type: ignore[attr-defined]
        view.shared_writes = writes  # type: ignore[attr-defined]
        view.shared_across_organizations = True  # type: ignore[attr-defined]
        return view

    return decorator
