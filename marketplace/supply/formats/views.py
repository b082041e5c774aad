"""Pages that download a factory in the standard formats and import a file into it (both
offered on the factory page)."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from factories.errors import InputError
from factories.profile.reader import import_profile
from factories.profile.schema import MAX_PROFILE_BYTES
from factories.profile.writer import export_profile
from marketplace import db
from marketplace.accounts.access import login_required, roles_required, shared_across_organizations
from marketplace.accounts.models import Role
from marketplace.security.limits import takes_files
from marketplace.supply.access import load_factory, require_profile_editor
from marketplace.supply.blueprints import pages
from marketplace.supply.clock import today_and_now
from marketplace.supply.formats.files import EXPORTS, profile_file, read_profile_file
from marketplace.supply.formats.forms import ImportForm
from marketplace.supply.registration.views import factory_page
from marketplace.web.messages import say

# A file can be wrong in many places; the page names the first few.
SHOWN_PROBLEMS = 10


@pages.get("/factories/<int:factory_id>/export/<fmt>")
@login_required
@shared_across_organizations(Role.OPERATOR)
def export(factory_id: int, fmt: str) -> ResponseReturnValue:
    factory = load_factory(factory_id)
    if fmt not in EXPORTS:
        abort(404)
    body = profile_file(export_profile(db.session(), factory), fmt)
    mimetype, suffix = EXPORTS[fmt]
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="factory-{factory.id}-{suffix}"'},
    )


@pages.post("/factories/<int:factory_id>/import")
@roles_required(Role.FACTORY_OWNER)
@takes_files(1, lambda: MAX_PROFILE_BYTES)
def import_view(factory_id: int) -> ResponseReturnValue:
    factory = load_factory(factory_id, write=True)
    require_profile_editor()
    form = ImportForm()
    if form.validate():
        upload = form.file.data
        today, now = today_and_now()
        try:
            profile = read_profile_file(upload.read(), upload.filename or "")
            import_profile(db.session(), profile, factory.organization_id, today, now, into=factory)
        except InputError as error:
            # Every problem goes under the one file field, naming the place in the file.
            db.discard_changes()
            for field, message in error.problems[:SHOWN_PROBLEMS]:
                form.file.errors = [*form.file.errors, f"{field}: {say(message)}"]
        else:
            flash(_("Profile imported."))
            return redirect(url_for("supply.factory", factory_id=factory.id))
    return factory_page(factory, import_form=form, status=400)
