"""Every route that takes an object id, web and API, tried by people of other
organizations in every role (the cluster operator too, and a machine client, and someone
not signed in) on the objects of the victim organizations: the answer is 403 or 404,
never the data, and nothing changes.

The routes come from app.url_map, the objects from the seeded world (tests/api/conftest.py),
so routes added later are covered as they land. An id argument is matched to its table
by name (`order_id` -> purchase_order, `line_id` -> order_line, `client_pk` ->
oauth_client, `<int:id>` after `/orders/` -> purchase_order); add an entry to
ARGUMENT_TABLES when the name says nothing, and to STRING_ARGUMENTS for a path part that
is no id. Views that deliberately serve other organizations are marked with
`access.shared_across_organizations`; what the operator sees of other organizations by
design is OPERATOR_SEES.

Each request is first made by an owner of the objects, and must succeed (a read answers
200, a write is accepted): web writes send the fields of the form the owner's page shows,
API writes a body made from the schema, or what GET of the same path answers. So a
refusal is a refusal of a real object and of a request that would otherwise have worked,
not a 404 for a dead id or a 400 for an unfit form. The exceptions are in OWNER_CANNOT.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import sqlalchemy as sa
from hypothesis import find
from hypothesis.strategies import from_regex
from werkzeug.routing import IntegerConverter, Rule

from factories.taxonomy import CERTIFICATIONS, TOLERANCE_CLASSES
from marketplace.accounts.models import Role
from marketplace.supply.formats.files import EXPORTS
from tests.api.conftest import Person, World, id_tables
from tests.conftest import Browser

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Argument names whose table the name does not say.
ARGUMENT_TABLES: dict[str, list[str]] = {"member_id": ["membership"]}
# Valid values of path parts that are not ids (plain string converters).
STRING_ARGUMENTS: dict[str, list[str]] = {"fmt": sorted(EXPORTS)}
# What the cluster operator sees of other organizations by design, by table: the orders
# of the cluster and what hangs on them (the operator watches them and resolves their
# disputes). Views of factories say so with shared_across_organizations. Everything else
# an organization has (webhooks and their deliveries, lost work, machine clients,
# members) is tried as the operator like as anyone else.
OPERATOR_SEES: dict[str, str] = {
    "purchase_order": "operators watch the orders of the cluster",
    "proposal": "operators watch how orders are placed",
    "match_run": "operators watch matching runs",
    "document": "operators read the evidence of the disputes they resolve",
    "dispute": "operators resolve disputes",
}
# Requests that no owner of the victims' objects can make successfully in the seeded
# world, and why; everything else must succeed for an owner (see Owners).
OWNER_CANNOT: dict[str, str] = {
    "POST orders.add_milestone": "milestones are steps of the factories working on an order; "
    "the victim factory works on none of the victim buyer's orders",
    "POST orders_api.post_milestone": "as orders.add_milestone",
    "POST orders.deliver": "the victim buyer has no shipped order in the seeded world",
    "POST orders_api.deliver_order": "as orders.deliver",
    "POST orders_api.rate_order": "a buyer's rating names a factory of the order, and a body "
    "made from the schema names none (the web form offers them)",
    "POST supply.import_view": "the form takes a profile file; the matrix sends a PDF",
    "POST supply.verify": "every factory of the seeded world is verified already",
    "POST telemetry.add_machine_view": "a machine needs an id, which the form leaves empty",
    "POST telemetry_api.post_machine": "a body made from the schema names no process code "
    "of the taxonomy",
    "GET payments.onboarding_return": "where the payment provider sends the owner back: it "
    "looks at the account again and redirects to the payouts page",
}
# Known defects outside this area, reported to their owners: (route, person) -> the start
# of the problem the matrix reports. Remove when fixed.
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}
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


def string_values(rule: Rule) -> tuple[dict[str, str], str]:
    """A valid value for each path part that is no id: the first of an `any(...)`
    converter, or from STRING_ARGUMENTS; a made-up value would answer 404 whatever the
    access check did."""
    values: dict[str, str] = {}
    for argument, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            continue
        items = getattr(converter, "items", None)
        if items:
            values[argument] = sorted(items)[0]
        elif argument in STRING_ARGUMENTS:
            values[argument] = STRING_ARGUMENTS[argument][0]
        else:
            return {}, f"no valid value for the path part {argument}; add it to STRING_ARGUMENTS"
    return values, ""


def path_for(app, rule: Rule, values: dict[str, int]) -> str:  # type: ignore[no-untyped-def]
    extra, _ = string_values(rule)
    return app.url_map.bind("localhost").build(rule.endpoint, {**values, **extra})


# Bodies for API writes, from the OpenAPI document -----------------------------------


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        schema = document["components"]["schemas"][name]
    return schema


def iso_week(weeks_ahead: int) -> str:
    year, week, _ = (date.today() + timedelta(weeks=weeks_ahead)).isocalendar()
    return f"{year}-W{week:02d}"


# Plausible values of body fields by name, where the schema's type alone allows nonsense
# the service refuses (a country "x"): requests should fail on access, not on content.
FIELD_EXAMPLES: dict[str, Any] = {
    "country": lambda: "DE",
    "delivery_country": lambda: "DE",
    "region": lambda: "Bavaria",
    "latitude": lambda: 48.14,
    "longitude": lambda: 11.58,
    "name": lambda: "Checked by the access matrix",
    "process_code": lambda: "heat_treatment",
    "materials": lambda: ["steel"],
    "tolerance_class": lambda: TOLERANCE_CLASSES[0],
    "max_length_mm": lambda: 100,
    "max_width_mm": lambda: 100,
    "max_height_mm": lambda: 100,
    "hourly_rate": lambda: 80,
    "currency": lambda: "EUR",
    "certificate_type": lambda: sorted(CERTIFICATIONS)[0],
    "registration_number": lambda: "REG-ACCESS-1",
    "issuer": lambda: "TÜV SÜD",
    "valid_from": lambda: (date.today() - timedelta(days=30)).isoformat(),
    "valid_until": lambda: (date.today() + timedelta(days=365)).isoformat(),
    "week": lambda: iso_week(3),
    "firstWeek": lambda: iso_week(3),
    "sourceWeek": lambda: iso_week(1),
    "targetWeeks": lambda: [iso_week(4)],
    "hours": lambda: 8,
    "weeks": lambda: 1,
    "kind": lambda: "started",
    "score": lambda: 5,
    "reason": lambda: "Checked by the access matrix",
    "url": lambda: "https://example.com/hook",
    "payment_method": lambda: "pm_card_visa",
}


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
            name: FIELD_EXAMPLES[name]()
            if name in FIELD_EXAMPLES
            else example(properties[name], document, depth + 1)
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


def request_schema(app, rule: Rule, method: str) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """The JSON body schema of an API operation, if it takes JSON."""
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
    operation = app.api_doc.get("paths", {}).get(path, {}).get(method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {})
    return content.get("application/json", {}).get("schema")


def fit(value: Any, schema: dict[str, Any], document: dict[str, Any]) -> Any:
    """`value` with only what `schema` declares (a GET answer says more than a PUT takes)."""
    schema = resolve(schema, document)
    for key in ("anyOf", "oneOf"):
        if key in schema and value is not None:
            for option in schema[key]:
                option = resolve(option, document)
                if option.get("type") == "object" and isinstance(value, dict):
                    return fit(value, option, document)
                if option.get("type") == "array" and isinstance(value, list):
                    return fit(value, option, document)
            return value
    if isinstance(value, dict) and "properties" in schema:
        properties = schema["properties"]
        return {k: fit(v, properties[k], document) for k, v in value.items() if k in properties}
    if isinstance(value, list) and "items" in schema:
        return [fit(v, schema["items"], document) for v in value]
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


# Web forms, as the owner's pages offer them -------------------------------------------

PLAUSIBLE_TEXT = "Checked by the access matrix"
# Form fields whose value on the page would be refused as it stands: name -> (value on
# the page, the options of a select) -> value to send.
FORM_VALUES: dict[str, Any] = {
    "hours": lambda value, options: "100",  # a week's maximum above what is booked
    "target_weeks": lambda value, options: options[1] if len(options) > 1 else value,
}
FILE = object()  # a file field: a small PDF is sent


class PageForms(HTMLParser):
    """The forms of a page: action path -> [(name, value)], the values the page fills in,
    and plausible ones where a field is empty (a browser user would type something)."""

    def __init__(self, page_path: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_path = page_path
        self.forms: dict[str, list[tuple[str, Any]]] = {}
        self._fields: list[tuple[str, Any]] | None = None
        self._action = ""
        self._select: dict[str, Any] | None = None
        self._textarea: dict[str, Any] | None = None
        self._buttons = 0
        self._choices: dict[str, dict[str, Any]] = {}

    def handle_starttag(self, tag: str, attributes: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attributes}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._fields, self._buttons, self._choices = [], 0, {}
            self._action = urlsplit(urljoin(self.page_path, a.get("action") or "")).path
        if self._fields is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                group = self._choices.setdefault(name, {"kind": kind, "options": [], "on": []})
                group["options"].append(a.get("value", "on"))
                if "checked" in a:
                    group["on"].append(a.get("value", "on"))
            elif kind == "file":
                self._fields.append((name, FILE))
            elif kind in ("submit", "button", "reset", "image"):
                pass
            else:
                value = a.get("value") or plausible(kind, a)
                if name in FORM_VALUES:
                    value = FORM_VALUES[name](value, [])
                self._fields.append((name, value))
        elif tag == "select" and name:
            self._select = {"name": name, "options": [], "chosen": None}
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if value:
                self._select["options"].append(value)
            if "selected" in a and value:
                self._select["chosen"] = value
        elif tag == "textarea" and name:
            self._textarea = {"name": name, "text": "", "attributes": a}
        elif tag == "button" and name and self._buttons == 0:
            self._buttons += 1
            self._fields.append((name, a.get("value", "")))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if self._fields is None:
            return
        if tag == "select" and self._select is not None:
            name, options = self._select["name"], self._select["options"]
            value = self._select["chosen"] or (options[0] if options else None)
            if name in FORM_VALUES:
                value = FORM_VALUES[name](value, options)
            if value is not None:
                self._fields.append((name, value))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            text = self._textarea["text"].strip("\r\n")
            attributes = self._textarea["attributes"]
            value = text if text.strip() else plausible("text", attributes)
            self._fields.append((self._textarea["name"], value))
            self._textarea = None
        elif tag == "form":
            # Checkboxes and radio buttons: those checked, else the first of each group.
            for name, group in self._choices.items():
                chosen = group["on"] or group["options"][:1]
                if group["kind"] == "radio":
                    chosen = chosen[:1]
                if name in FORM_VALUES:
                    chosen = [FORM_VALUES[name](chosen[0], group["options"])]
                self._fields += [(name, value) for value in chosen]
            self.forms.setdefault(self._action, self._fields)
            self._fields = None


def plausible(kind: str, attributes: dict[str, str]) -> str:
    if kind == "number":
        low = attributes.get("min") or "1"
        return str(max(Decimal(low), Decimal(1)) if Decimal(low) < 1 else Decimal(low))
    if kind == "date":
        return (date.today() + timedelta(days=30)).isoformat()
    if kind == "week":
        year, week, _ = (date.today() + timedelta(days=14)).isocalendar()
        return f"{year}-W{week:02d}"
    if kind == "email":
        return "someone@example.com"
    if kind == "url":
        return "https://example.com/hook"
    if kind == "password":
        return "a long plausible passphrase"
    maximum = int(attributes.get("maxlength") or 200)
    return PLAUSIBLE_TEXT[:maximum]


def form_data(fields: list[tuple[str, Any]], csrf_token: str) -> dict[str, Any]:
    """The fields as the test client sends them (fresh files each time), with this
    browser's own CSRF token."""
    data: dict[str, Any] = {}
    for name, value in fields:
        if name == "csrf_token":
            continue
        if value is FILE:
            value = (io.BytesIO(b"%PDF-1.4 evidence"), "evidence.pdf", "application/pdf")
        data.setdefault(name, []).append(value)
    data["csrf_token"] = csrf_token
    return data


