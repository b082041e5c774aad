"""Error pages: in the site's layout, in the reader's language, with a way back.

Every page error (a 4xx or 5xx that is not an API answer) comes here from the app-wide
handlers in `marketplace.api.errors`. The page says what happened in a person's words,
adds what the service said when it said more than the status, and offers the page the
reader came from (when it is on this site), the home page, and signing in when that is
what is missing.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Response, g, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, SecurityError

from marketplace import db
from marketplace.web.messages import say
from marketplace.web.navigation import same_site_path

log = logging.getLogger(__name__)

# What each status means to the person who met it; any other status reads as its class.
TITLES = {
    400: _l("This request could not be handled"),
    401: _l("Please sign in"),
    403: _l("This page is not open to you"),
    404: _l("Page not found"),
    405: _l("This page cannot be used that way"),
    409: _l("Something changed meanwhile"),
    413: _l("That is too large"),
    422: _l("This request could not be handled"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong on our side"),
    503: _l("The marketplace is briefly unavailable"),
}
EXPLANATIONS = {
    400: _l(
        "Something in the request was missing or not as expected. "
        "Go back, check the form and try again."
    ),
    401: _l("Sign in to see this page."),
    403: _l(
        "Your account has no access to this page. "
        "If you think it should, ask the person who manages your organization."
    ),
    404: _l("The address may be mistyped, or what it showed has been removed."),
    405: _l("Go back and use the page's own buttons and forms."),
    409: _l(
        "Someone else changed this at the same time. Reload the page to see where it stands now."
    ),
    413: _l("The file or form is larger than the marketplace accepts."),
    422: _l(
        "Something in the request was missing or not as expected. "
        "Go back, check the form and try again."
    ),
    429: _l("Please wait a moment before you try again."),
    500: _l(
        "The error has been logged. Nothing of this request was saved; "
        "please try again in a moment."
    ),
    503: _l("Nothing was changed. Please try again in a few seconds."),
}
CLIENT_ERROR = _l("This request could not be handled")
SERVER_ERROR = _l("Something went wrong on our side")


def error_page(error: HTTPException, detail: str | None = None) -> Response:
    """The page for `error`; `detail` is what the service said, when it said more."""
    status = error.code or 500
    if status >= 500:
        # Nothing of a failed request is kept, and the layout below must be able to
        # read (who is signed in) from a session the failure may have left unusable.
        _discard_request_work()
    context = {
        "status": status,
        "title": TITLES.get(status, SERVER_ERROR if status >= 500 else CLIENT_ERROR),
        "explanation": EXPLANATIONS.get(status, ""),
        "detail": detail if detail is not None else _own_description(error),
        "back": _way_back(),
    }
    try:
        body = render_template("errors/page.html", **context)
    except Exception:
        # The layout reads the signed-in person from the database; when that is what
        # failed, the page is shown as to a visitor rather than not at all. A request
        # for a host this site does not serve cannot even build the layout's links.
        log.warning("error page for %s rendered as to a visitor", status, exc_info=True)
        _discard_request_work()
        g.principal, g.user_session = None, None
        try:
            body = render_template("errors/page.html", **context)
        except Exception:
            log.warning("error page for %s rendered without the layout", status, exc_info=True)
            body = render_template("errors/bare.html", locale=str(get_locale()), **context)
    response = Response(body, status=status, mimetype="text/html")
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _own_description(error: HTTPException) -> str:
    """The error's description when it was written for this case, not the class's."""
    description = error.description or ""
    if not description or description == type(error).description:
        return ""
    return say(description)


def _way_back() -> str | None:
    """The page the reader came from, when it was a page of this site (and not this one)."""
    referrer = request.referrer
    if not referrer:
        return None
    try:
        host = request.host
    except SecurityError:  # the request came for a host this site does not serve
        return None
    parts = urlsplit(referrer)
    if parts.netloc and parts.netloc != host:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    back = same_site_path(path, default="")
    return back if back and back != request.full_path.rstrip("?") else None


def _discard_request_work() -> None:
    try:
        db.discard_changes()
    except Exception:  # the connection itself may be gone
        log.debug("could not roll back the failed request's session", exc_info=True)
