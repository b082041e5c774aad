"""schemathesis fuzzes every operation of /api/openapi.json (the WSGI app, no network) as
each kind of caller: a buyer, a factory owner, a factory member, a cluster operator, a
machine client with a bearer token, and someone not signed in. No answer may be a 5xx,
and every answer must match the schema the document declares for it.

Operations added later are fuzzed automatically. Bounded: five examples per operation
and caller, no shrinking beyond Hypothesis's defaults, no example database. Every status
code an answer has must be one the document declares for the operation.

A second, negative run sends what the schema forbids (wrong types, missing fields, out of
range values), three examples per operation and caller: no answer may be a 5xx, and a
validation_failed answer must name each field at fault.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from marketplace.accounts.models import Role
from tests.api.conftest import Person

# Deeper runs on demand, e.g. FACTORYWEB_FUZZ_EXAMPLES=50 FACTORYWEB_FUZZ_MODES=positive,negative
EXAMPLES_PER_CALLER = int(os.environ.get("FACTORYWEB_FUZZ_EXAMPLES", "5"))
GENERATION_MODES = [
    GenerationMode(mode) for mode in os.environ.get("FACTORYWEB_FUZZ_MODES", "positive").split(",")
]
# Known defects outside this area, reported to their owners; tolerated here by exact
# operation and message so that nothing else hides behind them. Remove when fixed.
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}


def caller_headers(person: Person, new_browser) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Keyword arguments for case.call that make the request as this person."""
    if person.token:
        return {"headers": {"Authorization": f"Bearer {person.token}"}}
    browser = new_browser()
    if person.member is not None:
        browser.login(person.member)
    token = browser.csrf_token()
    cookie = browser.client.get_cookie("session")
    return {"headers": {"X-CSRFToken": token}, "cookies": {"session": cookie.value}}


def test_api_answers_every_caller_within_its_schema(app, world, new_browser):
    callers = {p.name: p for p in world.owners_of_victims}
    for person in world.attackers:
        if person.role == Role.OPERATOR or person.token or person.member is None:
            callers[person.name] = person
    assert len(callers) == 6
    headers = {name: caller_headers(person, new_browser) for name, person in callers.items()}

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert any(op.path == "/api/v1/me" for op in operations)

    failures: list[str] = []
    calls = [0]
    for operation in operations:
        for name, caller in headers.items():
            try:
                fuzzer(operation, caller, calls)()
            except (Exception, BaseExceptionGroup) as error:  # one report for them all
                method = operation.method.upper()
                known = KNOWN_DEFECTS.get((method, operation.path))
                if known and known in str(error) and "ST108" in str(error):
                    continue
                failures.append(f"{method} {operation.path} as {name}: {summary(error)}")
    assert failures == [], "\n".join(failures)
    assert calls[0] >= len(operations) * len(headers)


# Negative mode: requests the schema forbids (wrong types, missing fields, values out of
# range) as every caller, a few per operation. None may crash the API, and a refusal for
# bad input says which field is at fault.
NEGATIVE_EXAMPLES_PER_CALLER = int(os.environ.get("FACTORYWEB_FUZZ_NEGATIVE_EXAMPLES", "3"))


def names_the_field(ctx, response, case) -> None:  # type: ignore[no-untyped-def]
    """A 4xx JSON answer with error validation_failed lists the fields at fault, by name."""
    if not 400 <= response.status_code < 500:
        return None
    # schemathesis gives header names in lower case, values as lists.
    content_type = next(
        (value for key, value in response.headers.items() if key.lower() == "content-type"), ""
    )
    if "json" not in str(content_type):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("error") != "validation_failed":
        return None
    fields = body.get("fields")
    if not fields:
        raise AssertionError(f"validation_failed names no field: {body}")
    for problem in fields:
        field = problem.get("field") if isinstance(problem, dict) else None
        if not isinstance(field, str) or not field.strip() or field == "?":
            raise AssertionError(f"validation_failed without a field name: {problem}")
        if not str(problem.get("message") or "").strip():
            raise AssertionError(f"validation_failed says nothing about {field}: {problem}")
    return None


