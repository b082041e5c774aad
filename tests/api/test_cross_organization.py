"""Every route that takes an object id, web and API, tried by people of other
organizations in every role (and a machine client, and someone not signed in) on the
objects of the victim organizations: the answer is 403 or 404, never the data.

The routes come from app.url_map, the objects from the seeded world (tests/api/conftest.py),
so routes added later are covered as they land. An id argument is matched to its table
by name (`order_id` -> purchase_order, `line_id` -> order_line, `client_pk` ->
oauth_client, `<int:id>` after `/orders/` -> purchase_order); add an entry to
ARGUMENT_TABLES when the name says nothing. Views that deliberately serve other
organizations are marked with `access.shared_across_organizations`.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from hypothesis import find
from hypothesis.strategies import from_regex
from werkzeug.routing import IntegerConverter, Rule

from marketplace.accounts.models import Role
from tests.api.conftest import Person, World, id_tables
from tests.conftest import Browser

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Argument names whose table the name does not say.
ARGUMENT_TABLES: dict[str, list[str]] = {"member_id": ["membership"]}
# Columns whose values would betray that the object's data leaked into a response.
TELLING_COLUMNS = (
    "name",
    "title",
    "email",
    "client_id",
    "global_id",
    "filename",
    "registration_number",
    "reason",
    "comment",
    "note",
    "url",
    "tracking_number",
)


def object_routes(app) -> list[Rule]:  # type: ignore[no-untyped-def]
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if any(isinstance(c, IntegerConverter) for c in rule._converters.values())
        ),
        key=lambda r: r.rule,
    )


def singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("sses") or word.endswith("xes"):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def tables_for(rule: Rule, argument: str) -> list[str]:
    if argument in ARGUMENT_TABLES:
        return ARGUMENT_TABLES[argument]
    base = re.sub(r"_(id|pk)$", "", argument)
    if base in ("id", "pk", argument) and argument in ("id", "pk"):
        before = rule.rule.split(f"<int:{argument}>")[0].rstrip("/").split("/")[-1]
        base = singular(before.replace("-", "_"))
    tables = id_tables()
    return [t for t in tables if t == base or t.endswith("_" + base)]


@dataclass
class Attempt:
    rule: Rule
    method: str
    values: dict[str, int]
    tables: dict[str, str]


def owned_by(world: World, table: str, row_id: int) -> frozenset[int]:
    return world.ownership.owners(table, row_id)


def victim_rows(world: World, table: str, organization_id: int | None) -> list[int]:
    """Objects of the victims the person has no part in; those of all victims first."""
    rows = [
        row_id
        for row_id in sorted(world.ownership.rows.get(table, {}))
        if (owners := owned_by(world, table, row_id)) & world.victims
        and organization_id not in owners
    ]
    return sorted(rows, key=lambda r: -len(owned_by(world, table, r) & world.victims))


def own_rows(world: World, table: str, organization_id: int | None) -> list[int]:
    return [
        row_id
        for row_id in sorted(world.ownership.rows.get(table, {}))
        if organization_id in owned_by(world, table, row_id)
    ]


def related(world: World, table: str, candidates: list[int], chosen: dict[str, tuple[str, int]]):
    """Prefer a candidate whose foreign key points at an object already chosen."""
    for row_id in candidates:
        row = world.ownership.rows[table][row_id]
        for fk in world.ownership.tables[table].foreign_keys:
            target = (fk.column.table.name, row[fk.parent.name])
            if target in chosen.values():
                return row_id
    return candidates[0]


def attempts_for(world: World, rule: Rule, person: Person) -> tuple[list[dict[str, int]], str]:
    """Argument values naming victims' objects (all of them, and: own parent + victim child)."""
    int_args = [a for a, c in rule._converters.items() if isinstance(c, IntegerConverter)]
    per_arg: dict[str, tuple[str, list[int]]] = {}
    for argument in int_args:
        tables = tables_for(rule, argument)
        if not tables:
            return [], f"no table matches the argument {argument}; add it to ARGUMENT_TABLES"
        for table in tables:
            rows = victim_rows(world, table, person.organization_id)
            if rows:
                per_arg[argument] = (table, rows)
                break
        else:
            reasons = [world.unseeded.get(t, "no rows") for t in tables]
            return [], f"no victim object in {tables} ({'; '.join(reasons)})"
    combos: list[dict[str, int]] = []
    chosen: dict[str, tuple[str, int]] = {}
    values: dict[str, int] = {}
    for argument in int_args:
        table, rows = per_arg[argument]
        values[argument] = related(world, table, rows, chosen)
        chosen[argument] = (table, values[argument])
    combos.append(values)
    if len(int_args) > 1 and person.organization_id is not None:
        first_table = per_arg[int_args[0]][0]
        mine = own_rows(world, first_table, person.organization_id)
        if mine:
            combos.append({**values, int_args[0]: mine[0]})
    else:
        # A second victim object of the same kind, when there is one.
        table, rows = per_arg[int_args[0]]
        if len(int_args) == 1 and len(rows) > 1:
            combos.append({int_args[0]: rows[-1]})
    return combos, ""


