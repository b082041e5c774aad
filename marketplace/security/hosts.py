"""Where requests come from and for: the client's address behind trusted proxies, the
site's own host names only, and links in mails from PUBLIC_URL."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, request, url_for
from werkzeug.exceptions import SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix

from marketplace.config import ConfigurationError

log = logging.getLogger(__name__)


def init_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, the client's address, scheme and host come
    from their X-Forwarded-* headers (the last that many entries, which the proxies wrote
    themselves): rate limits count per visitor, not per load balancer. Without proxies
    the headers are ignored, since any client can send them."""
    raw = str(app.config.get("TRUSTED_PROXIES") or "0").strip()
    if not raw.isdigit() or int(raw) > 10:
        raise ConfigurationError("TRUSTED_PROXIES must be a whole number of proxies from 0 to 10")
    hops = int(raw)
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )


def from_environment(app: Flask, key: str) -> Any:
    """A setting given to the app, else (outside tests) from the environment, else None.
    For keys Flask itself defaults to None (TRUSTED_HOSTS, MAX_CONTENT_LENGTH)."""
    value = app.config.get(key)
    if value is None and not app.testing:
        value = os.environ.get(key) or None
    return value


# Development without PUBLIC_URL or TRUSTED_HOSTS: the machine itself (`make demo`).
LOCAL_HOSTS = ("localhost", "127.0.0.1")


def _host_list(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    names = value.split(",") if isinstance(value, str) else value
    return [name.strip().lower() for name in names if name.strip()]


def _public_url(value: str) -> str:
    """PUBLIC_URL checked: http(s), a host, nothing else (the application's own path, if
    it is mounted below one, comes from the server)."""
    parts = urlsplit(value.strip())
    problem = None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problem = "must be an http or https URL with a host name"
    elif parts.username or parts.password or parts.query or parts.fragment:
        problem = "must not contain a user name, password, query or fragment"
    elif parts.path not in ("", "/"):
        problem = "must be the site's scheme and host only"
    if problem:
        raise ConfigurationError(
            f"PUBLIC_URL {problem}, e.g. https://factoryweb.example (got {value!r})"
        )
    return f"{parts.scheme}://{parts.netloc}"


def init_hosts(app: Flask) -> None:
    """Links in mails (password resets, invitations, sign-up confirmations) are built from
    PUBLIC_URL, so that a forged Host header cannot point them elsewhere; and requests for
    any other host than the site's own are refused with 400 (Flask's TRUSTED_HOSTS).

    Production refuses to start without PUBLIC_URL or an explicit TRUSTED_HOSTS list (then
    links use the request's host, which can only be one of those). In development the
    local names are trusted as well, so `make demo` works at localhost and 127.0.0.1."""
    production = app.config["FACTORYWEB_SETTINGS"].production
    public_url = app.config.get("PUBLIC_URL") or None
    hosts = _host_list(from_environment(app, "TRUSTED_HOSTS"))
    if public_url:
        app.config["PUBLIC_URL"] = public_url = _public_url(public_url)
        hosts.insert(0, urlsplit(public_url).hostname or "")
    elif production and not hosts:
        raise ConfigurationError(
            "PUBLIC_URL must be set when FACTORYWEB_ENV=production: the address of the site "
            "(e.g. https://factoryweb.example), from which links in mails are built and "
            "whose host alone is served; or list the served host names in TRUSTED_HOSTS"
        )
    if not production:
        hosts.extend(LOCAL_HOSTS)
    app.config["TRUSTED_HOSTS"] = list(dict.fromkeys(hosts))

    @app.before_request
    def refuse_other_hosts() -> None:
        # Flask keeps the refusal until the view would be dispatched; nothing else runs
        # for a request that is not for this site.
        if isinstance(request.routing_exception, SecurityError):
            log.warning(
                "refused a request for the host %r: not in TRUSTED_HOSTS %s (set PUBLIC_URL "
                "or TRUSTED_HOSTS to serve it)",
                request.headers.get("Host", ""),
                current_app.config["TRUSTED_HOSTS"],
            )
            raise request.routing_exception


def public_url_for(endpoint: str, **values: Any) -> str:
    """An absolute link for mails and for pages that show one to copy: from PUBLIC_URL when
    it is set, else from this request's host (one of TRUSTED_HOSTS)."""
    base = current_app.config.get("PUBLIC_URL")
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)
