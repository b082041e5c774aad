"""Pages that add and remove a factory's certifications (listed on the factory page)."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from factories.models import id_of
from factories.onboarding import add_certification, remove_certification
from marketplace import db
from marketplace.accounts.access import roles_required
from marketplace.accounts.models import Role
from marketplace.supply.access import load_certification, load_factory, require_profile_editor
from marketplace.supply.blueprints import pages
from marketplace.supply.certifications.forms import CertificationForm, certification_details
from marketplace.supply.forms import certification_choices
from marketplace.supply.registration.views import factory_page
from marketplace.web.forms import ActionForm, require_valid, submit
from marketplace.web.labels import current_locale


@pages.post("/factories/<int:factory_id>/certifications")
@roles_required(Role.FACTORY_OWNER)
def add_certification_view(factory_id: int) -> ResponseReturnValue:
    factory = load_factory(factory_id, write=True)
    require_profile_editor()
    form = CertificationForm()
    form.certificate_type.choices = certification_choices(current_locale())
    if submit(form, lambda: add_certification(db.session(), factory, certification_details(form))):
        flash(_("Certification added."))
        return redirect(url_for("supply.factory", factory_id=factory.id))
    return factory_page(factory, certification_form=form, status=400)


@pages.post("/factories/<int:factory_id>/certifications/<int:certification_id>/delete")
@roles_required(Role.FACTORY_OWNER)
def delete_certification_view(factory_id: int, certification_id: int) -> ResponseReturnValue:
    factory = load_factory(factory_id, write=True)
    require_profile_editor()
    require_valid(ActionForm())
    certification = load_certification(factory, certification_id)
    remove_certification(db.session(), factory, id_of(certification))
    flash(_("Certification removed."))
    return redirect(url_for("supply.factory", factory_id=factory.id))
