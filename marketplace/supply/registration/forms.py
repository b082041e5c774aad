"""The forms that register a factory and change its details."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, FloatField, SelectField, StringField
from wtforms.validators import Optional

from factories.models import Factory, text_limit
from factories.onboarding import FactoryDetails
from marketplace.supply.certifications.forms import CERTIFICATION_FIELDS, limit
from marketplace.web.forms import CountryField
from marketplace.web.places import locate, show_problems

# Text fields carry no "required" check here: the services name every missing or wrong
# field in one go, so the form only reports what it cannot even parse.


class FactoryForm(FlaskForm):
    name = StringField(_l("Factory name"), render_kw={"maxlength": text_limit(Factory, "name")})
    country = CountryField(_l("Country"), default="")
    region = StringField(_l("Region"), render_kw={"maxlength": text_limit(Factory, "region")})
    city = StringField(_l("City"), render_kw={"maxlength": text_limit(Factory, "city")})
    latitude = FloatField(_l("Latitude"), validators=[Optional()])
    longitude = FloatField(_l("Longitude"), validators=[Optional()])

    def validate(self, extra_validators: Any = None) -> bool:
        # The city fills the country and coordinates left empty, before they are checked.
        problems = locate(self.city, self.country, self.latitude, self.longitude)
        valid = super().validate(extra_validators)
        show_problems(problems)
        return valid and not problems


class RegistrationForm(FactoryForm):
    """The factory and, optionally, its first certification."""

    certificate_type = SelectField(_l("Certification"), validators=[Optional()])
    certificate_version = StringField(_l("Version"), render_kw=limit("certificate_version"))
    registration_number = StringField(
        _l("Registration number"), render_kw=limit("registration_number")
    )
    issuer = StringField(_l("Issued by"), render_kw=limit("issuer"))
    valid_from = DateField(_l("Valid from"), validators=[Optional()])
    valid_until = DateField(_l("Valid until"), validators=[Optional()])


# The service names the problems of the first certification `certifications[0].issuer`;
# the registration form has those fields at its top level.
FIRST_CERTIFICATION_NAMES = {f"certifications[0].{name}": name for name in CERTIFICATION_FIELDS}


def factory_details(form: FactoryForm) -> FactoryDetails:
    return FactoryDetails(
        name=form.name.data or "",
        country=form.country.data or "",
        region=form.region.data or "",
        city=form.city.data or "",
        latitude=form.latitude.data,
        longitude=form.longitude.data,
    )
