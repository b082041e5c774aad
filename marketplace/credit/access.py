"""Who sees a factory's credit: its own organization and operators, with the orders behind
each component; buyers (who search the shops and read their proposals), the score and its
components without the orders (those are other buyers' business). Another factory sees
nothing of it: 404, as if it did not exist (docs/api.md, what is public of a factory)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort

from factories.models import Factory, FactoryStatus, get_by_id
from marketplace import db
from marketplace.accounts.access import require_principal


@dataclass(frozen=True)
class CreditView:
    factory: Factory
    # The orders behind each component, and the signed report: owner and operators.
    full: bool


def credit_view(factory_id: int) -> CreditView:
    principal = require_principal()
    factory = get_by_id(db.session(), Factory, factory_id)
    if factory is None:
        abort(404)
    if principal.is_operator or (
        principal.is_factory and principal.acts_for(factory.organization_id)
    ):
        return CreditView(factory, full=True)
    if principal.is_buyer and factory.status == FactoryStatus.VERIFIED:
        return CreditView(factory, full=False)
    abort(404)


def report_view(factory_id: int) -> Factory:
    view = credit_view(factory_id)
    if not view.full:
        abort(404)
    return view.factory
