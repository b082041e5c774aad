"""The form with which an operator suspends a factory."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired

from factories.models import Factory, text_limit


class SuspendForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason, shown to the factory"),
        validators=[DataRequired()],
        render_kw={"maxlength": text_limit(Factory, "status_reason")},
    )
