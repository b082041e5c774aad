"""The capacity calendar page: maximum, booked and free hours per process and ISO week,
saved as a whole grid or (from htmx) one cell at a time, and the bulk actions fill, copy
and close."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from factories.capacity.bulk import close_week, copy_week, fill_capacity
from factories.capacity.calendar import (
    CapacityChange,
    CapacityGrid,
    capacity_grid,
    set_capacity,
)
from factories.capacity.hours import parse_hours
from factories.capacity.weeks import week_label
from factories.errors import InputError
from factories.models import Factory
from marketplace import db
from marketplace.accounts.access import (
    login_required,
    require_principal,
    shared_across_organizations,
)
from marketplace.accounts.models import Role
from marketplace.supply.access import can_edit_capacity, load_factory, require_capacity_editor
from marketplace.supply.blueprints import pages
from marketplace.supply.capacity.forms import CloseWeekForm, CopyWeekForm, FillForm, week_choices
from marketplace.supply.clock import today_and_now
from marketplace.supply.forms import choices
from marketplace.supply.presenters import capacity_freshness, machines_by_process
from marketplace.web import labels
from marketplace.web.forms import ActionForm, field_errors, submit
from marketplace.web.labels import current_locale
from marketplace.web.messages import say

CELL_PREFIX = "max:"


def cell_name(resource: str, week: date) -> str:
    """The grid's input for the maximum hours of a resource in a week."""
    return f"{CELL_PREFIX}{resource}:{week.isoformat()}"


def parse_cell_name(name: str) -> tuple[str, date]:
    """The resource and week of a grid input; ValueError for a name no cell has."""
    _prefix, resource, iso = name.split(":", 2)
    return resource, date.fromisoformat(iso)


def _grid(factory: Factory) -> CapacityGrid:
    """The calendar as the page shows it: this week and the next ones."""
    today, now = today_and_now()
    return capacity_grid(db.session(), factory, today, now)


