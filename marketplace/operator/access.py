"""The one access rule of the operator's area: cluster operators only, on every page,
fragment and CSV. Everyone else signed in gets 403; nobody signed in is sent to sign in.
The views read every organization's data on purpose (the cluster view)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from marketplace.accounts.access import roles_required, shared_across_organizations
from marketplace.accounts.models import Role

P = ParamSpec("P")
R = TypeVar("R")


def operators_only(view: Callable[P, R]) -> Callable[P, R]:
    return roles_required(Role.OPERATOR)(shared_across_organizations(Role.OPERATOR)(view))


def operators_may_write(view: Callable[P, R]) -> Callable[P, R]:
    """The same rule for the one view that changes data (applying a what-if)."""
    return roles_required(Role.OPERATOR)(
        shared_across_organizations(Role.OPERATOR, writes=True)(view)
    )
