"""What the forms of the supply rooms share: choices from the taxonomy in the reader's
language. (Checkboxes and the bare button are every area's: `marketplace.web.forms`.)

Each room's own forms are in its `forms.py`. Forms check types; the services check the
rules, and name every faulty field at once."""

from __future__ import annotations

from collections.abc import Iterable

from wtforms.fields.choices import SelectChoice

from factories.taxonomy import CERTIFICATIONS, MATERIALS, PROCESSES
from marketplace.web import labels


def choices(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def process_choices(locale: str) -> list[SelectChoice]:
    return choices((code, labels.process_label(code, locale)) for code in PROCESSES)


def material_choices(locale: str) -> list[SelectChoice]:
    return choices((code, labels.material_label(code, locale)) for code in MATERIALS)


def certification_choices(locale: str) -> list[SelectChoice]:
    return choices((code, labels.certification_label(code, locale)) for code in CERTIFICATIONS)