def page_paths(app, world: World, rule: Rule, path: str, values: dict[str, int]) -> list[str]:  # type: ignore[no-untyped-def]
    """Where a form that posts to `path` may be: the page itself, the pages above it, and
    the pages of its objects and of the objects they belong to (a dispute's order)."""
    pages = [path]
    parts = path.rstrip("/").split("/")
    pages += ["/".join(parts[:n]) or "/" for n in range(len(parts) - 1, 1, -1)]
    for argument, row_id in values.items():
        for table in tables_for(rule, argument):
            row = world.ownership.rows.get(table, {}).get(row_id)
            if row is None:
                continue
            for page_rule in web_pages_of(app).get(table, []):
                pages.append(path_for(app, page_rule, {int_arguments(page_rule)[0]: row_id}))
            for fk in world.ownership.tables[table].foreign_keys:
                target, value = fk.column.table.name, row[fk.parent.name]
                for page_rule in web_pages_of(app).get(target, []):
                    (int_arg,) = int_arguments(page_rule)
                    if value is not None:
                        pages.append(path_for(app, page_rule, {int_arg: value}))
    return list(dict.fromkeys(pages))


def int_arguments(rule: Rule) -> list[str]:
    return [a for a, c in rule._converters.items() if isinstance(c, IntegerConverter)]


