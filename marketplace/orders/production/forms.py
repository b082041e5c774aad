"""Forms of production: milestones with their documents, disputes, ratings."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, MultipleFileField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from marketplace.orders.models import MilestoneKind


class MilestoneForm(FlaskForm):
    kind = SelectField(
        _l("Milestone"),
        choices=[
            SelectChoice(MilestoneKind.STARTED.value, _l("Production started")),
            SelectChoice(MilestoneKind.QA_PASSED.value, _l("Quality check passed")),
            SelectChoice(MilestoneKind.SHIPPED.value, _l("Shipped")),
        ],
    )
    factory_id = HiddenField()
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])
    carrier = StringField(_l("Carrier"), validators=[Optional(), Length(max=80)])
    tracking_number = StringField(_l("Tracking number"), validators=[Optional(), Length(max=120)])
    documents = MultipleFileField(_l("Documents (QA report: PDF, PNG, JPEG, text, CSV)"))


class DisputeForm(FlaskForm):
    reason = TextAreaField(_l("What went wrong?"), validators=[DataRequired(), Length(max=4000)])
    evidence = MultipleFileField(_l("Evidence (PDF, PNG, JPEG, text, CSV)"))


class RatingForm(FlaskForm):
    factory_id = HiddenField()
    score = SelectField(
        _l("Score"), choices=[SelectChoice(str(n), str(n)) for n in (5, 4, 3, 2, 1)], default="5"
    )
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=2000)])
