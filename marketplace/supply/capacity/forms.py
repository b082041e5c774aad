"""The calendar's bulk actions: fill weeks, copy a week, close a week. (The grid itself is
one plain form of `max:<resource>:<monday>` inputs, read in `views.py`.)"""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, NumberRange

from factories.capacity.weeks import week_label
from marketplace.supply.forms import choices
from marketplace.web.forms import CheckboxesField


class FillForm(FlaskForm):
    hours = DecimalField(_l("Hours per week"), validators=[InputRequired()], places=None)
    first_week = SelectField(_l("From week"), validators=[DataRequired()])
    weeks = IntegerField(
        _l("Number of weeks"), validators=[InputRequired(), NumberRange(min=1)], default=8
    )
    resources = CheckboxesField(_l("Processes (none ticked: all)"))


class CopyWeekForm(FlaskForm):
    source_week = SelectField(_l("Copy week"), validators=[DataRequired()])
    target_weeks = CheckboxesField(_l("To weeks"))


class CloseWeekForm(FlaskForm):
    week = SelectField(_l("Week"), validators=[DataRequired()])


def week_choices(weeks: list[date]) -> list[SelectChoice]:
    """The calendar's weeks, by their Monday, labelled `2026-W48`."""
    return choices((w.isoformat(), week_label(w)) for w in weeks)