def test_bad_input_gets_a_4xx_naming_the_field(app, world, new_browser):
    callers = {p.name: p for p in world.owners_of_victims}
    for person in world.attackers:
        if person.role == Role.OPERATOR or person.token or person.member is None:
            callers[person.name] = person
    headers = {name: caller_headers(person, new_browser) for name, person in callers.items()}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    # Operations without parameters or body have nothing to get wrong.
    operations = [
        operation
        for operation in (result.ok() for result in schema.get_all_operations())
        if len(operation.body)
        or any(len(p) for p in (operation.path_parameters, operation.query, operation.headers))
    ]
    assert any(op.path == "/api/v1/orders" and op.method == "post" for op in operations)

    failures: list[str] = []
    calls = [0]
    for operation in operations:
        for name, caller in headers.items():
            try:
                fuzzer(
                    operation,
                    caller,
                    calls,
                    modes=[GenerationMode.NEGATIVE],
                    examples=NEGATIVE_EXAMPLES_PER_CALLER,
                    checks=[not_a_server_error, names_the_field],
                )()
            except (Exception, BaseExceptionGroup) as error:
                failures.append(
                    f"{operation.method.upper()} {operation.path} as {name}: {summary(error)}"
                )
    assert failures == [], "\n".join(failures)
    assert calls[0] >= len(operations) * len(headers)


def summary(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " | ".join(lines[:4])


def fuzzer(  # type: ignore[no-untyped-def]
    operation,
    caller: dict[str, Any],
    calls: list[int],
    modes: list[GenerationMode] | None = None,
    examples: int | None = None,
    checks: list[Any] | None = None,
):
    checks = checks or [not_a_server_error, status_code_conformance, response_schema_conformance]

    @given(case=st.one_of(*(operation.as_strategy(mode) for mode in modes or GENERATION_MODES)))
    @settings(
        max_examples=examples or EXAMPLES_PER_CALLER,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case):  # type: ignore[no-untyped-def]
        calls[0] += 1
        response = case.call(**caller)
        case.validate_response(response, checks=checks)

    return fuzz


def test_the_fuzzer_sees_callers_as_themselves(app, world, new_browser):
    """The identities given to schemathesis are real: /me answers for each of them."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    me = schema["/api/v1/me"]["GET"]
    seen = {}
    for person in [*world.owners_of_victims, world.attackers[3], world.attackers[4]]:
        case = me.Case()
        response = case.call(**caller_headers(person, new_browser))
        assert response.status_code == 200, person.name
        body = response.json()
        seen[person.name] = (body["role"], body["client_id"] is not None)
    assert seen == {
        "victim buyer": ("buyer_member", False),
        "victim factory owner": ("factory_owner", False),
        "victim factory member": ("factory_member", False),
        "cluster operator": ("operator", False),
        "machine client of another factory": ("factory_member", True),
    }
    anonymous = me.Case().call(**caller_headers(world.attackers[5], new_browser))
    assert anonymous.status_code == 401


def test_the_field_check_refuses_a_validation_error_that_names_nothing(app):
    """names_the_field fails on an answer that says validation_failed without a field."""
    from flask import Blueprint

    from marketplace.api.errors import FieldProblem, error_response

    vague = Blueprint("vague", __name__)

    @vague.get("/api/v1/_vague/<int:how>")
    def answer(how: int):  # type: ignore[no-untyped-def]
        fields = [FieldProblem(field="lines[0].hours", message="must be positive")]
        if how == 1:
            fields = []
        elif how == 2:
            fields = [FieldProblem(field="", message="must be positive")]
        return error_response(422, "validation_failed", "bad input", fields)

    app.register_blueprint(vague)
    client = app.test_client()
    for how, fails in [(0, False), (1, True), (2, True)]:
        response = Response.from_any(client.get(f"/api/v1/_vague/{how}"))
        assert response.status_code == 422
        if fails:
            with pytest.raises(AssertionError):
                names_the_field(None, response, None)
        else:
            names_the_field(None, response, None)
