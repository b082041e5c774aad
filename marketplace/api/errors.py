"""One JSON error shape for the whole API: what went wrong and which field caused it."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    error: str
    message: str
    fields: list[FieldProblem] = []


def field_path(location: tuple[Any, ...]) -> str:
    """`("lines", 2, "hours")` -> `lines[2].hours`, the way the contracts name fields."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def error_response(
    status: int, error: str, message: str, fields: list[FieldProblem] = ()
) -> Response:
    body = ErrorBody(error=error, message=message, fields=list(fields))
    response = jsonify(body.model_dump())
    response.status_code = status
    return response


def validation_error_response(error: ValidationError) -> Response:
    problems = [
        FieldProblem(field=field_path(e["loc"]) or "body", message=e["msg"])
        for e in error.errors(include_url=False)
    ]
    summary = "; ".join(f"{p.field}: {p.message}" for p in problems)
    return error_response(422, "validation_failed", summary, problems)


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def init_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        if not wants_json():
            return error
        return error_response(
            error.code or 500,
            (error.name or "error").lower().replace(" ", "_"),
            error.description or "",
        )
