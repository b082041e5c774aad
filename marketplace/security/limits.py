"""Limits every request meets before its view: the size of its body (checked before a
byte of it is read) and ids in the range of the database's keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from marketplace.config import ConfigurationError
from marketplace.security.hosts import from_environment

View = TypeVar("View", bound=Callable[..., Any])

# Every request body: a form or a JSON document of the API.
DEFAULT_MAX_CONTENT_LENGTH = 1024 * 1024
FilesAllowance = tuple[int, Callable[[], int]]


def takes_files(count: int, file_bytes: Callable[[], int]) -> Callable[[View], View]:
    """This route's body may also carry `count` files of `file_bytes()` bytes each, beyond
    MAX_CONTENT_LENGTH (milestones with their QA reports, disputes with evidence, profile
    imports): each area says so on its own routes, with its own limits."""

    def decorator(view: View) -> View:
        # Read back by body_limit and the API document; a callable's type declares no
        # such attribute.
        view.files_allowed = (count, file_bytes)  # type: ignore[attr-defined]
        return view

    return decorator


def body_limit() -> int:
    """The most bytes this request's body may have: MAX_CONTENT_LENGTH, and room for the
    files of a route that takes them."""
    limit = int(current_app.config["MAX_CONTENT_LENGTH"])
    view = current_app.view_functions.get(request.endpoint or "")
    allowance: FilesAllowance | None = getattr(view, "files_allowed", None)
    if allowance is None:
        return limit
    count, file_bytes = allowance
    return limit + count * file_bytes()


def init_body_limits(app: Flask) -> None:
    """A body larger than its limit is refused with 413 before a byte of it is read (from
    its Content-Length; a body sent without one stops being read at the limit)."""
    configured = from_environment(app, "MAX_CONTENT_LENGTH")
    try:
        limit = int(configured) if configured is not None else DEFAULT_MAX_CONTENT_LENGTH
    except ValueError:
        limit = 0
    if limit <= 0:
        raise ConfigurationError(
            f"MAX_CONTENT_LENGTH must be a positive number of bytes (got {configured!r})"
        )
    app.config["MAX_CONTENT_LENGTH"] = limit

    @app.before_request
    def refuse_large_bodies() -> None:
        limit = request.max_content_length = body_limit()
        if request.content_length is not None and request.content_length > limit:
            raise RequestEntityTooLarge(
                f"the request body may have at most {limit} bytes ({request.content_length} sent)"
            )


# Primary keys are PostgreSQL `integer`s; a larger id in a URL names nothing.
MAX_ID = 2**31 - 1


def init_id_range(app: Flask) -> None:
    @app.url_value_preprocessor
    def ids_in_range(endpoint: str | None, values: dict | None) -> None:
        for value in (values or {}).values():
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ID:
                abort(404)
