"""One JSON error shape for the whole API, and the one place that produces it.

Services raise `InputError` (and its subclasses in each area), `NotFound` and
`Conflict`; API views let them through, and the handlers here answer 422 naming each
field, 404, or 409 with the conflict's details. A view whose fields have other names
than the service's wraps its call in `api_field_names`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from flask import Flask, Response, jsonify, request
from pydantic import BaseModel, ValidationError
from sqlalchemy import exc
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError, ServiceUnavailable
from werkzeug.exceptions import Conflict as ConflictPage
from werkzeug.exceptions import NotFound as NotFoundPage

from factories.errors import Conflict, InputError, NotFound, field_path
from marketplace.web.errors import error_page
from marketplace.web.messages import say

log = logging.getLogger(__name__)

# What the database driver raises when its server goes away mid-request.
DATABASE_OUTAGES = (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError)
RETRY_AFTER_S = 5


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    error: str
    message: str
    fields: list[FieldProblem] = []


def error_response(
    status: int,
    error: str,
    message: str,
    fields: Sequence[FieldProblem] = (),
    **details: Any,
) -> Response:
    body = {**ErrorBody(error=error, message=message, fields=list(fields)).model_dump(), **details}
    response = jsonify(body)
    response.status_code = status
    return response


def problems_response(problems: list[tuple[str, str]]) -> Response:
    fields = [FieldProblem(field=f, message=str(m)) for f, m in problems]
    summary = "; ".join(f"{p.field}: {p.message}" for p in fields)
    return error_response(422, "validation_failed", summary, fields)


def validation_error_response(error: ValidationError) -> Response:
    return problems_response(
        [(field_path(e["loc"]) or "body", e["msg"]) for e in error.errors(include_url=False)]
    )


@contextmanager
def api_field_names(names: Mapping[str, str]) -> Iterator[None]:
    """Service fields named as this API knows them (`pointInTime` for `week`)."""
    try:
        yield
    except InputError as error:
        raise error.renamed(names) from error


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def init_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if not wants_json():
            return error_page(error)
        response = error_response(
            error.code or 500,
            (error.name or "error").lower().replace(" ", "_"),
            error.description or "",
        )
        # What the error says besides its page: WWW-Authenticate, Allow, Retry-After.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    # Pages catch these where they can say more (a form message); what reaches here is
    # still an answer of the right kind, never a 500.
    @app.errorhandler(InputError)
    def input_error(error: InputError):
        if not wants_json():
            return error_page(BadRequest(), " ".join(say(m) for _, m in error.problems))
        return problems_response(error.problems)

    @app.errorhandler(NotFound)
    def not_found(error: NotFound):
        if not wants_json():
            return http_error(NotFoundPage())
        return error_response(404, "not_found", "no such object")

    @app.errorhandler(Conflict)
    def conflict(error: Conflict):
        if not wants_json():
            return error_page(ConflictPage(), say(error))
        return error_response(409, error.code, str(error), **error.details())

    # The database went away (restarted, connections terminated): nothing of the request
    # was committed, and the next one will find it back (the pool checks connections
    # before use). Say so, and when to try again, rather than a 500.
    def database_outage(error: Exception):
        log.warning("database unreachable during %s %s: %s", request.method, request.path, error)
        return http_error(DatabaseUnavailable())

    for outage in DATABASE_OUTAGES:
        app.register_error_handler(outage, database_outage)

    @app.errorhandler(InternalServerError)
    def internal_error(error: InternalServerError):
        # Raised after the view (the request's commit): Flask hands it over as a 500.
        if isinstance(error.original_exception, DATABASE_OUTAGES):
            return database_outage(error.original_exception)
        return http_error(error)


class DatabaseUnavailable(ServiceUnavailable):
    description = (
        "The marketplace's database cannot be reached right now; nothing was changed. "
        "Please try again in a few seconds."
    )

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [*super().get_headers(*args, **kwargs), ("Retry-After", str(RETRY_AFTER_S))]