_WEB_PAGES: dict[int, dict[str, list[Rule]]] = {}


def web_pages_of(app) -> dict[str, list[Rule]]:  # type: ignore[no-untyped-def]
    """Web pages (GET) of one object, by the object's table."""
    if id(app) not in _WEB_PAGES:
        pages: dict[str, list[Rule]] = {}
        for rule in object_routes(app):
            if rule.rule.startswith("/api/") or "GET" not in rule.methods:
                continue
            if len(int_arguments(rule)) == 1 and len(rule.arguments) == 1:
                for table in tables_for(rule, int_arguments(rule)[0]):
                    pages.setdefault(table, []).append(rule)
        _WEB_PAGES[id(app)] = pages
    return _WEB_PAGES[id(app)]


# The matrix ---------------------------------------------------------------------------


@dataclass
class Request:
    """One request of the matrix; web writes carry the fields of the owner's form."""

    path: str
    values: dict[str, int]
    fields: list[tuple[str, Any]] | None = None
    json: Any = None  # API writes: a body other than the schema's example


def telling_values(world: World, tables: dict[str, str], values: dict[str, int]) -> list[str]:
    found = []
    for argument, row_id in values.items():
        row = world.ownership.rows[tables[argument]].get(row_id, {})
        for column in TELLING_COLUMNS:
            value = row.get(column) if hasattr(row, "get") else None
            if isinstance(value, str) and len(value) >= 6:
                found.append(value)
    return found