def path_for(app, rule: Rule, values: dict[str, int]) -> str:  # type: ignore[no-untyped-def]
    extra = {
        a: sorted(getattr(rule._converters.get(a), "items", None) or ["x"])[0]
        for a in rule.arguments
        if a not in values
    }
    return app.url_map.bind("localhost").build(rule.endpoint, {**values, **extra})


# Bodies for API writes, from the OpenAPI document -----------------------------------


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        schema = document["components"]["schemas"][name]
    return schema


def example(schema: dict[str, Any], document: dict[str, Any], depth: int = 0) -> Any:
    schema = resolve(schema, document)
    if depth > 8:
        return None
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [o for o in schema[key] if resolve(o, document).get("type") != "null"]
            return example(options[0] if options else schema[key][0], document, depth + 1)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = example(part, document, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {
            name: example(properties[name], document, depth + 1)
            for name in schema.get("required", [])
            if name in properties
        }
    if kind == "array":
        count = max(1, schema.get("minItems", 1))
        return [example(schema.get("items", {}), document, depth + 1) for _ in range(count)]
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date":
            return (date.today() + timedelta(days=30)).isoformat()
        if fmt == "date-time":
            return (datetime.now(UTC) + timedelta(days=1)).isoformat()
        if fmt == "email":
            return "someone@example.com"
        if fmt in ("uri", "url"):
            return "https://example.com/"
        if fmt == "binary":
            return BINARY
        if "pattern" in schema:
            return find(from_regex(schema["pattern"], fullmatch=True), lambda _: True)
        return "x" * max(1, schema.get("minLength", 1))
    if kind in ("integer", "number"):
        value = schema.get("minimum", schema.get("exclusiveMinimum", 0) + 1)
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    return None


BINARY = object()


def as_form_value(value: Any) -> Any:
    if value is BINARY:
        return (io.BytesIO(b"%PDF-1.4 evidence"), "evidence.pdf", "application/pdf")
    if isinstance(value, list):
        return [as_form_value(v) for v in value]
    if isinstance(value, bool):
        return "false"
    return value


def api_request(app, rule: Rule, method: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    document = app.api_doc
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
    operation = document.get("paths", {}).get(path, {}).get(method.lower(), {})
    request: dict[str, Any] = {}
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        request["json"] = example(content["application/json"].get("schema", {}), document)
    elif content:
        media_type, body = next(iter(content.items()))
        fields = example(body.get("schema", {}), document) or {}
        request["data"] = {name: as_form_value(value) for name, value in fields.items()}
        request["content_type"] = media_type
    elif method in WRITE_METHODS:
        request["json"] = {}
    query = {
        p["name"]: example(p.get("schema", {}), document)
        for p in operation.get("parameters", [])
        if p.get("in") == "query" and p.get("required")
    }
    if query:
        request["query_string"] = query
    return request


# The matrix ---------------------------------------------------------------------------


def telling_values(world: World, tables: dict[str, str], values: dict[str, int]) -> list[str]:
    found = []
    for argument, row_id in values.items():
        row = world.ownership.rows[tables[argument]].get(row_id, {})
        for column in TELLING_COLUMNS:
            value = row.get(column) if hasattr(row, "get") else None
            if isinstance(value, str) and len(value) >= 6:
                found.append(value)
    return found


def exempt(view, person: Person, method: str) -> bool:  # type: ignore[no-untyped-def]
    """Views that serve other organizations on purpose, for these people."""
    write = method in WRITE_METHODS
    # The cluster operator reads across the cluster by design (DESIGN.md: operators watch
    # orders, runs and factories); their writes on other organizations' objects are only
    # expected in operator-only views.
    operator_only = getattr(view, "allowed_roles", None) == frozenset({Role.OPERATOR})
    if person.role == Role.OPERATOR and person.token is None and (not write or operator_only):
        return True
    if not getattr(view, "shared_across_organizations", False):
        return False
    if write and not getattr(view, "shared_writes", False):
        return False
    roles = view.shared_with_roles
    return roles is None or (person.role is not None and person.role in roles)


FINGERPRINT_SKIP = {"user_session"}  # touched by every signed-in request


def fingerprint(connection) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A digest of every table's content, to see whether a refused write changed anything."""
    parts = [
        f"SELECT '{name}', md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) "
        f'FROM "{name}" t'
        for name in id_tables()
        if name not in FINGERPRINT_SKIP
    ]
    rows = connection.execute(sa.text(" UNION ALL ".join(parts))).all()
    return dict(rows)


@dataclass
class Answer:
    status_code: int
    body: str
    location: str = ""


def send(app, browser: Browser, person: Person, rule: Rule, method: str, path: str) -> Answer:  # type: ignore[no-untyped-def]
    try:
        response = _send(app, browser, person, rule, method, path)
    except Exception as error:  # the view crashed: report it with the rest
        return Answer(500, f"{type(error).__name__}: {error}")
    return Answer(
        response.status_code, response.get_data(as_text=True), response.headers.get("Location", "")
    )


def _send(app, browser: Browser, person: Person, rule: Rule, method: str, path: str):  # type: ignore[no-untyped-def]
    is_api = rule.rule.startswith("/api/")
    headers = {}
    kwargs: dict[str, Any] = {}
    if is_api:
        kwargs.update(api_request(app, rule, method))
        if person.token:
            headers["Authorization"] = f"Bearer {person.token}"
        elif method in WRITE_METHODS:
            headers["X-CSRFToken"] = browser.csrf_token()
    elif method in WRITE_METHODS:
        kwargs["data"] = {"csrf_token": browser.csrf_token()}
    return browser.client.open(path, method=method, headers=headers, **kwargs)


def anonymous(person: Person) -> bool:
    return person.member is None and person.token is None


def verdict(person: Person, method: str, answer: Answer, shown: list[str], changed: list[str]):
    """None when the request was refused without a trace; else what went wrong."""
    if answer.status_code >= 500:
        return f"crashed ({answer.status_code})"
    if shown:
        return f"answered {answer.status_code} showing {shown}"
    if changed:
        return f"answered {answer.status_code} and changed {changed}"
    status = answer.status_code
    if method in WRITE_METHODS:
        # 4xx: refused; 3xx: a page redirected back (nothing changed, checked above).
        return None if status >= 300 else f"accepted the write ({status})"
    if status in (403, 404):
        return None
    if anonymous(person) and (status == 401 or (status == 302 and "/login" in answer.location)):
        return None
    return f"answered {status}"


def test_no_route_serves_another_organizations_objects(app, world, new_browser, connection):
    routes = object_routes(app)
    assert any(r.endpoint == "accounts.revoke" for r in routes), "the matrix sees the url_map"

    browsers: dict[str, Browser] = {}
    for person in world.attackers + world.owners_of_victims:
        browser = new_browser()
        if person.member is not None:
            browser.login(person.member)
        browsers[person.name] = browser

    leaks: list[str] = []
    untested: list[str] = []
    tried = 0
    positives: list[tuple[Rule, str, str, dict[str, int]]] = []
    for rule in routes:
        view = app.view_functions[rule.endpoint]
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        for method in methods:
            for person in world.attackers:
                if person.token and not rule.rule.startswith("/api/"):
                    continue
                if exempt(view, person, method):
                    continue
                combos, reason = attempts_for(world, rule, person)
                if not combos:
                    untested.append(f"{method} {rule.rule}: {reason}")
                    continue
                int_args = [
                    a for a, c in rule._converters.items() if isinstance(c, IntegerConverter)
                ]
                tables = {}
                for argument in int_args:
                    for table in tables_for(rule, argument):
                        if combos[0][argument] in world.ownership.rows.get(table, {}):
                            tables[argument] = table
                            break
                for values in combos:
                    path = path_for(app, rule, values)
                    write = method in WRITE_METHODS
                    before = fingerprint(connection) if write else {}
                    response = send(app, browsers[person.name], person, rule, method, path)
                    after = fingerprint(connection) if write else {}
                    tried += 1
                    shown = [v for v in telling_values(world, tables, values) if v in response.body]
                    changed = sorted(t for t in after if after[t] != before.get(t))
                    problem = verdict(person, method, response, shown, changed)
                    if problem:
                        leaks.append(
                            f"{method} {path} as {person.name}: {problem}: {response.body[:160]!r}"
                        )
                if person is world.attackers[0]:
                    positives.append((rule, method, path_for(app, rule, combos[0]), combos[0]))

    # The ids tried are real: people of the owning organizations get past the 404 (not
    # on every route: an object may be in a state where nobody can act on it).
    reached: dict[str, set[str]] = {"read": set(), "write": set()}
    for rule, method, path, _ in positives:
        for person in world.owners_of_victims:
            response = send(app, browsers[person.name], person, rule, method, path)
            if response.status_code not in (401, 404) and response.status_code < 500:
                reached["write" if method in WRITE_METHODS else "read"].add(rule.endpoint)
                break

    assert leaks == [], "objects of other organizations reachable:\n" + "\n".join(leaks)
    assert untested == [], "object routes the matrix could not try:\n" + "\n".join(untested)
    assert tried >= len(routes)
    assert {"accounts.revoke", "accounts.remove"} <= reached["write"]
    if any(m not in WRITE_METHODS for r in routes for m in r.methods - {"HEAD", "OPTIONS"}):
        assert reached["read"], "no owner reached any object read route: wrong ids?"


def test_the_matrix_notices_a_leak(app, world, new_browser):
    """A route that forgets its check is caught (guards the matrix itself)."""
    from flask import Blueprint, jsonify

    from marketplace import db
    from marketplace.accounts.access import login_required
    from marketplace.accounts.models import OAuthClient

    leaky = Blueprint("leaky", __name__)

    @leaky.get("/api/v1/_leaky/clients/<int:client_pk>")
    @login_required
    def leaky_client(client_pk: int):  # type: ignore[no-untyped-def]
        client = db.session().get(OAuthClient, client_pk)
        return jsonify(name=client.name, client_id=client.client_id)

    app.register_blueprint(leaky)
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "leaky.leaky_client")
    attacker = world.attackers[1]
    browser = new_browser()
    browser.login(attacker.member)
    combos, reason = attempts_for(world, rule, attacker)
    assert combos, reason
    response = send(app, browser, attacker, rule, "GET", path_for(app, rule, combos[0]))
    assert verdict(attacker, "GET", response, [], []) == "answered 200"
    assert telling_values(world, {"client_pk": "oauth_client"}, combos[0])[0] in response.body
    assert attacker.role == Role.FACTORY_OWNER
