"""Pages that add, change and remove a factory's capabilities."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from factories.capability import (
    create_capability,
    delete_capability,
    materials_of,
    update_capability,
)
from factories.models import Capability, Factory, id_of
from factories.taxonomy import PROCESSES, materials_for
from marketplace import db
from marketplace.accounts.access import roles_required
from marketplace.accounts.models import Role
from marketplace.supply.access import load_capability, load_factory, require_profile_editor
from marketplace.supply.blueprints import pages
from marketplace.supply.capabilities.forms import CapabilityForm, capability_details
from marketplace.supply.clock import today_and_now
from marketplace.supply.forms import material_choices, process_choices
from marketplace.supply.presenters import hourly_rate
from marketplace.web.forms import ActionForm, perform, require_valid, submit
from marketplace.web.labels import current_locale

# Work booked on the capability keeps it: that is about the capability as a whole, and
# the message says so in a sentence, without a field name in front.
WHOLE_STEP = {"capability": ""}


def _form(
    capability: Capability | None = None, materials: list[str] | None = None
) -> CapabilityForm:
    """The form with the taxonomy's choices; for an existing capability, filled with it
    (unless the request submitted the form)."""
    form = CapabilityForm(obj=capability) if capability is not None else CapabilityForm()
    form.process_code.choices = process_choices(current_locale())
    form.materials.choices = material_choices(current_locale())
    if capability is not None and not form.is_submitted():
        form.materials.data = materials or []
        form.hourly_rate.data = hourly_rate(capability)
    return form


def _render(
    factory: Factory, form: CapabilityForm, capability: Capability | None, status: int
) -> ResponseReturnValue:
    # The page narrows the materials to those the chosen process can work.
    allowed = {code: [m.code for m in materials_for(code)] for code in PROCESSES}
    return render_template(
        "supply/capability_form.html",
        factory=factory,
        form=form,
        capability=capability,
        allowed_materials=allowed,
        delete_form=ActionForm(formdata=None),
    ), status


@pages.route("/factories/<int:factory_id>/capabilities/new", methods=["GET", "POST"])
@roles_required(Role.FACTORY_OWNER)
def new_capability(factory_id: int) -> ResponseReturnValue:
    factory = load_factory(factory_id, write=True)
    require_profile_editor()
    form = _form()
    if not form.is_submitted():
        return _render(factory, form, None, 200)
    created = submit(
        form,
        lambda: create_capability(
            db.session(), factory, capability_details(form, form.process_code.data or "")
        ),
    )
    if created is None:
        return _render(factory, form, None, 400)
    flash(_("Capability added. Now publish its free hours in the calendar."))
    return redirect(url_for("supply.capacity", factory_id=factory.id))


@pages.route(
    "/factories/<int:factory_id>/capabilities/<int:capability_id>", methods=["GET", "POST"]
)
@roles_required(Role.FACTORY_OWNER)
def edit_capability(factory_id: int, capability_id: int) -> ResponseReturnValue:
    factory = load_factory(factory_id, write=True)
    require_profile_editor()
    capability = load_capability(factory, capability_id)
    form = _form(capability, materials_of(db.session(), id_of(capability)))
    del form.process_code  # fixed once created: the calendar is kept under it
    if not form.is_submitted():
        return _render(factory, form, capability, 200)
    saved = submit(
        form,
        lambda: update_capability(
            db.session(), capability, capability_details(form, capability.process_code)
        ),
    )
    if saved is None:
        return _render(factory, form, capability, 400)
    flash(_("Capability saved."))
    return redirect(url_for("supply.factory", factory_id=factory.id))


@pages.post("/factories/<int:factory_id>/capabilities/<int:capability_id>/delete")
@roles_required(Role.FACTORY_OWNER)
def delete_capability_view(factory_id: int, capability_id: int) -> ResponseReturnValue:
    factory = load_factory(factory_id, write=True)
    require_profile_editor()
    capability = load_capability(factory, capability_id)
    require_valid(ActionForm())
    today, _now = today_and_now()
    perform(
        lambda: delete_capability(db.session(), capability, today),
        _("Capability removed."),
        WHOLE_STEP,
    )
    return redirect(url_for("supply.factory", factory_id=factory.id), code=303)
