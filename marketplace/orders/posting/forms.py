"""The order form. The service validates again; the form only parses."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.i18n import translations as wtforms_translations
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FieldList,
    FloatField,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from factories.taxonomy import CERTIFICATIONS, MATERIALS, PROCESSES, TOLERANCE_CLASSES
from marketplace.web.forms import CheckboxesField, CountryField
from marketplace.web.places import locate, show_problems

MAX_FORM_LINES = 20


class LineForm(Form):
    class Meta:
        def get_translations(self, form):
            # A plain Form: without this its built-in messages stay English on every page.
            return wtforms_translations

    process_code = SelectField(_l("Process"), validators=[DataRequired()])
    material = SelectField(_l("Material"), validators=[DataRequired()])
    quantity = IntegerField(_l("Quantity"), validators=[InputRequired(), NumberRange(min=1)])
    hours = DecimalField(_l("Hours (whole line)"), places=2, validators=[Optional()])
    hours_per_part = DecimalField(_l("or hours per part"), places=4, validators=[Optional()])
    length_mm = IntegerField(_l("Length (mm)"), default=1, validators=[InputRequired()])
    width_mm = IntegerField(_l("Width (mm)"), default=1, validators=[InputRequired()])
    height_mm = IntegerField(_l("Height (mm)"), default=1, validators=[InputRequired()])
    tolerance_class = SelectField(_l("Tolerance"), default="ISO 2768-m")
    certifications_required = CheckboxesField(_l("Certifications required"))
    splittable = BooleanField(_l("May be split across factories"))

    def fill_choices(self, locale: str) -> None:
        self.process_code.choices = [
            SelectChoice(p.code, p.label(locale)) for p in PROCESSES.values()
        ]
        self.material.choices = [SelectChoice(m.code, m.label(locale)) for m in MATERIALS.values()]
        self.tolerance_class.choices = [SelectChoice(t, t) for t in TOLERANCE_CLASSES]
        self.certifications_required.choices = [
            SelectChoice(c.code, c.zh if locale.startswith("zh") else c.en)
            for c in CERTIFICATIONS.values()
        ]


class OrderForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    due_date = DateField(_l("Due date"), validators=[InputRequired()])
    delivery_country = CountryField(_l("Delivery country"), validators=[DataRequired()])
    delivery_city = StringField(_l("Delivery city"), validators=[Optional(), Length(max=120)])
    # Optional here: a city chosen fills them (`locate`), else its check names them.
    delivery_latitude = FloatField(_l("Latitude"), validators=[Optional()])
    delivery_longitude = FloatField(_l("Longitude"), validators=[Optional()])
    budget = DecimalField(_l("Budget"), places=2, validators=[Optional(), NumberRange(min=0)])
    # The currencies factories quote in (the page fills them); the service names any other.
    currency = SelectField(_l("Currency"), default="EUR", choices=[], validate_choice=False)
    min_credit = DecimalField(
        _l("Minimum credit score (0 to 1)"), places=2, default=0, validators=[Optional()]
    )
    lines = FieldList(FormField(LineForm), min_entries=1, max_entries=MAX_FORM_LINES)
    add_line = SubmitField(_l("Add a line"))
    save_draft = SubmitField(_l("Save as draft"))
    post = SubmitField(_l("Post order"))

    def fill_choices(self, locale: str) -> None:
        for entry in self.lines:
            entry.form.fill_choices(locale)

    def validate(self, extra_validators: Any = None) -> bool:
        # The city fills the country and coordinates left empty, before they are checked.
        problems = locate(
            self.delivery_city,
            self.delivery_country,
            self.delivery_latitude,
            self.delivery_longitude,
        )
        valid = super().validate(extra_validators)
        show_problems(problems)
        return valid and not problems