def operator_only(view) -> bool:  # type: ignore[no-untyped-def]
    return getattr(view, "allowed_roles", None) == frozenset({Role.OPERATOR})


def operator_sees(person: Person, tables: dict[str, str]) -> bool:
    """Whether the cluster operator may see these objects (OPERATOR_SEES)."""
    return (
        person.role == Role.OPERATOR
        and person.token is None
        and bool(tables)
        and all(t in OPERATOR_SEES for t in tables.values())
    )


def exempt(view, person: Person, method: str, tables: dict[str, str]) -> bool:  # type: ignore[no-untyped-def]
    """Views that serve other organizations on purpose, for these people: views marked
    with shared_across_organizations (reads, and writes when marked so), the views that
    exist only for the cluster operator (verifying a factory, resolving a dispute: their
    objects are always another organization's), and the operator's reads of what
    OPERATOR_SEES. The operator is tried on everything else."""
    write = method in WRITE_METHODS
    operator = person.role == Role.OPERATOR and person.token is None
    if operator and (operator_only(view) or (not write and operator_sees(person, tables))):
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


def send(
    app, browser: Browser, person: Person, rule: Rule, method: str, request: Request
) -> Answer:  # type: ignore[no-untyped-def]
    try:
        response = _send(app, browser, person, rule, method, request)
    except Exception as error:  # the view crashed: report it with the rest
        return Answer(500, f"{type(error).__name__}: {error}")
    with response:
        return Answer(
            response.status_code,
            response.get_data(as_text=True),
            response.headers.get("Location", ""),
        )


def _send(app, browser: Browser, person: Person, rule: Rule, method: str, request: Request):  # type: ignore[no-untyped-def]
    is_api = rule.rule.startswith("/api/")
    headers = {}
    kwargs: dict[str, Any] = {}
    if is_api:
        kwargs.update(api_request(app, rule, method))
        if request.json is not None:
            kwargs["json"] = request.json
        if person.token:
            headers["Authorization"] = f"Bearer {person.token}"
        elif method in WRITE_METHODS:
            headers["X-CSRFToken"] = browser.csrf_token()
    elif method in WRITE_METHODS:
        kwargs["data"] = form_data(request.fields or [], browser.csrf_token())
    return browser.client.open(request.path, method=method, headers=headers, **kwargs)


