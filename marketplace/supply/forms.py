"""Forms of the factory pages. They check types; the services check the rules."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    DecimalField,
    FloatField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from factories.search.filters import MAX_PER_PAGE
from factories.taxonomy import CERTIFICATIONS, MATERIALS, PROCESSES, TOLERANCE_CLASSES


def choices(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def process_choices(locale: str) -> list[SelectChoice]:
    return choices((p.code, p.label(locale)) for p in PROCESSES.values())


def material_choices(locale: str) -> list[SelectChoice]:
    return choices((m.code, m.label(locale)) for m in MATERIALS.values())


def certification_choices(locale: str) -> list[SelectChoice]:
    zh = locale.startswith("zh")
    return choices((c.code, c.zh if zh else c.en) for c in CERTIFICATIONS.values())


# Text fields carry no "required" check here: the services name every missing or wrong
# field in one go, so the form only reports what it cannot even parse.


class FactoryForm(FlaskForm):
    name = StringField(_l("Factory name"))
    country = StringField(_l("Country (ISO code, e.g. DE, CN)"), default="")
    region = StringField(_l("Region"))
    city = StringField(_l("City"))
    latitude = FloatField(_l("Latitude"), validators=[Optional()])
    longitude = FloatField(_l("Longitude"), validators=[Optional()])


class CertificationForm(FlaskForm):
    certificate_type = SelectField(_l("Certification"))
    certificate_version = StringField(_l("Version"))
    registration_number = StringField(_l("Registration number"))
    issuer = StringField(_l("Issued by"))
    valid_from = DateField(_l("Valid from"), validators=[Optional()])
    valid_until = DateField(_l("Valid until"), validators=[Optional()])


class RegistrationForm(FactoryForm):
    """The factory and, optionally, its first certification."""

    certificate_type = SelectField(_l("Certification"), validators=[Optional()])
    certificate_version = StringField(_l("Version"))
    registration_number = StringField(_l("Registration number"))
    issuer = StringField(_l("Issued by"))
    valid_from = DateField(_l("Valid from"), validators=[Optional()])
    valid_until = DateField(_l("Valid until"), validators=[Optional()])


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CapabilityForm(FlaskForm):
    process_code = SelectField(_l("Process"))
    materials = MultiCheckboxField(_l("Materials"))
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


class FillForm(FlaskForm):
    hours = DecimalField(_l("Hours per week"), validators=[InputRequired()], places=None)
    first_week = SelectField(_l("From week"), validators=[DataRequired()])
    weeks = IntegerField(
        _l("Number of weeks"), validators=[InputRequired(), NumberRange(min=1)], default=8
    )
    resources = MultiCheckboxField(_l("Processes (none ticked: all)"))


class CopyWeekForm(FlaskForm):
    source_week = SelectField(_l("Copy week"), validators=[DataRequired()])
    target_weeks = MultiCheckboxField(_l("To weeks"))


class CloseWeekForm(FlaskForm):
    week = SelectField(_l("Week"), validators=[DataRequired()])


class ImportForm(FlaskForm):
    file = FileField(_l("Profile or AAS file (JSON or XML)"), validators=[FileRequired()])


class SuspendForm(FlaskForm):
    reason = TextAreaField(_l("Reason, shown to the factory"), validators=[DataRequired()])


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


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