def _calendar(
    factory: Factory,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    forms: dict[str, FlaskForm] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """The page; a failed form or grid shows again with its messages (status 400)."""
    today, now = today_and_now()
    grid = capacity_grid(db.session(), factory, today, now)
    weeks = week_choices(grid.weeks)
    resources = choices((r, labels.process_label(r, current_locale())) for r in grid.resources)
    forms = forms or {}
    fill = forms.get("fill") or FillForm(formdata=None)
    copy = forms.get("copy") or CopyWeekForm(formdata=None)
    close = forms.get("close") or CloseWeekForm(formdata=None)
    fill.first_week.choices = weeks
    fill.resources.choices = resources
    copy.source_week.choices = weeks
    copy.target_weeks.choices = weeks
    close.week.choices = weeks
    principal = require_principal()
    return render_template(
        "supply/capacity.html",
        factory=factory,
        grid=grid,
        errors=errors or {},
        values=values or {},
        cell_name=cell_name,
        week_label=week_label,
        fill_form=fill,
        copy_form=copy,
        close_form=close,
        confirm_form=ActionForm(formdata=None),
        can_edit=can_edit_capacity(principal) and principal.acts_for(factory.organization_id),
        days_since_update=capacity_freshness(factory, now).days_since_update,
        hours=labels.hours,
        process_label=lambda code: labels.process_label(code, current_locale()),
        machines=machines_by_process(db.session(), factory, now),
        state_label=labels.state_label,
    ), status


@pages.get("/factories/<int:factory_id>/capacity")
@login_required
@shared_across_organizations(Role.OPERATOR)
def capacity(factory_id: int) -> ResponseReturnValue:
    return _calendar(load_factory(factory_id))


def _read_grid(
    grid: CapacityGrid,
) -> tuple[list[CapacityChange], dict[str, str], dict[str, str]]:
    """The cells the request changed, the messages of cells that do not parse, and every
    value as typed (a cell with a message shows again what was typed)."""
    changes, errors, values = [], {}, {}
    for name, value in request.form.items():
        if not name.startswith(CELL_PREFIX):
            continue
        values[name] = value
        try:
            resource, week = parse_cell_name(name)
            maximum = parse_hours(value)
        except ValueError as error:
            errors[name] = say(error)
            continue
        if maximum != grid.cell(resource, week).maximum_hours:
            changes.append(CapacityChange(resource, week, maximum, field=name, week_field=name))
    return changes, errors, values


@pages.post("/factories/<int:factory_id>/capacity")
@login_required
def save_capacity(factory_id: int) -> ResponseReturnValue:
    """The whole grid (one form) or, from htmx, the one cell that changed."""
    factory = load_factory(factory_id, write=True)
    require_capacity_editor()
    today, now = today_and_now()
    changes, errors, values = _read_grid(_grid(factory))
    if not errors:
        try:
            if changes:
                set_capacity(db.session(), factory, changes, today, now)
            else:
                factory.capacity_updated_at = now  # "still true": confirms the calendar
                db.session().add(factory)
        except InputError as error:
            for field, message in error.problems:
                errors[field if field in values else next(iter(values), field)] = say(message)
    if errors:
        # A single cell answers 200 (see below), so the flag, not the status, keeps
        # anything of a refused grid from being saved.
        db.discard_changes()
    if request.headers.get("HX-Request") == "true" and len(values) == 1:
        return _cell(factory, next(iter(values)), errors, values)
    if errors:
        return _calendar(factory, errors=errors, values=values, status=400)
    flash(_("Capacity saved.") if changes else _("Capacity confirmed as up to date."))
    return redirect(url_for("supply.capacity", factory_id=factory.id))


def _cell(
    factory: Factory, name: str, errors: dict[str, str], values: dict[str, str]
) -> ResponseReturnValue:
    """One cell of the grid, as it is now, with its message if it was refused."""
    try:
        resource, week = parse_cell_name(name)
    except ValueError:
        abort(400)
    grid = _grid(factory)
    # Always 200, so that htmx swaps the cell with its message in.
    return render_template(
        "supply/_capacity_cell.html",
        cell=grid.cell(resource, week),
        name=name,
        error=errors.get(name),
        value=values[name] if name in errors else None,
        can_edit=True,
        hours=labels.hours,
        saved=not errors,
        post_url=url_for("supply.save_capacity", factory_id=factory.id),
    )


@pages.post("/factories/<int:factory_id>/capacity/fill")
@login_required
def fill_view(factory_id: int) -> ResponseReturnValue:
    factory = load_factory(factory_id, write=True)
    require_capacity_editor()
    grid = _grid(factory)
    form = FillForm()
    form.first_week.choices = week_choices(grid.weeks)
    form.resources.choices = choices((r, r) for r in grid.resources)
    today, now = today_and_now()
    # The form parses, then the service checks every field: all messages at once (a
    # field that did not parse stands in with a harmless value, its message kept).
    filled = submit(
        form,
        lambda: fill_capacity(
            db.session(),
            factory,
            Decimal(form.hours.data if form.hours.data is not None else 0),
            _week_or(form.first_week.data, grid.weeks[0]),
            form.weeks.data or 1,
            today,
            now,
            resources=form.resources.data or None,
        ),
    )
    if filled is not None:
        flash(
            _(
                "%(hours)s h per week for %(weeks)s weeks published.",
                hours=labels.hours(form.hours.data),
                weeks=form.weeks.data,
            )
        )
        return redirect(url_for("supply.capacity", factory_id=factory.id))
    return _calendar(factory, forms={"fill": form}, status=400)


@pages.post("/factories/<int:factory_id>/capacity/copy")
@login_required
def copy_view(factory_id: int) -> ResponseReturnValue:
    factory = load_factory(factory_id, write=True)
    require_capacity_editor()
    form = CopyWeekForm()
    form.source_week.choices = form.target_weeks.choices = week_choices(_grid(factory).weeks)
    if form.validate():
        today, now = today_and_now()
        try:
            copy_week(
                db.session(),
                factory,
                date.fromisoformat(form.source_week.data),
                [date.fromisoformat(w) for w in form.target_weeks.data or []],
                today,
                now,
            )
        except InputError as error:
            field_errors(form, error)
        else:
            flash(_("Week copied."))
            return redirect(url_for("supply.capacity", factory_id=factory.id))
    return _calendar(factory, forms={"copy": form}, status=400)


@pages.post("/factories/<int:factory_id>/capacity/close")
@login_required
def close_view(factory_id: int) -> ResponseReturnValue:
    factory = load_factory(factory_id, write=True)
    require_capacity_editor()
    form = CloseWeekForm()
    form.week.choices = week_choices(_grid(factory).weeks)
    if form.validate():
        week = date.fromisoformat(form.week.data)
        today, now = today_and_now()
        try:
            kept = close_week(db.session(), factory, week, today, now)
        except InputError as error:
            field_errors(form, error)
        else:
            flash(_closed(week, kept))
            return redirect(url_for("supply.capacity", factory_id=factory.id))
    return _calendar(factory, forms={"close": form}, status=400)


def _week_or(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return default


def _closed(week: date, kept_booked_hours: Decimal) -> str:
    if kept_booked_hours > 0:
        return _(
            "Week %(week)s closed. %(hours)s h already booked stay booked; "
            "closing cannot go below them.",
            week=week_label(week),
            hours=labels.hours(kept_booked_hours),
        )
    return _("Week %(week)s closed.", week=week_label(week))
