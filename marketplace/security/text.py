"""Text PostgreSQL can hold: an input with a NUL or a lone surrogate is refused up front,
naming the field, rather than failing in the database."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from flask import Flask, abort, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from marketplace.api.errors import FieldProblem, error_response, wants_json

NUL = "\x00"
# What PostgreSQL text cannot hold: NUL, and surrogate code points, which have no UTF-8
# form. JSON's "\ud800" escape makes one (Python's JSON decoder also lets the raw bytes
# of one through); werkzeug itself replaces undecodable bytes in query, form and path.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
NO_NUL = "must not contain NUL characters"
NO_SURROGATE = "must not contain lone surrogates"
BAD_BASIC = "must be base64-encoded UTF-8"
NAMELESS_PART = "every part of a multipart body needs a name"


@dataclass(frozen=True)
class Unstorable:
    """An input that is no text PostgreSQL can hold (or, for client credentials, no text
    at all): which one, and why, in English (web pages say it in the visitor's language)."""

    field: str
    message: str
    credentials: bool = False  # in the Authorization header


def unstorable(text: str) -> str | None:
    """Why PostgreSQL text cannot hold `text` (NO_NUL, NO_SURROGATE), or None if it can."""
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    return NO_NUL if found.group() == NUL else NO_SURROGATE


def storable(text: str) -> str:
    """`text` without the characters PostgreSQL text cannot hold."""
    return UNSTORABLE.sub("", text)


def _shown(name: str) -> str:
    """A field name fit to print back, without the characters that made it a problem."""
    return storable(name)


def _in_value(value: Any, path: str) -> Unstorable | None:
    """Where in a parsed JSON value unstorable text hides (`lines[0].title`), or None."""
    if isinstance(value, str):
        reason = unstorable(value)
        return Unstorable(_shown(path) or "body", reason) if reason else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            reason = unstorable(str(key))
            if reason:
                return Unstorable(_shown(where) or "body", reason)
            found = _in_value(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _in_value(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _in_form_value(name: str, value: str) -> Unstorable | None:
    """A form field as its view sees it. The API's form models (flask-openapi3) read each
    field as JSON when it parses, so `"\u0000"` arrives there as a NUL."""
    reason = unstorable(name) or unstorable(value)
    if reason:
        return Unstorable(_shown(name) or "?", reason)
    if request.path.startswith("/api/"):
        try:
            decoded = json.loads(value)
        except ValueError:
            return None
        found = _in_value(decoded, "")
        if found is not None:
            return Unstorable(_shown(name) or "?", found.message)
    return None


def _in_basic_credentials() -> Unstorable | None:
    """Client id and secret of HTTP Basic on the OAuth endpoints, read the way Authlib
    reads them (base64, UTF-8, then percent-decoded as RFC 6749 section 2.3.1 asks).
    Authlib fails with an exception on what it cannot decode; here that is refused."""
    if not request.path.startswith("/oauth/"):
        return None
    header = request.headers.get("Authorization", "")
    if " " not in header:
        return None
    parts = header.split(None, 1)
    if len(parts) < 2:  # "Basic " alone
        return Unstorable("Authorization", BAD_BASIC, credentials=True)
    scheme, encoded = parts
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded).decode("utf-8")
    except ValueError:  # also UnicodeDecodeError
        return Unstorable("Authorization", BAD_BASIC, credentials=True)
    for part in decoded.split(":", 1):
        reason = unstorable(unquote(part))
        if reason:
            return Unstorable("Authorization", reason, credentials=True)
    return None


def unstorable_input() -> Unstorable | None:
    """The first input of the request (header, credentials, query, form, file name, JSON
    body, URL part) that PostgreSQL text cannot hold, or None. Refused up front, it is a
    4xx naming the field instead of a database or encoding error. A multipart part
    without a name (werkzeug files it under None) is refused here too: no view can read
    it, and code that expects field names to be text would fail on it."""
    if None in request.form or None in request.files:
        return Unstorable("body", NAMELESS_PART)
    for name, value in request.headers.items():
        reason = unstorable(value)
        if reason:
            return Unstorable(name, reason, credentials=name.lower() == "authorization")
    found = _in_basic_credentials()
    if found is not None:
        return found
    for name, value in request.args.items(multi=True):
        reason = unstorable(str(name)) or unstorable(value)
        if reason:
            return Unstorable(_shown(str(name)) or "?", reason)
    for name, value in request.form.items(multi=True):
        found = _in_form_value(str(name), value)
        if found is not None:
            return found
    for name, storage in request.files.items(multi=True):
        reason = unstorable(storage.filename or "")
        if reason:
            return Unstorable(name, reason)
    if request.is_json:
        found = _in_value(request.get_json(silent=True), "")
        if found is not None:
            return found
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and (reason := unstorable(value)):
            return Unstorable(name, reason)
    return None


def _web_message(problem: Unstorable) -> str:
    if problem.message == NAMELESS_PART:
        return _("The form sent a part without a name.")
    if problem.message == NO_NUL:
        return _("%(field)s: must not contain NUL characters", field=problem.field)
    return _("%(field)s: must not contain lone surrogates", field=problem.field)


def init_text_input(app: Flask, refuse_credentials: Callable[[str], Response]) -> None:
    """`refuse_credentials(summary)`: the OAuth endpoints' own answer to client
    credentials that are no text (RFC 6749 section 5.2: as for an unknown client)."""

    @app.before_request
    def refuse_unstorable_text():
        problem = unstorable_input()
        if problem is None:
            return None
        summary = f"{problem.field}: {problem.message}"
        if request.path.startswith("/oauth/"):
            if problem.credentials:
                return refuse_credentials(summary)
            return error_response(400, "invalid_request", summary)
        if wants_json():
            fields = [FieldProblem(field=problem.field, message=problem.message)]
            if problem.credentials:
                return error_response(401, "unauthorized", summary, fields)
            return error_response(422, "validation_failed", summary, fields)
        abort(400, description=_web_message(problem))
        return None
