"""Protections every request, response and sensitive endpoint gets, in the order a request
meets them: the client's true address behind trusted proxies and only the site's own host
names (`hosts`; links in mails come from PUBLIC_URL); a size limit on the body, checked
before it is read (`limits`); for the API, authentication (and the view's role and scope)
before the body is parsed (the accounts area's check, handed in); text PostgreSQL can hold
(`text`); CSRF for forms and for API calls that carry the session cookie (`requests`);
security headers on every response (`headers`); rate limits on sign-in and tokens
(`rate_limits`). `answers` documents in the API what these protections may answer.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from marketplace.security.headers import init_headers
from marketplace.security.hosts import init_hosts, init_proxies
from marketplace.security.limits import init_body_limits, init_id_range
from marketplace.security.rate_limits import init_rate_limits
from marketplace.security.requests import init_csrf
from marketplace.security.text import init_text_input


def init_security(
    app: Flask,
    csrf: CSRFProtect,
    *,
    check_api_access: Callable[[], None],
    refuse_credentials: Callable[[str], Response],
) -> None:
    """`check_api_access` answers 401/403 for an API call before its body is read;
    `refuse_credentials(summary)` is the OAuth endpoints' answer to client credentials
    that are no text (both the accounts area's)."""
    init_proxies(app)
    init_hosts(app)
    # The before_request checks run in this order: nothing reads the body before its size
    # is checked, and the API says who may call (401, 403) before it looks at the body.
    init_body_limits(app)
    app.before_request(check_api_access)
    # Before the CSRF check: Flask-WTF looks through the form's field names for the token
    # and fails on a multipart part that has none.
    init_text_input(app, refuse_credentials)
    init_csrf(app, csrf)
    init_headers(app)
    init_rate_limits(app)
    init_id_range(app)
