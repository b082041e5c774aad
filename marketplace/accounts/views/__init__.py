"""The account pages: sign-in and sign-out, sign-up confirmed by mail, forgotten
passwords, company sign-in, a factory's machine clients, and the members of an
organization with the invitations that add them. Each module adds its routes to the one
blueprint (`common`)."""

from marketplace.accounts.views import clients, members, passwords, signin, signup
from marketplace.accounts.views.common import blueprint

__all__ = ["blueprint", "clients", "members", "passwords", "signin", "signup"]
