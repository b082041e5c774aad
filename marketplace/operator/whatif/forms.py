"""The what-if form: a factory (id or URN) or a region, and the weeks offline. Running
it reads only (GET); applying it is a POST with the same fields."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional


class WhatIfForm(FlaskForm):
    class Meta:
        csrf = False  # a question, not a change: sent by GET

    factory = StringField(_l("Factory (id or URN)"), validators=[Optional(), Length(max=120)])
    region = SelectField(_l("or a whole region"), choices=[], validate_choice=False)
    from_week = StringField(_l("First week offline"), validators=[Optional(), Length(max=20)])
    to_week = StringField(_l("Last week offline"), validators=[Optional(), Length(max=20)])


class ApplyForm(FlaskForm):
    """The same outage, applied (with the CSRF token)."""

    factory = StringField(validators=[Optional(), Length(max=120)])
    region = StringField(validators=[Optional(), Length(max=80)])
    from_week = StringField(validators=[Optional(), Length(max=20)])
    to_week = StringField(validators=[Optional(), Length(max=20)])
