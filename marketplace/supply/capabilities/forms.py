"""The form of a capability: process, materials, part envelope, tolerance, batch, rate."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, IntegerField, SelectField, StringField
from wtforms.validators import Optional

from factories.capability import CapabilityDetails, minor_units
from factories.taxonomy import TOLERANCE_CLASSES
from marketplace.supply.forms import choices
from marketplace.web.forms import CheckboxesField
from marketplace.web.messages import say

# Fields carry no "required" check here: the service names every missing or wrong field
# in one go, so the form only reports what it cannot even parse.


class CapabilityForm(FlaskForm):
    process_code = SelectField(_l("Process"))
    materials = CheckboxesField(_l("Materials"))
    tolerance_class = SelectField(
        _l("General tolerance"), choices=choices((t, t) for t in TOLERANCE_CLASSES)
    )
    max_length_mm = IntegerField(_l("Maximum part length (mm)"), validators=[Optional()])
    max_width_mm = IntegerField(_l("Maximum part width (mm)"), validators=[Optional()])
    max_height_mm = IntegerField(_l("Maximum part height (mm)"), validators=[Optional()])
    batch_min = IntegerField(_l("Smallest batch"), validators=[Optional()], default=1)
    batch_max = IntegerField(_l("Largest batch"), validators=[Optional()], default=10000)
    hourly_rate = DecimalField(_l("Hourly rate"), validators=[Optional()], places=None)
    currency = StringField(_l("Currency (ISO code)"), default="EUR")


def capability_details(form: CapabilityForm, process_code: str) -> CapabilityDetails:
    """The capability the form describes. A rate the currency cannot hold goes under the
    rate field, next to whatever the service finds wrong with the rest."""
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
