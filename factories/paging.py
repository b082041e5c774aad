"""Lists a page at a time: one page of items with the figures a pager shows, and the one
check of the page asked for.

Pages count from 1. A page past the end is empty (not an error), so a link that was
right a moment ago stays harmless; a page below 1, a page that is not a whole number, or
a page size outside 1..`max_per_page`, is an input error naming `page` or `per_page`
(pages answer 400 with it, the API 422), never silently another page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

from factories.errors import N_, InputError, Problems

T = TypeVar("T")
# Beyond any list here, and an offset every database takes.
MAX_PAGE = 999_999_999


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def check_paging(page: int, per_page: int, max_per_page: int) -> Problems:
    """The problems of a page request (none: it can be served)."""
    problems = Problems()
    if page < 1:
        problems.add("page", N_("must be 1 or more"))
    if not 1 <= per_page <= max_per_page:
        problems.add("per_page", N_("must be from 1 to %(maximum)s", maximum=max_per_page))
    return problems


def offset(page: int, per_page: int) -> int:
    """How many items come before the first of `page`."""
    return (page - 1) * per_page


def page_number(text: str | None) -> int:
    """The page a link asks for (`?page=3`; none: the first)."""
    text = (text or "").strip()
    if not text:
        return 1
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(MAX_PAGE))
    if not digits or not 1 <= int(text) <= MAX_PAGE:
        raise InputError(
            "page", N_("must be a whole number from 1 to %(maximum)s", maximum=MAX_PAGE)
        )
    return int(text)
