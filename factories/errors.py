"""The one error the supply-side services raise: what is wrong, and with which field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from factories.taxonomy import CERTIFICATIONS, MATERIALS, PROCESSES

# Values under these names are taxonomy codes: the English text shows their English
# label, a page their label in the reader's language. A `resource` (a capacity line) keeps
# its code in English, where API clients know it by that name.
LABELLED_VALUES = ("process", "material", "certification")


class _Labelled(Protocol):
    @property
    def en(self) -> str: ...


def english_label(name: str, value: object) -> object:
    table: dict[str, Mapping[str, _Labelled]] = {
        "process": PROCESSES,
        "material": MATERIALS,
        "certification": CERTIFICATIONS,
    }
    entry = table[name].get(value) if isinstance(value, str) else None
    return entry.en if entry is not None else value


class Message(str):
    """An English message that keeps its template and values, so that a page can say it
    in the reader's language (`gettext(template) % values`); everywhere else (the API, the
    command line, logs) it is the plain English text."""

    template: str
    values: dict[str, object]

    def __new__(cls, template: str, values: Mapping[str, object] | None = None) -> Message:
        values = dict(values or {})
        english = {k: english_label(k, v) if k in LABELLED_VALUES else v for k, v in values.items()}
        message = super().__new__(cls, template % english if values else template)
        message.template = template
        message.values = values
        return message


def N_(template: str, **values: object) -> Message:
    """Marks a service message for translation, like `_`, without translating it here:
    services speak English, pages translate (see LABELLED_VALUES for taxonomy codes)."""
    return Message(template, values)


def field_path(location: Iterable[object]) -> str:
    """`("lines", 2, "hours")` -> `lines[2].hours`, the way the contracts name fields."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


class InputError(ValueError):
    """Input a service refuses; nothing has been written.

    `field` and `message` name the first problem; `problems` lists all of them, so that a
    form or an API answer can point at every faulty input at once. Every area's input
    error derives from this one class, and the web and the API each have one place that
    turns it into a form message or a 422 answer.
    """

    def __init__(
        self, field: str, message: str, problems: Iterable[tuple[str, str]] | None = None
    ) -> None:
        self.problems: list[tuple[str, str]] = list(problems or [(field, message)])
        self.field, self.message = self.problems[0]
        super().__init__("; ".join(f"{f}: {m}" for f, m in self.problems))

    @classmethod
    def of(cls, problems: Iterable[tuple[str, str]]) -> InputError:
        """One error carrying every problem (there must be at least one)."""
        items = list(problems)
        return cls(items[0][0], items[0][1], items)

    def renamed(self, names: Mapping[str, str]) -> InputError:
        """The same problems with fields named as the caller knows them."""
        return type(self).of((names.get(f, f), m) for f, m in self.problems)


class FactoryError(InputError):
    """A rule of the supply side was broken."""


class NotFound(LookupError):
    """No such object, or not one the caller may see (both answer 404)."""


class Conflict(RuntimeError):
    """The request is valid but the object's current state does not allow it (409).

    `code` names the kind of conflict for API clients; `details` adds what they need to
    act on it (for an order: its state and the states it may go to)."""

    code = "conflict"

    def details(self) -> dict[str, Any]:
        """Fields of the JSON error body, beside `error` and `message`."""
        return {}


class Problems:
    """Collects every problem of an input before anything is saved."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append((field, message))

    def extend(self, other: Problems) -> None:
        self.items.extend(other.items)

    def add_error(self, error: FactoryError) -> None:
        self.items.extend(error.problems)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise FactoryError.of(self.items)
