"""The answers an API operation may give besides its own, documented where they can happen.

They come from the protections every request meets (marketplace/security), not from
the views, so they are added to the OpenAPI document here, from the same facts that
produce them:

- 401: the view's access checks (`login_required`, `roles_required`, `scope_required`)
  run before its body is read; no credentials, or ones that are unknown, expired or
  revoked, answer 401.
- 400: a write that carries the session cookie needs the CSRF token (`X-CSRFToken`).
- 413: a write whose body is larger than its limit (MAX_CONTENT_LENGTH, more for routes
  that take documents).
- 429: an endpoint with a rate limit (security.LIMITED_ENDPOINTS).
"""

from __future__ import annotations

import re

from flask_openapi3 import OpenAPI
from flask_openapi3.models import MediaType, Reference, Response

from marketplace.api.errors import ErrorBody
from marketplace.security.rate_limits import LIMITED_ENDPOINTS

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
METHODS = ("GET", *WRITE_METHODS)

NOT_SIGNED_IN = (
    "Not signed in: no credentials, or a session or bearer token that is unknown, expired "
    "or revoked. Checked before the request's parameters and body."
)
CSRF = (
    "The CSRF token is missing or wrong. Only for requests that carry the session cookie: "
    "send the token of GET /api/v1/me in X-CSRFToken. Bearer-token requests need none."
)
TOO_LARGE = (
    "The request body is larger than the server accepts (MAX_CONTENT_LENGTH, 1 MB by "
    "default); refused before it is read."
)
TOO_LARGE_DOCUMENTS = (
    "The request body is larger than its files may make it (%s file(s) of the largest "
    "size a file may have here, besides MAX_CONTENT_LENGTH); refused before it is read."
)
TOO_MANY = "Too many requests from this client; Retry-After says when to try again."

_ARGUMENT = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def openapi_path(rule: str) -> str:
    """`/orders/<int:order_id>` -> `/orders/{order_id}`, the way the document names it."""
    return _ARGUMENT.sub(r"{\1}", rule)


def _error(description: str) -> Response:
    # By its alias: the type checker knows the field as "$ref" only.
    schema = Reference.model_validate({"$ref": f"#/components/schemas/{ErrorBody.__name__}"})
    return Response(description=description, content={"application/json": MediaType(schema=schema)})


def document_answers(app: OpenAPI) -> None:
    """Add 400, 401, 413 and 429 to the operations of the document where they can happen."""
    for rule in app.url_map.iter_rules():
        path_item = app.paths.get(openapi_path(rule.rule))
        if path_item is None:
            continue
        view = app.view_functions.get(rule.endpoint)
        for method in METHODS:
            operation = getattr(path_item, method.lower(), None)
            if method not in (rule.methods or ()) or operation is None:
                continue
            answers = dict(operation.responses or {})
            if getattr(view, "access_checks", ()):
                answers["401"] = _error(NOT_SIGNED_IN)
            if method in WRITE_METHODS:
                answers["400"] = _error(CSRF)
                allowance = getattr(view, "files_allowed", None)
                answers["413"] = _error(
                    TOO_LARGE_DOCUMENTS % allowance[0] if allowance else TOO_LARGE
                )
            if rule.endpoint in LIMITED_ENDPOINTS:
                answers["429"] = _error(TOO_MANY)
            operation.responses = dict(sorted(answers.items()))
