"""What an API view returns, in a type that can be read at run time."""

from __future__ import annotations

from typing import Any, TypeAlias

from flask import Response

# A JSON body, a body (or "" for no content) with its status, or a whole response.
# Not flask.typing.ResponseReturnValue: flask-openapi3 reads each view's annotations at
# run time (typing.get_type_hints), and that alias names types Flask imports for type
# checkers only.
ApiAnswer: TypeAlias = Response | dict[str, Any] | tuple[dict[str, Any] | str, int]

# Who may call an operation: a browser's session cookie or a machine client's bearer token
# (the schemes themselves are declared with the application's OpenAPI document).
SIGNED_IN: list[dict[str, list[str]]] = [{"sessionCookie": []}, {"bearerAuth": []}]