def anonymous(person: Person) -> bool:
    return person.member is None and person.token is None


def verdict(
    person: Person,
    method: str,
    answer: Answer,
    shown: list[str],
    changed: list[str],
    may_see: bool = False,
):
    """None when the request was refused without a trace; else what went wrong. Reads and
    writes alike must be refused as such (403 or 404; 401 or the login page for someone
    not signed in): a view that validates the form or the object's state before it checks
    access answers something else, and is caught even when it changes nothing. Someone
    who may see the object (`may_see`) may be refused a write any way that changes
    nothing."""
    if answer.status_code >= 500:
        return f"crashed ({answer.status_code})"
    if shown and not may_see:
        return f"answered {answer.status_code} showing {shown}"
    if changed:
        return f"answered {answer.status_code} and changed {changed}"
    status = answer.status_code
    if status in (403, 404) or (may_see and method in WRITE_METHODS and status >= 300):
        return None
    if anonymous(person) and (status == 401 or (status == 302 and "/login" in answer.location)):
        return None
    if method in WRITE_METHODS and status < 300:
        return f"accepted the write ({status})"
    return f"answered {status}"


# The owners' requests: the same requests succeed for the people the objects belong to ----


def of_victims(world: World, table: str, row_id: int) -> bool:
    return bool(owned_by(world, table, row_id) & world.victims)


def candidate_values(world: World, rule: Rule, limit: int = 24) -> list[dict[str, int]]:
    """Objects of the victims for every id of the route, the earlier ids those the last
    one belongs to (a capability and its factory)."""
    int_args = int_arguments(rule)
    last = int_args[-1]
    candidates: list[dict[str, int]] = []
    for table in tables_for(rule, last):
        for row_id in sorted(world.ownership.rows.get(table, {})):
            if not of_victims(world, table, row_id):
                continue
            row = world.ownership.rows[table][row_id]
            values = {last: row_id}
            for argument in int_args[:-1]:
                parents = set(tables_for(rule, argument))
                for fk in world.ownership.tables[table].foreign_keys:
                    if fk.column.table.name in parents and row[fk.parent.name] is not None:
                        values[argument] = row[fk.parent.name]
                        break
            if len(values) == len(int_args):
                candidates.append(values)
            if len(candidates) >= limit:
                return candidates
    return candidates


def shares(world: World, rule: Rule, person: Person, request: Request) -> bool:
    """Whether the person's organization has a part in the request's objects."""
    return any(
        person.organization_id in owned_by(world, table, row_id)
        for argument, row_id in request.values.items()
        for table in tables_for(rule, argument)
        if row_id in world.ownership.rows.get(table, {})
    )


def owners_for(world: World, view) -> list[Person]:  # type: ignore[no-untyped-def]
    """Who may make the request: the victims' people (those in the view's roles first),
    or the cluster operator for the operator's own views."""
    if operator_only(view):
        return [p for p in world.attackers if p.role == Role.OPERATOR and p.token is None]
    roles = getattr(view, "allowed_roles", None) or frozenset()
    return sorted(world.owners_of_victims, key=lambda p: p.role not in roles)


