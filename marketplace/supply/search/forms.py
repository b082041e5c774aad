"""The buyers' search form: a GET form, so that a search is a link one can keep."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, Field, FloatField, IntegerField, SelectField, StringField
from wtforms.validators import NumberRange, Optional

from factories.capacity.weeks import parse_week
from factories.errors import FactoryError
from factories.search.filters import MAX_PER_PAGE, SearchFilters

# The service's names of the form's fields, where they differ.
SEARCH_NAMES = {"process": "process_code"}


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form: bookmarkable, nothing changes

    # Named `process` in the URL; the attribute cannot be, as Form.process is a method.
    process_code = SelectField(_l("Process"), validators=[Optional()], name="process")
    material = SelectField(_l("Material"), validators=[Optional()])
    certification = SelectField(_l("Valid certification"), validators=[Optional()])
    min_length_mm = IntegerField(_l("Part length (mm)"), validators=[Optional(), NumberRange(1)])
    min_width_mm = IntegerField(_l("Part width (mm)"), validators=[Optional(), NumberRange(1)])
    min_height_mm = IntegerField(_l("Part height (mm)"), validators=[Optional(), NumberRange(1)])
    region = SelectField(_l("Region"), validators=[Optional()])
    week_from = StringField(_l("From week (e.g. 2026-W48)"), validators=[Optional()])
    week_to = StringField(_l("To week"), validators=[Optional()])
    min_free_hours = DecimalField(
        _l("At least free hours"), validators=[Optional(), NumberRange(0)], places=None
    )
    min_credit = FloatField(_l("Minimum credit (0–1)"), validators=[Optional(), NumberRange(0, 1)])
    near_latitude = FloatField(_l("Your latitude"), validators=[Optional(), NumberRange(-90, 90)])
    near_longitude = FloatField(
        _l("Your longitude"), validators=[Optional(), NumberRange(-180, 180)]
    )
    page = IntegerField(validators=[Optional(), NumberRange(1)], default=1)
    per_page = IntegerField(validators=[Optional(), NumberRange(1, MAX_PER_PAGE)], default=20)


def _week(field: Field) -> date | None:
    if not field.data:
        return None
    try:
        return parse_week(field.data)
    except ValueError as error:
        raise FactoryError(field.name, error.args[0] if error.args else str(error)) from error


def search_filters(form: SearchForm) -> SearchFilters:
    """The filters the form asks for; a FactoryError naming a week that does not parse."""
    return SearchFilters(
        process=form.process_code.data or None,
        material=form.material.data or None,
        certification=form.certification.data or None,
        min_length_mm=form.min_length_mm.data,
        min_width_mm=form.min_width_mm.data,
        min_height_mm=form.min_height_mm.data,
        region=form.region.data or None,
        week_from=_week(form.week_from),
        week_to=_week(form.week_to),
        min_free_hours=form.min_free_hours.data,
        min_credit=form.min_credit.data,
        near_latitude=form.near_latitude.data,
        near_longitude=form.near_longitude.data,
        page=form.page.data or 1,
        per_page=form.per_page.data or 20,
    )
