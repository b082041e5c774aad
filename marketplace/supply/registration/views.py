"""Pages of a factory itself: registering it (onboarding), its page, its details.

The factory page gathers every room's part of a factory (certifications, capabilities,
standard formats, the operator's buttons); the rooms whose forms post there show it
again, with their form's messages, through `factory_page`.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from factories.capability import capabilities_of
from factories.models import Factory, id_of
from factories.onboarding import factories_of, register_factory, update_factory
from marketplace import db
from marketplace.accounts.access import (
    login_required,
    require_principal,
    roles_required,
    shared_across_organizations,
)
from marketplace.accounts.models import Role
from marketplace.supply import texts
from marketplace.supply.access import can_edit_profile, load_factory, require_profile_editor
from marketplace.supply.blueprints import pages
from marketplace.supply.certifications.forms import CertificationForm, certification_details
from marketplace.supply.clock import today_and_now
from marketplace.supply.formats.files import EXPORTS
from marketplace.supply.formats.forms import ImportForm
from marketplace.supply.forms import certification_choices
from marketplace.supply.presenters import capacity_freshness, certification_states
from marketplace.supply.registration.forms import (
    FIRST_CERTIFICATION_NAMES,
    FactoryForm,
    RegistrationForm,
    factory_details,
)
from marketplace.supply.verification.forms import SuspendForm
from marketplace.web import labels
from marketplace.web.forms import ActionForm, submit
from marketplace.web.labels import current_locale


@pages.route("/onboarding", methods=["GET", "POST"])
@login_required
def onboarding() -> ResponseReturnValue:
    """Where a factory owner lands after signing up: register the factory, then see it."""
    principal = require_principal()
    if not principal.is_factory:
        abort(403)
    session = db.session()
    factories = factories_of(session, principal.organization_id)
    form = RegistrationForm()
    form.certificate_type.choices = [
        SelectChoice("", _("None yet")),
        *certification_choices(current_locale()),
    ]
    status = 200
    if form.is_submitted():
        require_profile_editor()
        factory = submit(
            form, lambda: _register(form, principal.organization_id), FIRST_CERTIFICATION_NAMES
        )
        if factory is not None:
            flash(_("Your factory is registered. An operator will verify it soon."))
            return redirect(url_for("supply.factory", factory_id=factory.id))
        status = 400
    now = today_and_now()[1]
    return render_template(
        "supply/onboarding.html",
        form=form,
        factories=factories,
        show_form=not factories or request.args.get("new") or form.is_submitted(),
        can_edit=can_edit_profile(principal),
        stale={f.id: capacity_freshness(f, now).stale for f in factories},
        status_labels=texts.STATUS_LABELS,
    ), status


def _register(form: RegistrationForm, organization_id: int) -> Factory:
    certifications = [certification_details(form)] if form.certificate_type.data else []
    return register_factory(db.session(), organization_id, factory_details(form), certifications)


@pages.get("/factories/<int:factory_id>")
@login_required
@shared_across_organizations(Role.OPERATOR)
def factory(factory_id: int) -> ResponseReturnValue:
    return factory_page(load_factory(factory_id))


def factory_page(
    factory: Factory,
    certification_form: CertificationForm | None = None,
    import_form: ImportForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """The factory page; a form that failed shows again with its messages (status 400)."""
    session = db.session()
    principal = require_principal()
    today, now = today_and_now()
    if certification_form is None:
        certification_form = CertificationForm(formdata=None)
    certification_form.certificate_type.choices = certification_choices(current_locale())
    freshness = capacity_freshness(factory, now)
    return render_template(
        "supply/factory.html",
        factory=factory,
        certifications=certification_states(session, id_of(factory), today),
        capabilities=capabilities_of(session, id_of(factory)),
        certification_form=certification_form,
        import_form=import_form or ImportForm(formdata=None),
        confirm_form=ActionForm(formdata=None),
        suspend_form=SuspendForm(formdata=None),
        can_edit=can_edit_profile(principal) and principal.acts_for(factory.organization_id),
        is_operator=principal.is_operator,
        stale=freshness.stale,
        days_since_update=freshness.days_since_update,
        status_labels=texts.STATUS_LABELS,
        money=labels.money,
        exports=list(EXPORTS),
    ), status


@pages.route("/factories/<int:factory_id>/edit", methods=["GET", "POST"])
@roles_required(Role.FACTORY_OWNER)
def edit_factory(factory_id: int) -> ResponseReturnValue:
    factory = load_factory(factory_id, write=True)
    require_profile_editor()
    form = FactoryForm(obj=factory)
    if form.is_submitted():
        if submit(form, lambda: update_factory(db.session(), factory, factory_details(form))):
            flash(_("Factory details saved."))
            return redirect(url_for("supply.factory", factory_id=factory.id))
        return render_template("supply/factory_form.html", form=form, factory=factory), 400
    return render_template("supply/factory_form.html", form=form, factory=factory)
