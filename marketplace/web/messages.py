"""Service messages in the reader's language.

Services speak English and mark their messages with `factories.errors.N_`, which keeps
the template and its values; pages pass what a service said through `say`. Taxonomy codes
and states among the values become labels in the reader's language."""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import gettext

from factories.capability import Amount
from factories.errors import Message
from marketplace.web import labels

LABELS: dict[str, Callable[[str, str], str]] = {
    "process": labels.process_label,
    "resource": labels.process_label,
    "material": labels.material_label,
    "certification": labels.certification_label,
}


def say(message: object) -> str:
    """What a service said (a message, or the error carrying it), in the reader's language;
    a text without a translation stays as it is."""
    if isinstance(message, BaseException):
        message = message.args[0] if message.args else str(message)
    if isinstance(message, Message):
        locale = labels.current_locale()
        values = {}
        for name, value in message.values.items():
            if isinstance(value, Message):
                value = say(value)  # a message within a message
            elif isinstance(value, Amount):
                value = labels.money(value.minor, value.currency)
            elif name in LABELS and isinstance(value, str):
                value = LABELS[name](value, locale)
            elif name == "state" and isinstance(value, str):
                value = labels.state_label(value)  # an order's, a proposal's or a milestone's
            values[name] = value
        return gettext(message.template, **values)
    text = str(message)
    return gettext(text) if text else text
