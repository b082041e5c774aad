"""The matching form on the order page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField
from wtforms.validators import Optional


class MatchForm(FlaskForm):
    time_limit_s = DecimalField(
        _l("Time limit (seconds)"), places=1, default=5, validators=[Optional()]
    )
