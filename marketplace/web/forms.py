"""The one way pages show what a service refused.

A service raises an `InputError` naming each field (`title`, `lines[1].hours`); a page
either puts each message under its form field (`field_errors`, `submit`) or, for a
button that redirects, flashes them (`refused`). Either way the request's changes are
discarded: nothing is half-saved.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from flask import abort, flash, redirect
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import Field, FieldList, Form, FormField, SelectField, SelectMultipleField
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from factories.errors import Conflict, InputError
from marketplace import db
from marketplace.web.labels import countries, current_locale, state_label
from marketplace.web.messages import say

T = TypeVar("T")


class ActionForm(FlaskForm):
    """A button that changes state: only the CSRF token travels."""


class CountryField(SelectField):
    """A country picked from the list of countries by name, in the reader's language, so
    that no typed name becomes another country's code ("Germany" is not GE, Georgia).
    The value is the ISO 3166-1 alpha-2 code the services take."""

    def __init__(self, label: Any = None, **kwargs: Any) -> None:
        super().__init__(label, choices=country_choices, **kwargs)

    def pre_validate(self, form: Form) -> None:
        if self.data and not any(self.data == code for code, _name in country_choices()):
            raise ValidationError(_("Choose a country from the list."))


def country_choices() -> list[tuple[str, str]]:
    return [("", _("Choose a country")), *countries(current_locale())]


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def require_valid(form: FlaskForm) -> None:
    """A button's form must come back whole (its CSRF token above all): else 400."""
    if not form.validate_on_submit():
        abort(400)


_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?")


def _field_at(form: Form, path: str) -> Field | None:
    """The form field a service's field path names: `lines[1].hours` is the `hours`
    field of the second entry of the `lines` list; None when the form has no such field."""
    target: Any = form
    for part in path.split("."):
        match = _PART.fullmatch(part)
        if match is None or not isinstance(target, Form):
            return None
        target = target._fields.get(match.group(1))
        if match.group(2) is not None:
            if not isinstance(target, FieldList) or int(match.group(2)) >= len(target.entries):
                return None
            target = target.entries[int(match.group(2))]
        if isinstance(target, FormField):
            target = target.form
    return target if isinstance(target, Field) else None


def field_errors(form: Form, error: InputError, names: Mapping[str, str] | None = None) -> None:
    """Each problem under its field (`names` maps a service field to the form's name, or
    to "" for a problem of the whole form, shown above it without a field name);
    problems of fields the form does not have are flashed, naming the field. A field
    that already has a message from parsing keeps just that one."""
    db.discard_changes()
    parsed_badly = {id(f) for f in _all_fields(form) if f.errors}
    for field, message in error.problems:
        name = (names or {}).get(field, field)
        text = say(message)
        if not name:
            form.form_errors.append(text)
            continue
        target = _field_at(form, name)
        if target is None:
            flash(f"{field}: {text}", "error")
        elif id(target) not in parsed_badly and text not in target.errors:
            target.errors = [*target.errors, text]


def _all_fields(fields: Iterable[Field]) -> Iterator[Field]:
    """Every field, the fields of nested forms and list entries included."""
    for field in fields:
        yield field
        if isinstance(field, FieldList | FormField):
            yield from _all_fields(field)


def has_errors(form: Form) -> bool:
    return any(f.errors for f in _all_fields(form))


def submit(form: Form, action: Callable[[], T], names: Mapping[str, str] | None = None) -> T | None:
    """Parse the form, then let the service check every field, so that all messages show
    at once. The result, or None when any field has a message (the request then answers
    400 and its changes are discarded)."""
    form.validate()
    csrf = getattr(form, "csrf_token", None)
    if csrf is not None and csrf.errors:
        # A request the site did not send: nothing of it reaches a service.
        db.discard_changes()
        return None
    try:
        result = action()
    except InputError as error:
        field_errors(form, error, names)
        return None
    if has_errors(form):
        db.discard_changes()
        return None
    return result


def refused(error: InputError | Conflict, names: Mapping[str, str] | None = None) -> None:
    """A step of a button that redirects was refused: say why, keep nothing of it. A
    problem's field is named unless `names` maps it to "" (the step as a whole)."""
    db.discard_changes()
    if isinstance(error, InputError):
        for field, message in error.problems:
            name = (names or {}).get(field, field)
            flash(f"{name}: {say(message)}" if name else say(message), "error")
    elif getattr(error, "code", "") == "invalid_transition":
        details = error.details()
        allowed = ", ".join(state_label(s) for s in details["allowed"]) or _("none")
        flash(
            _(
                "This order is %(state)s and cannot become %(target)s. "
                "Possible next states: %(allowed)s.",
                state=state_label(str(details["state"])),
                target=state_label(str(details["target"])),
                allowed=allowed,
            ),
            "error",
        )
    else:
        flash(say(error), "error")


def perform(step: Callable[[], Any], done: str, names: Mapping[str, str] | None = None) -> bool:
    """Run a button's step: flash `done` when it worked, or why it was refused."""
    try:
        step()
    except (InputError, Conflict) as error:
        refused(error, names)
        return False
    flash(done)
    return True


def step_then_redirect(step: Callable[[], Any], done: str, target: str) -> Response:
    """A button: run its step, say how it went, and go (303) to `target`."""
    perform(step, done)
    return redirect(target, code=303)
