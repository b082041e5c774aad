"""The form that adds a certification to a factory."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Optional

from factories.models import Certification, text_limit
from factories.onboarding import CertificationDetails

# The names of a certification's fields, in the forms and in the services alike.
CERTIFICATION_FIELDS = (
    "certificate_type",
    "certificate_version",
    "registration_number",
    "issuer",
    "valid_from",
    "valid_until",
)


def limit(name: str) -> dict[str, int]:
    """The input's maxlength: what the certification's column holds."""
    return {"maxlength": text_limit(Certification, name)}


# Text fields carry no "required" check here: the services name every missing or wrong
# field in one go, so the form only reports what it cannot even parse.


class CertificationForm(FlaskForm):
    certificate_type = SelectField(_l("Certification"))
    certificate_version = StringField(_l("Version"), render_kw=limit("certificate_version"))
    registration_number = StringField(
        _l("Registration number"), render_kw=limit("registration_number")
    )
    issuer = StringField(_l("Issued by"), render_kw=limit("issuer"))
    valid_from = DateField(_l("Valid from"), validators=[Optional()])
    valid_until = DateField(_l("Valid until"), validators=[Optional()])


def certification_details(form: Any) -> CertificationDetails:
    """The certification a form describes: this room's form, or the registration form
    that carries a factory's first certification under the same field names."""
    return CertificationDetails(
        certificate_type=form.certificate_type.data or "",
        certificate_version=form.certificate_version.data or "",
        registration_number=form.registration_number.data or "",
        issuer=form.issuer.data or "",
        valid_from=form.valid_from.data,
        valid_until=form.valid_until.data,
    )
