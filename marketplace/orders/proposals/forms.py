"""A factory's answer to a proposal."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional


class DeclineForm(FlaskForm):
    note = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=500)])
