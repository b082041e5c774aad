"""Who may see and change a factory: its own organization; operators read all of them.

Every page and API view of the supply area loads its objects here, so that the rule is
written once: objects of other organizations answer 404, as if they did not exist.
"""

from __future__ import annotations

from flask import abort

from factories.capability import capability_of
from factories.models import Capability, Certification, Factory
from marketplace import db
from marketplace.accounts.access import require_principal
from marketplace.accounts.models import Role
from marketplace.accounts.service import Principal

# Who searches the shops, with their rates, credit and free hours: buyers and operators.
# A factory (its people or its machine clients) sees its own figures, not its competitors'.
SEARCHERS = (Role.BUYER_MEMBER, Role.OPERATOR)


def load_factory(factory_id: int, *, write: bool = False) -> Factory:
    """The factory, if the caller may see it (or change it, with `write`); else 404.

    Factories of other organizations answer 404, as if they did not exist. Operators
    see every factory but change none here (they verify and suspend elsewhere): 403.
    """
    principal = require_principal()
    factory = db.session().get(Factory, factory_id)
    if factory is None:
        abort(404)
    if principal.is_factory and principal.acts_for(factory.organization_id):
        return factory
    if principal.is_operator:
        if write:
            abort(403)
        return factory
    abort(404)


def load_capability(factory: Factory, capability_id: int) -> Capability:
    """A capability of a factory already loaded with `load_factory`; else 404."""
    capability = capability_of(db.session(), factory, capability_id)
    if capability is None:
        abort(404)
    return capability


def load_certification(factory: Factory, certification_id: int) -> Certification:
    """A certification of a factory already loaded with `load_factory`; else 404."""
    certification = db.session().get(Certification, certification_id)
    if certification is None or certification.factory_id != factory.id:
        abort(404)
    return certification


def can_edit_profile(principal: Principal | None) -> bool:
    """Owners (people) edit the profile; members and machine clients only capacity."""
    return (
        principal is not None
        and principal.role == Role.FACTORY_OWNER
        and principal.user_id is not None
    )


def can_edit_capacity(principal: Principal | None) -> bool:
    return principal is not None and principal.is_factory and principal.has_scope("capacity:write")


def require_profile_editor() -> None:
    if not can_edit_profile(require_principal()):
        abort(403, description="only an owner of the factory (a person) may change its profile")


def require_capacity_editor() -> None:
    if not can_edit_capacity(require_principal()):
        abort(403)
