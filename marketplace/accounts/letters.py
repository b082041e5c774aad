"""What the accounts area writes to people: each mail's subject and body, in the language
of the page that caused it. Links come from security.public_url_for (PUBLIC_URL)."""

from __future__ import annotations

from flask_babel import gettext as _


def password_reset(link: str) -> tuple[str, str]:
    return _("Reset your FactoryWeb password"), _(
        "Someone asked to reset the password of your FactoryWeb account.\n\n"
        "Set a new password here (the link works once, for one hour):\n"
        "%(link)s\n\nIf it was not you, ignore this message.",
        link=link,
    )


def no_account(signup_link: str) -> tuple[str, str]:
    return _("Your FactoryWeb password"), _(
        "Someone asked to reset the password of the FactoryWeb account of this address, "
        "but no account uses it.\n\nTo create one:\n%(link)s\n\n"
        "If it was not you, ignore this message.",
        link=signup_link,
    )


def confirm_signup(link: str) -> tuple[str, str]:
    return _("Confirm your FactoryWeb account"), _(
        "Welcome to FactoryWeb. To finish creating your account, confirm this address "
        "here (the link works once, for one day):\n%(link)s\n\n"
        "If it was not you, ignore this message: nothing is created without it.",
        link=link,
    )


def account_exists(login_link: str, forgot_link: str) -> tuple[str, str]:
    return _("You already have a FactoryWeb account"), _(
        "Someone tried to create a FactoryWeb account with this address, which already "
        "has one.\n\nSign in here:\n%(login)s\n\nForgot the password? Set a new one here:\n"
        "%(forgot)s\n\nIf it was not you, ignore this message: nothing was changed.",
        login=login_link,
        forgot=forgot_link,
    )


def invitation(inviter: str, organization: str, role: str, link: str) -> tuple[str, str]:
    return _("Invitation to join %(name)s on FactoryWeb", name=organization), _(
        "%(inviter)s invites you to join %(organization)s on FactoryWeb as %(role)s.\n\n"
        "To accept, open this link (it works for seven days):\n%(link)s\n\n"
        "If you do not want to join, ignore this message: nothing happens without your "
        "answer.",
        inviter=inviter,
        organization=organization,
        role=role,
        link=link,
    )