class Owners:
    """Finds, for a route, an object and a request with which one of its owners succeeds:
    a read answers 200, a write answers below 400 and changes the database. Each attempt
    is rolled back, so the matrix goes on from the same world."""

    def __init__(self, app, world: World, browsers: dict[str, Browser], connection) -> None:  # type: ignore[no-untyped-def]
        self.app, self.world, self.browsers, self.connection = app, world, browsers, connection
        self._pages: dict[tuple[str, str], dict[str, list[tuple[str, Any]]]] = {}

    def forms(self, person: Person, page: str) -> dict[str, list[tuple[str, Any]]]:
        key = (person.name, page)
        if key not in self._pages:
            response = self.browsers[person.name].get(page)
            parser = PageForms(page)
            if response.status_code == 200 and "html" in response.content_type:
                parser.feed(response.get_data(as_text=True))
            self._pages[key] = parser.forms
        return self._pages[key]

    def form_for(self, person: Person, rule: Rule, path: str, values: dict[str, int]):  # type: ignore[no-untyped-def]
        for page in page_paths(self.app, self.world, rule, path, values):
            fields = self.forms(person, page).get(path)
            if fields is not None:
                return fields
        return None

    def request(self, rule: Rule, method: str) -> tuple[Request | None, str]:
        view = self.app.view_functions[rule.endpoint]
        write = method in WRITE_METHODS
        web_write = write and not rule.rule.startswith("/api/")
        tried: list[str] = []
        for values in candidate_values(self.world, rule):
            path = path_for(self.app, rule, values)
            for person in owners_for(self.world, view):
                fields = None
                if web_write:
                    fields = self.form_for(person, rule, path, values)
                    if fields is None:
                        tried.append(f"no page {person.name} sees has a form that posts to {path}")
                        continue
                body = self.current(person, rule, method, path)
                request = Request(path, values, fields, body)
                answer, changed = self.attempt(person, rule, method, request)
                if self.succeeded(person, rule, method, answer, changed):
                    return request, ""
                unchanged = ", nothing changed" if write and not changed else ""
                tried.append(
                    f"{path} as {person.name}: {answer.status_code}{unchanged}: "
                    f"{answer.body[:120]!r}"
                )
        if not tried:
            return None, "no object of the victims fits the route"
        return None, "; ".join(dict.fromkeys(tried[:3]))

    def current(self, person: Person, rule: Rule, method: str, path: str) -> Any:
        """For an API write whose path the owner can also GET (a factory, its profile,
        its AAS): what GET answers, in the shape the write takes, when it has every
        required field (or as it is, for a body the schema does not describe); otherwise
        the schema's example is sent."""
        if method not in ("PUT", "POST") or not rule.rule.startswith("/api/"):
            return None
        with self.browsers[person.name].get(path) as response:
            if response.status_code != 200 or not response.is_json:
                return None
            current = response.get_json()
        schema = request_schema(self.app, rule, method)
        if schema is None:  # a body the view reads itself (an AAS environment)
            return current
        fitted = fit(current, schema, self.app.api_doc)
        required = resolve(schema, self.app.api_doc).get("required", [])
        if not isinstance(fitted, dict) or not all(k in fitted for k in required):
            return None
        return fitted

    def succeeded(
        self, person: Person, rule: Rule, method: str, answer: Answer, changed: bool
    ) -> bool:
        """A read answers 200. An API write answers 2xx. A web write changes the database,
        or redirects to a page that shows no error."""
        if method not in WRITE_METHODS:
            return answer.status_code == 200
        if rule.rule.startswith("/api/"):
            return 200 <= answer.status_code < 300
        if changed and answer.status_code < 400:
            return True
        if answer.status_code in (301, 302, 303) and answer.location:
            page = self.browsers[person.name].get(answer.location)
            text = page.get_data(as_text=True)
            return page.status_code == 200 and 'class="flash error"' not in text
        return False

    def attempt(
        self, person: Person, rule: Rule, method: str, request: Request
    ) -> tuple[Answer, bool]:
        write = method in WRITE_METHODS
        savepoint = self.connection.begin_nested()
        try:
            before = fingerprint(self.connection) if write else {}
            answer = send(self.app, self.browsers[person.name], person, rule, method, request)
            after = fingerprint(self.connection) if write else {}
        finally:
            savepoint.rollback()
        return answer, before != after


