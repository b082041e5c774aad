"""schemathesis fuzzes every operation of /api/openapi.json (the WSGI app, no network) as
each kind of caller: a buyer, a factory owner, a factory member, a cluster operator, a
machine client with a bearer token, and someone not signed in. No answer may be a 5xx,
and every answer must match the schema the document declares for it.

Operations added later are fuzzed automatically. Bounded: five examples per operation
and caller, no shrinking beyond Hypothesis's defaults, no example database. Every status
code an answer has must be one the document declares for the operation.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
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


def summary(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " | ".join(lines[:4])


def fuzzer(operation, caller: dict[str, Any], calls: list[int]):  # type: ignore[no-untyped-def]
    @given(case=st.one_of(*(operation.as_strategy(mode) for mode in GENERATION_MODES)))
    @settings(
        max_examples=EXAMPLES_PER_CALLER,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case):  # type: ignore[no-untyped-def]
        calls[0] += 1
        response = case.call(**caller)
        case.validate_response(
            response,
            checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
        )

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
