"""Factory pages: onboarding, profile, capabilities, capacity calendar, import/export,
the operators' verification list, and the buyers' search."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from pydantic import ValidationError
from wtforms.fields.choices import SelectChoice

from factories.aas import reader as aas_reader
from factories.aas import writer as aas_writer
from factories.capability import (
    CapabilityDetails,
    capabilities_of,
    capability_of,
    create_capability,
    delete_capability,
    major_units,
    materials_of,
    minor_units,
    update_capability,
)
from factories.capacity.calendar import (
    CapacityChange,
    capacity_grid,
    close_week,
    copy_week,
    days_since_capacity_update,
    fill_capacity,
    is_stale,
    set_capacity,
)
from factories.capacity.hours import parse_hours
from factories.capacity.weeks import parse_week, week_label
from factories.certifications import certifications_of, is_valid_on
from factories.errors import FactoryError
from factories.models import Factory, FactoryStatus, id_of, utcnow
from factories.onboarding import (
    CertificationDetails,
    FactoryDetails,
    add_certification,
    factories_for_review,
    factories_of,
    register_factory,
    remove_certification,
    suspend_factory,
    update_factory,
    verify_factory,
)
from factories.paging import page_number
from factories.profile.reader import import_profile
from factories.profile.schema import MAX_PROFILE_BYTES, FactoryProfile
from factories.profile.writer import export_profile
from factories.search.filters import SearchFilters
from factories.search.service import regions, search_factories
from factories.taxonomy import PROCESSES, materials_for
from marketplace import db
from marketplace.accounts.access import (
    login_required,
    require_principal,
    roles_required,
    shared_across_organizations,
)
from marketplace.accounts.models import Role
from marketplace.security.limits import takes_files
from marketplace.supply import texts
from marketplace.supply.access import can_edit_capacity, can_edit_profile, load_factory
from marketplace.supply.forms import (
    CapabilityForm,
    CertificationForm,
    CloseWeekForm,
    ConfirmForm,
    CopyWeekForm,
    FactoryForm,
    FillForm,
    ImportForm,
    RegistrationForm,
    SearchForm,
    SuspendForm,
    certification_choices,
    choices,
    material_choices,
    process_choices,
)
from marketplace.web import labels
from marketplace.web.messages import say

blueprint = Blueprint("supply", __name__, url_prefix="/supply")
T = TypeVar("T")

EXPORTS = {
    "profile-json": ("application/json", "profile.json"),
    "aas-json": ("application/json", "aas.json"),
    "aas-xml": ("application/xml", "aas.xml"),
}


def locale() -> str:
    return str(get_locale())


def clock() -> tuple[date, datetime]:
    now = utcnow()
    return now.date(), now


def field_errors(form: FlaskForm, error: FactoryError, names: dict[str, str] | None = None) -> None:
    """Put each service problem under the form field it names; the rest on top of the form.

    A field that already has a message from parsing keeps just that one.
    """
    parsed_badly = {f.name for f in form if f.errors}
    for field, message in error.problems:
        name = (names or {}).get(field, field.rpartition(".")[2])
        target = form._fields.get(name)
        text = say(message)
        if target is None:
            flash(f"{field}: {text}", "error")
        elif name not in parsed_badly and text not in target.errors:
            target.errors = [*target.errors, text]


def has_errors(form: FlaskForm) -> bool:
    return any(f.errors for f in form)


def submit(form: FlaskForm, action: Callable[[], T]) -> T | None:
    """Parse the form, then let the service check every field, so that all messages show
    at once. The result, or None when any field has a message (the request then answers
    400 and its session is rolled back: nothing is half-saved)."""
    form.validate()
    try:
        result = action()
    except FactoryError as error:
        field_errors(form, error)
        return None
    return None if has_errors(form) else result


def require_owner() -> None:
    if not can_edit_profile(require_principal()):
        abort(403)


# Onboarding ----------------------------------------------------------------------------


@blueprint.route("/onboarding", methods=["GET", "POST"])
@login_required
def onboarding():
    """Where a factory owner lands after signing up: register the factory, then see it."""
    principal = require_principal()
    if not principal.is_factory:
        abort(403)
    session = db.session()
    factories = factories_of(session, principal.organization_id)
    form = RegistrationForm()
    form.certificate_type.choices = [
        SelectChoice("", _("None yet")),
        *certification_choices(locale()),
    ]
    status = 200
    if form.is_submitted():
        require_owner()
        factory = submit(form, lambda: _register(form, principal.organization_id))
        if factory is not None:
            flash(_("Your factory is registered. An operator will verify it soon."))
            return redirect(url_for("supply.factory", factory_id=factory.id))
        status = 400
    now = clock()[1]
    return render_template(
        "supply/onboarding.html",
        form=form,
        factories=factories,
        show_form=not factories or request.args.get("new") or form.is_submitted(),
        can_edit=can_edit_profile(principal),
        stale={f.id: is_stale(f, now) for f in factories},
        status_labels=texts.STATUS_LABELS,
    ), status


def _register(form: RegistrationForm, organization_id: int) -> Factory:
    certifications = [_certification_details(form)] if form.certificate_type.data else []
    return register_factory(db.session(), organization_id, _factory_details(form), certifications)


def _certification_details(form: Any) -> CertificationDetails:
    return CertificationDetails(
        certificate_type=form.certificate_type.data or "",
        certificate_version=form.certificate_version.data or "",
        registration_number=form.registration_number.data or "",
        issuer=form.issuer.data or "",
        valid_from=form.valid_from.data,
        valid_until=form.valid_until.data,
    )


def _factory_details(form: FactoryForm) -> FactoryDetails:
    return FactoryDetails(
        name=form.name.data or "",
        country=form.country.data or "",
        region=form.region.data or "",
        city=form.city.data or "",
        latitude=form.latitude.data,
        longitude=form.longitude.data,
    )


# The factory ---------------------------------------------------------------------------


@blueprint.get("/factories/<int:factory_id>")
@login_required
@shared_across_organizations(Role.OPERATOR)
def factory(factory_id: int):
    factory = load_factory(factory_id)
    return _factory_page(factory)


def _factory_page(
    factory: Factory,
    certification_form: CertificationForm | None = None,
    import_form: ImportForm | None = None,
    status: int = 200,
):
    session = db.session()
    principal = require_principal()
    today, now = clock()
    if certification_form is None:
        certification_form = CertificationForm(formdata=None)
    certification_form.certificate_type.choices = certification_choices(locale())
    certifications = certifications_of(session, id_of(factory))
    return render_template(
        "supply/factory.html",
        factory=factory,
        certifications=[(c, is_valid_on(c, today), c.valid_until < today) for c in certifications],
        capabilities=capabilities_of(session, id_of(factory)),
        certification_form=certification_form,
        import_form=import_form or ImportForm(formdata=None),
        confirm_form=ConfirmForm(formdata=None),
        suspend_form=SuspendForm(formdata=None),
        can_edit=can_edit_profile(principal) and principal.acts_for(factory.organization_id),
        is_operator=principal.is_operator,
        stale=is_stale(factory, now),
        days_since_update=days_since_capacity_update(factory, now),
        status_labels=texts.STATUS_LABELS,
        money=labels.money,
        exports=list(EXPORTS),
    ), status


@blueprint.route("/factories/<int:factory_id>/edit", methods=["GET", "POST"])
@roles_required(Role.FACTORY_OWNER)
def edit_factory(factory_id: int):
    factory = load_factory(factory_id, write=True)
    require_owner()
    form = FactoryForm(obj=factory)
    if form.is_submitted():
        if submit(form, lambda: update_factory(db.session(), factory, _factory_details(form))):
            flash(_("Factory details saved."))
            return redirect(url_for("supply.factory", factory_id=factory.id))
        return render_template("supply/factory_form.html", form=form, factory=factory), 400
    return render_template("supply/factory_form.html", form=form, factory=factory)


@blueprint.post("/factories/<int:factory_id>/certifications")
@roles_required(Role.FACTORY_OWNER)
def add_certification_view(factory_id: int):
    factory = load_factory(factory_id, write=True)
    require_owner()
    form = CertificationForm()
    form.certificate_type.choices = certification_choices(locale())
    if submit(form, lambda: add_certification(db.session(), factory, _certification_details(form))):
        flash(_("Certification added."))
        return redirect(url_for("supply.factory", factory_id=factory.id))
    return _factory_page(factory, certification_form=form, status=400)


@blueprint.post("/factories/<int:factory_id>/certifications/<int:certification_id>/delete")
@roles_required(Role.FACTORY_OWNER)
def delete_certification_view(factory_id: int, certification_id: int):
    factory = load_factory(factory_id, write=True)
    require_owner()
    if not ConfirmForm().validate():
        abort(400)
    try:
        remove_certification(db.session(), factory, certification_id)
    except FactoryError:
        abort(404)
    flash(_("Certification removed."))
    return redirect(url_for("supply.factory", factory_id=factory.id))


# Capabilities --------------------------------------------------------------------------


def _capability_form(capability: Any = None, materials: list[str] | None = None) -> CapabilityForm:
    form = CapabilityForm(obj=capability) if capability is not None else CapabilityForm()
    form.process_code.choices = process_choices(locale())
    form.materials.choices = material_choices(locale())
    if capability is not None and not form.is_submitted():
        form.materials.data = materials or []
        form.hourly_rate.data = major_units(capability.hourly_rate_minor, capability.currency)
    return form


def _capability_details(form: CapabilityForm, process_code: str) -> CapabilityDetails:
    currency = (form.currency.data or "").strip().upper()
    rate = 0
    if form.hourly_rate.data is None:
        if not form.hourly_rate.errors:
            form.hourly_rate.errors = [*form.hourly_rate.errors, _("Give the hourly rate.")]
    else:
        try:
            rate = minor_units(form.hourly_rate.data, currency)
        except ValueError as error:
            form.hourly_rate.errors = [*form.hourly_rate.errors, say(error)]
    return CapabilityDetails(
        process_code=process_code,
        materials=tuple(form.materials.data or ()),
        tolerance_class=form.tolerance_class.data or "",
        max_length_mm=form.max_length_mm.data,
        max_width_mm=form.max_width_mm.data,
        max_height_mm=form.max_height_mm.data,
        batch_min=form.batch_min.data,
        batch_max=form.batch_max.data,
        hourly_rate_minor=rate,
        currency=currency,
    )


def _render_capability(factory: Factory, form: CapabilityForm, capability: Any, status: int):
    allowed = {code: [m.code for m in materials_for(code)] for code in PROCESSES}
    return render_template(
        "supply/capability_form.html",
        factory=factory,
        form=form,
        capability=capability,
        allowed_materials=allowed,
        delete_form=ConfirmForm(formdata=None),
    ), status


@blueprint.route("/factories/<int:factory_id>/capabilities/new", methods=["GET", "POST"])
@roles_required(Role.FACTORY_OWNER)
def new_capability(factory_id: int):
    factory = load_factory(factory_id, write=True)
    require_owner()
    form = _capability_form()
    if form.is_submitted():
        created = submit(
            form,
            lambda: create_capability(
                db.session(), factory, _capability_details(form, form.process_code.data or "")
            ),
        )
        if created is not None:
            flash(_("Capability added. Now publish its free hours in the calendar."))
            return redirect(url_for("supply.capacity", factory_id=factory.id))
        return _render_capability(factory, form, None, 400)
    return _render_capability(factory, form, None, 200)


@blueprint.route(
    "/factories/<int:factory_id>/capabilities/<int:capability_id>", methods=["GET", "POST"]
)
@roles_required(Role.FACTORY_OWNER)
def edit_capability(factory_id: int, capability_id: int):
    factory = load_factory(factory_id, write=True)
    require_owner()
    capability = capability_of(db.session(), factory, capability_id)
    if capability is None:
        abort(404)
    form = _capability_form(capability, materials_of(db.session(), id_of(capability)))
    del form.process_code  # fixed once created: the calendar is kept under it
    if form.is_submitted():
        saved = submit(
            form,
            lambda: update_capability(
                db.session(), capability, _capability_details(form, capability.process_code)
            ),
        )
        if saved is not None:
            flash(_("Capability saved."))
            return redirect(url_for("supply.factory", factory_id=factory.id))
        return _render_capability(factory, form, capability, 400)
    return _render_capability(factory, form, capability, 200)


@blueprint.post("/factories/<int:factory_id>/capabilities/<int:capability_id>/delete")
@roles_required(Role.FACTORY_OWNER)
def delete_capability_view(factory_id: int, capability_id: int):
    factory = load_factory(factory_id, write=True)
    require_owner()
    capability = capability_of(db.session(), factory, capability_id)
    if capability is None:
        abort(404)
    if not ConfirmForm().validate():
        abort(400)
    today, _now = clock()
    try:
        delete_capability(db.session(), capability, today)
    except FactoryError as error:
        flash(say(error.message), "error")
        return redirect(url_for("supply.factory", factory_id=factory.id)), 303
    flash(_("Capability removed."))
    return redirect(url_for("supply.factory", factory_id=factory.id))


# Capacity calendar ---------------------------------------------------------------------


def _cell_name(resource: str, week: date) -> str:
    return f"max:{resource}:{week.isoformat()}"


def _calendar(
    factory: Factory,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    forms: dict[str, FlaskForm] | None = None,
    status: int = 200,
):
    today, now = clock()
    grid = capacity_grid(db.session(), factory, today, now)
    week_choices = choices((w.isoformat(), week_label(w)) for w in grid.weeks)
    resource_choices = choices((r, labels.process_label(r, locale())) for r in grid.resources)
    forms = forms or {}
    fill = forms.get("fill") or FillForm(formdata=None)
    copy = forms.get("copy") or CopyWeekForm(formdata=None)
    close = forms.get("close") or CloseWeekForm(formdata=None)
    fill.first_week.choices = week_choices
    fill.resources.choices = resource_choices
    copy.source_week.choices = week_choices
    copy.target_weeks.choices = week_choices
    close.week.choices = week_choices
    principal = require_principal()
    return render_template(
        "supply/capacity.html",
        factory=factory,
        grid=grid,
        errors=errors or {},
        values=values or {},
        cell_name=_cell_name,
        week_label=week_label,
        fill_form=fill,
        copy_form=copy,
        close_form=close,
        confirm_form=ConfirmForm(formdata=None),
        can_edit=can_edit_capacity(principal) and principal.acts_for(factory.organization_id),
        days_since_update=days_since_capacity_update(factory, now),
        hours=labels.hours,
        process_label=lambda code: labels.process_label(code, locale()),
    ), status


@blueprint.get("/factories/<int:factory_id>/capacity")
@login_required
@shared_across_organizations(Role.OPERATOR)
def capacity(factory_id: int):
    return _calendar(load_factory(factory_id))


@blueprint.post("/factories/<int:factory_id>/capacity")
@login_required
def save_capacity(factory_id: int):
    """The whole grid (one form) or, from htmx, the one cell that changed."""
    factory = load_factory(factory_id, write=True)
    if not can_edit_capacity(require_principal()):
        abort(403)
    today, now = clock()
    grid = capacity_grid(db.session(), factory, today, now)
    changes, errors, values = [], {}, {}
    for name, value in request.form.items():
        if not name.startswith("max:"):
            continue
        values[name] = value
        try:
            _prefix, resource, iso = name.split(":", 2)
            week = date.fromisoformat(iso)
            maximum = parse_hours(value)
        except ValueError as error:
            errors[name] = say(error)
            continue
        if maximum != grid.cell(resource, week).maximum_hours:
            changes.append(CapacityChange(resource, week, maximum, field=name, week_field=name))
    single = request.headers.get("HX-Request") == "true" and len(values) == 1
    if not errors:
        try:
            if changes:
                set_capacity(db.session(), factory, changes, today, now)
            else:
                factory.capacity_updated_at = now  # "still true": confirms the calendar
                db.session().add(factory)
        except FactoryError as error:
            for field, message in error.problems:
                errors[field if field in values else next(iter(values), field)] = say(message)
    if single:
        name = next(iter(values))
        try:
            _prefix, resource, iso = name.split(":", 2)
            week = date.fromisoformat(iso)
        except ValueError:
            abort(400)
        grid = capacity_grid(db.session(), factory, today, now)
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
    if errors:
        return _calendar(factory, errors=errors, values=values, status=400)
    flash(_("Capacity saved.") if changes else _("Capacity confirmed as up to date."))
    return redirect(url_for("supply.capacity", factory_id=factory.id))


def _week_list(values: list[str]) -> list[date]:
    return [date.fromisoformat(v) for v in values]


@blueprint.post("/factories/<int:factory_id>/capacity/fill")
@login_required
def fill_view(factory_id: int):
    factory = load_factory(factory_id, write=True)
    if not can_edit_capacity(require_principal()):
        abort(403)
    form = FillForm()
    today, now = clock()
    grid = capacity_grid(db.session(), factory, today, now)
    form.first_week.choices = choices((w.isoformat(), week_label(w)) for w in grid.weeks)
    form.resources.choices = choices((r, r) for r in grid.resources)
    if form.validate():
        try:
            fill_capacity(
                db.session(),
                factory,
                Decimal(form.hours.data),
                date.fromisoformat(form.first_week.data),
                form.weeks.data,
                today,
                now,
                resources=form.resources.data or None,
            )
        except FactoryError as error:
            field_errors(form, error)
        else:
            flash(
                _(
                    "%(hours)s h per week for %(weeks)s weeks published.",
                    hours=labels.hours(form.hours.data),
                    weeks=form.weeks.data,
                )
            )
            return redirect(url_for("supply.capacity", factory_id=factory.id))
    return _calendar(factory, forms={"fill": form}, status=400)


@blueprint.post("/factories/<int:factory_id>/capacity/copy")
@login_required
def copy_view(factory_id: int):
    factory = load_factory(factory_id, write=True)
    if not can_edit_capacity(require_principal()):
        abort(403)
    form = CopyWeekForm()
    today, now = clock()
    grid = capacity_grid(db.session(), factory, today, now)
    form.source_week.choices = choices((w.isoformat(), week_label(w)) for w in grid.weeks)
    form.target_weeks.choices = form.source_week.choices
    if form.validate():
        try:
            copy_week(
                db.session(),
                factory,
                date.fromisoformat(form.source_week.data),
                _week_list(form.target_weeks.data or []),
                today,
                now,
            )
        except FactoryError as error:
            field_errors(form, error)
        else:
            flash(_("Week copied."))
            return redirect(url_for("supply.capacity", factory_id=factory.id))
    return _calendar(factory, forms={"copy": form}, status=400)


@blueprint.post("/factories/<int:factory_id>/capacity/close")
@login_required
def close_view(factory_id: int):
    factory = load_factory(factory_id, write=True)
    if not can_edit_capacity(require_principal()):
        abort(403)
    form = CloseWeekForm()
    today, now = clock()
    grid = capacity_grid(db.session(), factory, today, now)
    form.week.choices = choices((w.isoformat(), week_label(w)) for w in grid.weeks)
    if form.validate():
        week = date.fromisoformat(form.week.data)
        try:
            kept = close_week(db.session(), factory, week, today, now)
        except FactoryError as error:
            field_errors(form, error)
        else:
            if kept > 0:
                flash(
                    _(
                        "Week %(week)s closed. %(hours)s h already booked stay booked; "
                        "closing cannot go below them.",
                        week=week_label(week),
                        hours=labels.hours(kept),
                    )
                )
            else:
                flash(_("Week %(week)s closed.", week=week_label(week)))
            return redirect(url_for("supply.capacity", factory_id=factory.id))
    return _calendar(factory, forms={"close": form}, status=400)


# Export and import ---------------------------------------------------------------------


@blueprint.get("/factories/<int:factory_id>/export/<fmt>")
@login_required
@shared_across_organizations(Role.OPERATOR)
def export(factory_id: int, fmt: str):
    factory = load_factory(factory_id)
    if fmt not in EXPORTS:
        abort(404)
    profile = export_profile(db.session(), factory)
    body = (
        profile.model_dump_json(indent=2).encode()
        if fmt == "profile-json"
        else aas_writer.write(profile, fmt)
    )
    mimetype, suffix = EXPORTS[fmt]
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="factory-{factory.id}-{suffix}"'},
    )


def read_profile_file(data: bytes, filename: str = "") -> FactoryProfile:
    """A profile from any of our three formats; FactoryError naming the fault otherwise."""
    fmt = aas_reader.detect_format(data, filename)
    if fmt != "profile-json":
        return aas_reader.read(data, fmt)
    try:
        return FactoryProfile.model_validate_json(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or "file"
        raise FactoryError(field, first["msg"]) from error


@blueprint.post("/factories/<int:factory_id>/import")
@roles_required(Role.FACTORY_OWNER)
@takes_files(1, lambda: MAX_PROFILE_BYTES)
def import_view(factory_id: int):
    factory = load_factory(factory_id, write=True)
    require_owner()
    form = ImportForm()
    if form.validate():
        upload = form.file.data
        today, now = clock()
        try:
            profile = read_profile_file(upload.read(), upload.filename or "")
            import_profile(db.session(), profile, factory.organization_id, today, now, into=factory)
        except FactoryError as error:
            for field, message in error.problems[:10]:
                form.file.errors = [*form.file.errors, f"{field}: {say(message)}"]
        else:
            flash(_("Profile imported."))
            return redirect(url_for("supply.factory", factory_id=factory.id))
    return _factory_page(factory, import_form=form, status=400)


# Operators -----------------------------------------------------------------------------


@blueprint.get("/operator/factories")
@roles_required(Role.OPERATOR)
@shared_across_organizations(Role.OPERATOR)
def operator_factories():
    status = request.args.get("status", FactoryStatus.PENDING)
    if status not in set(FactoryStatus):
        status = ""
    text = request.args.get("q", "")[:200]
    today, now = clock()
    page = factories_for_review(
        db.session(),
        today=today,
        status=status or None,
        text=text,
        page=page_number(request.args.get("page")),
    )
    return render_template(
        "supply/operator_factories.html",
        page=page,
        status=status,
        text=" ".join(text.split()),
        statuses=list(FactoryStatus),
        status_labels=texts.STATUS_LABELS,
        stale={e.factory.id: is_stale(e.factory, now) for e in page.items},
        confirm_form=ConfirmForm(formdata=None),
        suspend_form=SuspendForm(formdata=None),
        page_url=lambda n: url_for(
            "supply.operator_factories",
            **{**request.args.to_dict(), "status": status or "all", "page": n},
        ),
    )


@blueprint.post("/operator/factories/<int:factory_id>/verify")
@roles_required(Role.OPERATOR)
@shared_across_organizations(Role.OPERATOR)
def verify(factory_id: int):
    factory = db.session().get(Factory, factory_id)
    if factory is None:
        abort(404)
    if not ConfirmForm().validate():
        abort(400)
    now = clock()[1]
    verify_factory(db.session(), factory, now)
    flash(_("%(name)s is verified and visible to buyers.", name=factory.name))
    return redirect(url_for("supply.operator_factories", status=FactoryStatus.VERIFIED))


@blueprint.post("/operator/factories/<int:factory_id>/suspend")
@roles_required(Role.OPERATOR)
@shared_across_organizations(Role.OPERATOR)
def suspend(factory_id: int):
    factory = db.session().get(Factory, factory_id)
    if factory is None:
        abort(404)
    form = SuspendForm()
    if not form.validate():
        flash(_("Say why the factory is suspended."), "error")
        return redirect(url_for("supply.operator_factories", status=factory.status)), 303
    try:
        suspend_factory(db.session(), factory, form.reason.data)
    except FactoryError as error:
        flash(say(error.message), "error")
        return redirect(url_for("supply.operator_factories", status=factory.status)), 303
    flash(_("%(name)s is suspended.", name=factory.name))
    return redirect(url_for("supply.operator_factories", status=FactoryStatus.SUSPENDED))


# Buyer search --------------------------------------------------------------------------


@blueprint.get("/search")
@login_required
def search():
    form = SearchForm(request.args)
    current = locale()
    session = db.session()
    form.process_code.choices = [SelectChoice("", _("Any process")), *process_choices(current)]
    form.material.choices = [SelectChoice("", _("Any material")), *material_choices(current)]
    form.certification.choices = [
        SelectChoice("", _("None required")),
        *certification_choices(current),
    ]
    known = choices((region, f"{region} ({country})") for country, region in regions(session))
    form.region.choices = [SelectChoice("", _("Any region")), *known]
    page = None
    status = 200
    searched = bool(request.args)
    if searched and form.validate():
        today, _now = clock()
        try:
            page = search_factories(session, _filters(form), today)
        except FactoryError as error:
            field_errors(form, error, {"process": "process_code"})
            status = 400
    elif searched:
        status = 400
    return render_template(
        "supply/search.html",
        form=form,
        page=page,
        reason_text=lambda reason: texts.reason_text(reason, current),
        process_label=lambda code: labels.process_label(code, current),
        money=labels.money,
        hours=labels.hours,
        page_url=lambda n: url_for("supply.search", **{**request.args.to_dict(), "page": n}),
    ), status


def _filters(form: SearchForm) -> SearchFilters:
    def week(field: Any) -> date | None:
        if not field.data:
            return None
        try:
            return parse_week(field.data)
        except ValueError as error:
            raise FactoryError(field.name, error.args[0] if error.args else str(error)) from error

    return SearchFilters(
        process=form.process_code.data or None,
        material=form.material.data or None,
        certification=form.certification.data or None,
        min_length_mm=form.min_length_mm.data,
        min_width_mm=form.min_width_mm.data,
        min_height_mm=form.min_height_mm.data,
        region=form.region.data or None,
        week_from=week(form.week_from),
        week_to=week(form.week_to),
        min_free_hours=form.min_free_hours.data,
        min_credit=form.min_credit.data,
        near_latitude=form.near_latitude.data,
        near_longitude=form.near_longitude.data,
        page=form.page.data or 1,
        per_page=form.per_page.data or 20,
    )