def test_no_route_serves_another_organizations_objects(app, world, new_browser, connection):
    routes = object_routes(app)
    assert any(r.endpoint == "accounts.revoke" for r in routes), "the matrix sees the url_map"

    browsers: dict[str, Browser] = {}
    for person in world.attackers + world.owners_of_victims:
        browser = new_browser()
        if person.member is not None:
            browser.login(person.member)
        browsers[person.name] = browser
    owners = Owners(app, world, browsers, connection)

    leaks: list[str] = []
    untested: list[str] = []
    owners_failed: dict[str, str] = {}
    tried = 0
    for rule in routes:
        view = app.view_functions[rule.endpoint]
        _, reason = string_values(rule)
        if reason:
            untested.append(f"{rule.rule}: {reason}")
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            route = f"{method} {rule.endpoint}"
            # First the owners: the requests tried below reach real objects.
            positive, why = owners.request(rule, method)
            if positive is None:
                owners_failed[route] = why
            for person in world.attackers:
                if person.token and not rule.rule.startswith("/api/"):
                    continue
                combos, reason = attempts_for(world, rule, person)
                if not combos:
                    untested.append(f"{method} {rule.rule}: {reason}")
                    continue
                tables = {}
                for argument in int_arguments(rule):
                    for table in tables_for(rule, argument):
                        if combos[0][argument] in world.ownership.rows.get(table, {}):
                            tables[argument] = table
                            break
                if exempt(view, person, method, tables):
                    continue
                requests = (
                    [positive] if positive and not shares(world, rule, person, positive) else []
                )
                fields = positive.fields if positive is not None else None
                requests += [
                    Request(path_for(app, rule, values), values, fields)
                    for values in combos
                    if positive is None or values != positive.values
                ]
                for request in requests:
                    write = method in WRITE_METHODS
                    before = fingerprint(connection) if write else {}
                    response = send(app, browsers[person.name], person, rule, method, request)
                    after = fingerprint(connection) if write else {}
                    tried += 1
                    shown = [
                        v
                        for v in telling_values(world, tables, request.values)
                        if v in response.body
                    ]
                    changed = sorted(t for t in after if after[t] != before.get(t))
                    may_see = operator_sees(person, tables)
                    problem = verdict(person, method, response, shown, changed, may_see)
                    known = KNOWN_DEFECTS.get((route, person.name))
                    if problem and not (known and problem.startswith(known)):
                        leaks.append(
                            f"{method} {request.path} as {person.name}: {problem}: "
                            f"{response.body[:160]!r}"
                        )

    assert leaks == [], "objects of other organizations reachable:\n" + "\n".join(leaks)
    assert untested == [], "object routes the matrix could not try:\n" + "\n".join(untested)
    assert tried >= len(routes)
    # The same requests succeed for the owners of the objects, so the refusals above are
    # refusals of real objects, not 404s for dead ids or unfit requests.
    unexpected = {r: why for r, why in owners_failed.items() if r not in OWNER_CANNOT}
    assert unexpected == {}, "owners could not make these requests either:\n" + "\n".join(
        f"{r}: {why}" for r, why in sorted(unexpected.items())
    )
    stale = sorted(set(OWNER_CANNOT) - set(owners_failed))
    assert stale == [], (
        f"these now succeed for their owners; remove them from OWNER_CANNOT: {stale}"
    )


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
    request = Request(path_for(app, rule, combos[0]), combos[0])
    response = send(app, browser, attacker, rule, "GET", request)
    assert verdict(attacker, "GET", response, [], []) == "answered 200"
    assert telling_values(world, {"client_pk": "oauth_client"}, combos[0])[0] in response.body
    assert attacker.role == Role.FACTORY_OWNER


def route(app, endpoint: str) -> Rule:  # type: ignore[no-untyped-def]
    return next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)


def tables_of(world: World, rule: Rule, values: dict[str, int]) -> dict[str, str]:
    return {
        argument: next(
            t for t in tables_for(rule, argument) if row_id in world.ownership.rows.get(t, {})
        )
        for argument, row_id in values.items()
    }


def test_the_matrix_tries_the_operator_on_what_is_private(app, world, new_browser):
    """A view that lets operators read any organization's webhook endpoint is caught:
    only what OPERATOR_SEES, and views marked shared, are left out for the operator."""
    from flask import Blueprint, jsonify

    from marketplace import db
    from marketplace.accounts.access import login_required, require_principal
    from marketplace.orders.models import WebhookEndpoint

    leaky = Blueprint("leaky_operator", __name__)

    @leaky.get("/api/v1/_leaky/webhooks/<int:endpoint_id>")
    @login_required
    def leaky_webhook(endpoint_id: int):  # type: ignore[no-untyped-def]
        endpoint = db.session().get(WebhookEndpoint, endpoint_id)
        principal = require_principal()
        if not (principal.is_operator or principal.acts_for(endpoint.organization_id)):
            return jsonify(error="not_found"), 404
        return jsonify(url=endpoint.url)

    app.register_blueprint(leaky)
    rule = route(app, "leaky_operator.leaky_webhook")
    operator = next(p for p in world.attackers if p.role == Role.OPERATOR)
    browser = new_browser()
    browser.login(operator.member)
    combos, reason = attempts_for(world, rule, operator)
    assert combos, reason
    tables = tables_of(world, rule, combos[0])
    assert not exempt(app.view_functions[rule.endpoint], operator, "GET", tables)
    response = send(
        app, browser, operator, rule, "GET", Request(path_for(app, rule, combos[0]), combos[0])
    )
    shown = [v for v in telling_values(world, tables, combos[0]) if v in response.body]
    assert shown
    assert verdict(operator, "GET", response, shown, []).startswith("answered 200 showing")
    # What the operator may see by design is left out.
    order_rule = route(app, "orders.detail")
    order_values = {"order_id": victim_rows(world, "purchase_order", operator.organization_id)[0]}
    order_tables = tables_of(world, order_rule, order_values)
    assert exempt(app.view_functions[order_rule.endpoint], operator, "GET", order_tables)


