"""Security headers on every response, and templates that a strict Content-Security-Policy
does not break: no inline scripts, no inline event handlers, no javascript: URLs."""

import dataclasses
import re
from pathlib import Path

import pytest

from marketplace.accounts.models import OrganizationKind, Role

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [p for p in ROOT.glob("*/**/templates") if ".venv" not in p.parts]


def csp_directives(response):
    policy = response.headers["Content-Security-Policy"]
    return {
        part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part
    }


@pytest.mark.parametrize("path", ["/", "/login", "/signup", "/api/v1/taxonomy", "/nowhere"])
def test_every_response_carries_the_headers(client, path):
    response = client.get(path)
    directives = csp_directives(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in directives["default-src"]
    assert all("unsafe-eval" not in " ".join(v) for v in directives.values())
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    # Not over plain HTTP in development: HSTS belongs to production only.
    assert "Strict-Transport-Security" not in response.headers


def test_production_adds_hsts(settings, make_app):
    app = make_app(dataclasses.replace(settings, env="production"), PUBLIC_URL="https://localhost")
    response = app.test_client().get("/login", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=63072000")


def test_signed_in_pages_carry_them_too(browser, make_member):
    owner = make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)
    browser.login(owner)
    for path in ("/account/clients", "/account/members", "/"):
        response = browser.get(path)
        assert response.status_code == 200
        assert csp_directives(response)["script-src"] == ["'self'"]


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
HTMX_INLINE = re.compile(r"\bhx-on(?::|-|\b)", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def test_templates_have_no_inline_script():
    """A Content-Security-Policy without 'unsafe-inline' would silently block these."""
    templates = [p for d in TEMPLATE_DIRS for p in d.rglob("*.html")]
    assert len(templates) >= 5
    problems = []
    for template in templates:
        text = template.read_text()
        for name, pattern in (
            ("inline <script>", INLINE_SCRIPT),
            ("inline event handler", EVENT_HANDLER),
            ("hx-on handler", HTMX_INLINE),
            ("javascript: URL", JAVASCRIPT_URL),
        ):
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{template.relative_to(ROOT)}:{line}: {name}")
    assert problems == []


def test_the_scan_finds_what_it_looks_for():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/x.js" defer></script>')
    assert EVENT_HANDLER.search('<button type="button" onclick="go()">')
    assert not EVENT_HANDLER.search('<button class="one">')
    assert HTMX_INLINE.search('<div hx-on:click="x()">')
    assert JAVASCRIPT_URL.search('<a href="javascript:void(0)">')


def test_htmx_is_served_from_the_site_and_may_not_evaluate_code(client):
    page = client.get("/").get_data(as_text=True)
    assert 'src="/static/vendor/htmx.min.js"' in page
    assert '"allowEval": false' in page
