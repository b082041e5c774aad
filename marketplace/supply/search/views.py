"""The buyers' search page: verified factories that fit, best first, with the reasons."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from factories.errors import InputError
from factories.search.service import regions, search_factories
from marketplace import db
from marketplace.accounts.access import roles_required
from marketplace.supply import texts
from marketplace.supply.access import SEARCHERS
from marketplace.supply.blueprints import pages
from marketplace.supply.clock import today_and_now
from marketplace.supply.forms import (
    certification_choices,
    choices,
    material_choices,
    process_choices,
)
from marketplace.supply.search.forms import SEARCH_NAMES, SearchForm, search_filters
from marketplace.web import labels
from marketplace.web.forms import field_errors
from marketplace.web.labels import current_locale


def _search_form() -> SearchForm:
    """The form of the request's query, every choice led by "any"."""
    form = SearchForm(request.args)
    locale = current_locale()
    form.process_code.choices = [SelectChoice("", _("Any process")), *process_choices(locale)]
    form.material.choices = [SelectChoice("", _("Any material")), *material_choices(locale)]
    form.certification.choices = [
        SelectChoice("", _("None required")),
        *certification_choices(locale),
    ]
    known = choices((region, f"{region} ({country})") for country, region in regions(db.session()))
    form.region.choices = [SelectChoice("", _("Any region")), *known]
    return form


@pages.get("/search")
# Rates, credit and free hours of every shop: for buyers and operators, never for a
# competing factory or its machine clients (docs/api.md, what is public of a factory).
@roles_required(*SEARCHERS)
def search() -> ResponseReturnValue:
    form = _search_form()
    locale = current_locale()
    page = None
    status = 200
    searched = bool(request.args)
    if searched and form.validate():
        try:
            page = search_factories(db.session(), search_filters(form), today_and_now()[0])
        except InputError as error:
            field_errors(form, error, SEARCH_NAMES)
            status = 400
    elif searched:
        status = 400
    return render_template(
        "supply/search.html",
        form=form,
        page=page,
        reason_text=lambda reason: texts.reason_text(reason, locale),
        process_label=lambda code: labels.process_label(code, locale),
        money=labels.money,
        hours=labels.hours,
        page_url=lambda n: url_for("supply.search", **{**request.args.to_dict(), "page": n}),
    ), status