def test_the_matrix_catches_a_write_that_reads_its_form_before_checking_access(
    app, world, new_browser
):
    """Refused, changing nothing, but with a form error rather than 403 or 404: the view
    validates before it checks access, which the matrix reports."""
    from flask import Blueprint, abort
    from flask_wtf import FlaskForm
    from wtforms import StringField
    from wtforms.validators import DataRequired

    from marketplace import db
    from marketplace.accounts.access import require_principal, roles_required
    from marketplace.accounts.models import OAuthClient

    class RenameForm(FlaskForm):
        name = StringField(validators=[DataRequired()])

    careless = Blueprint("careless", __name__)

    @careless.post("/_careless/clients/<int:client_pk>/rename")
    @roles_required(Role.FACTORY_OWNER)
    def rename(client_pk: int):  # type: ignore[no-untyped-def]
        form = RenameForm()
        if not form.validate_on_submit():
            return "the name is missing", 400
        client = db.session().get(OAuthClient, client_pk)
        if client is None or not require_principal().acts_for(client.organization_id):
            abort(404)
        return "renamed", 200

    app.register_blueprint(careless)
    rule = route(app, "careless.rename")
    attacker = next(p for p in world.attackers if p.role == Role.FACTORY_OWNER)
    browser = new_browser()
    browser.login(attacker.member)
    combos, reason = attempts_for(world, rule, attacker)
    assert combos, reason
    request = Request(path_for(app, rule, combos[0]), combos[0], fields=[])
    response = send(app, browser, attacker, rule, "POST", request)
    assert verdict(attacker, "POST", response, [], []) == "answered 400"
    # With the fields of the owner's form the access check is reached, and refuses.
    request.fields = [("name", "MES line 3")]
    response = send(app, browser, attacker, rule, "POST", request)
    assert verdict(attacker, "POST", response, [], []) is None


def test_path_parts_that_are_no_ids_get_valid_values(app):
    rule = route(app, "supply.export")
    values, reason = string_values(rule)
    assert reason == ""
    assert values["fmt"] in EXPORTS
    assert path_for(app, rule, {"factory_id": 1}).rsplit("/", 1)[1] in EXPORTS

    from werkzeug.routing import Map

    unknown = Rule("/things/<int:thing_id>/<flavour>", endpoint="things")
    Map([unknown])
    assert "add it to STRING_ARGUMENTS" in string_values(unknown)[1]


def test_the_owners_must_reach_the_objects_the_matrix_tries(app, world, new_browser, connection):
    """A route on which even the owners get 404 (ids that name nothing, or a request the
    route never accepts) is reported, so refusals of the others prove nothing there."""
    from flask import Blueprint, abort

    from marketplace.accounts.access import login_required

    dead = Blueprint("dead", __name__)

    @dead.get("/_dead/orders/<int:order_id>")
    @login_required
    def dead_order(order_id: int):  # type: ignore[no-untyped-def]
        abort(404)

    app.register_blueprint(dead)
    browsers = {}
    for person in world.owners_of_victims:
        browsers[person.name] = new_browser()
        browsers[person.name].login(person.member)
    owners = Owners(app, world, browsers, connection)
    request, why = owners.request(route(app, "dead.dead_order"), "GET")
    assert request is None
    assert "404" in why
    request, why = owners.request(route(app, "orders.detail"), "GET")
    assert request is not None, why
