"""A factory's machines page: the machines, their state and when they last spoke; its
people with the `capacity:write` right register and remove them."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from factories.capacity.calendar import factory_resources
from factories.models import Factory, id_of
from factories.telemetry.machines import MachineDetails, machines_of
from factories.telemetry.messages import topic_for
from marketplace import db
from marketplace.accounts.access import (
    login_required,
    require_principal,
    shared_across_organizations,
)
from marketplace.accounts.models import Role
from marketplace.supply.access import can_edit_capacity, load_factory, require_capacity_editor
from marketplace.supply.clock import today_and_now
from marketplace.supply.forms import choices
from marketplace.telemetry.access import load_machine
from marketplace.telemetry.blueprints import pages
from marketplace.telemetry.forms import MachineForm
from marketplace.telemetry.presenters import machine_out
from marketplace.telemetry.service import add_machine, delete_machine
from marketplace.web import labels
from marketplace.web.forms import ActionForm, perform, require_valid, submit
from marketplace.web.labels import current_locale


def _form(factory: Factory) -> MachineForm:
    form = MachineForm()
    form.process_code.choices = choices(
        (code, labels.process_label(code, current_locale()))
        for code in factory_resources(db.session(), id_of(factory))
    )
    return form


def _page(factory: Factory, form: MachineForm, status: int = 200) -> ResponseReturnValue:
    _today, now = today_and_now()
    principal = require_principal()
    machines = machines_of(db.session(), id_of(factory))
    return render_template(
        "telemetry/machines.html",
        factory=factory,
        machines=[(m, machine_out(factory, m, now)) for m in machines],
        form=form,
        delete_form=ActionForm(formdata=None),
        can_edit=can_edit_capacity(principal) and principal.acts_for(factory.organization_id),
        topic_example=topic_for(factory.global_id, "M-07"),
        process_label=lambda code: labels.process_label(code, current_locale()),
        hours=labels.hours,
        machine_state_label=labels.state_label,
    ), status


@pages.get("/factories/<int:factory_id>/machines")
@login_required
@shared_across_organizations(Role.OPERATOR)
def machines(factory_id: int) -> ResponseReturnValue:
    factory = load_factory(factory_id)
    return _page(factory, _form(factory))


@pages.post("/factories/<int:factory_id>/machines")
@login_required
def add_machine_view(factory_id: int) -> ResponseReturnValue:
    factory = load_factory(factory_id, write=True)
    require_capacity_editor()
    form = _form(factory)
    today, now = today_and_now()
    details = MachineDetails(
        form.machine_id.data or "",
        form.process_code.data or "",
        form.nominal_hours.data,
        form.opcua_endpoint.data or "",
        form.opcua_state_node.data or "",
        form.opcua_hours_node.data or "",
    )
    machine = submit(form, lambda: add_machine(db.session(), factory, details, today, now))
    if machine is None:
        return _page(factory, form, 400)
    flash(
        _(
            "Machine %(id)s registered; its process's hours now come from its machines.",
            id=machine.machine_id,
        )
    )
    return redirect(url_for("telemetry.machines", factory_id=factory.id), code=303)


@pages.post("/factories/<int:factory_id>/machines/<int:machine_id>/delete")
@login_required
def delete_machine_view(factory_id: int, machine_id: int) -> ResponseReturnValue:
    factory = load_factory(factory_id, write=True)
    require_capacity_editor()
    machine = load_machine(factory, machine_id)
    require_valid(ActionForm())
    today, now = today_and_now()
    perform(
        lambda: delete_machine(db.session(), factory, machine, today, now),
        _("Machine %(id)s removed.", id=machine.machine_id),
    )
    return redirect(url_for("telemetry.machines", factory_id=factory.id), code=303)
