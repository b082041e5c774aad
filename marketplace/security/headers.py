"""Security headers on every response: a Content-Security-Policy without inline script,
no framing, no sniffing, HSTS in production."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, Response

POLICY: tuple[tuple[str, str], ...] = (
    ("default-src", "'self'"),
    ("script-src", "'self'"),
    # Stylesheets only from the site; style attributes (bar widths) are allowed.
    ("style-src", "'self'"),
    ("style-src-elem", "'self'"),
    ("style-src-attr", "'unsafe-inline'"),
    ("img-src", "'self' data:"),
    ("font-src", "'self'"),
    ("connect-src", "'self'"),
    ("frame-src", "'none'"),
    ("object-src", "'none'"),
    ("base-uri", "'none'"),
    ("form-action", "'self'"),
    ("frame-ancestors", "'none'"),
)


def content_security_policy(extra_sources: Mapping[str, list[str]] | None = None) -> str:
    """The policy, with the outside sources an area needs (`CSP_EXTRA_SOURCES`: the
    payment gateway's script and frames) added to their directives and nowhere else."""
    extra_sources = extra_sources or {}
    parts = []
    for directive, sources in POLICY:
        added = extra_sources.get(directive, [])
        if added:
            sources = " ".join([s for s in sources.split() if s != "'none'"] + added)
        parts.append(f"{directive} {sources}")
    return "; ".join(parts)


HSTS = "max-age=63072000; includeSubDomains"


def init_headers(app: Flask) -> None:
    production = app.config["FACTORYWEB_SETTINGS"].production
    # Areas set up after this one add their sources: the policy is made at the first answer.
    policy: list[str] = []

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        if not policy:
            policy.append(content_security_policy(app.config.get("CSP_EXTRA_SOURCES")))
        headers.setdefault("Content-Security-Policy", policy[0])
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        if production:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
