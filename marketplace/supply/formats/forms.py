"""The form that imports a profile or AAS file into a factory."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired


class ImportForm(FlaskForm):
    file = FileField(_l("Profile or AAS file (JSON or XML)"), validators=[FileRequired()])
