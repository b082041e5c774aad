"""Outgoing mail: SMTP when SMTP_HOST is set, otherwise the message goes to the log
(development: the reset link shows up in the terminal running the server).

Views hand their mails to `send_after_commit`: a mail leaves once the request's
transaction has committed, never for a request that failed, and never while a row is
locked.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

log = logging.getLogger(__name__)

EXTENSION_KEY = "factoryweb.mailer"
_OUTBOX_KEY = "factoryweb.accounts.outbox"


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...


def compose(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


@dataclass
class SmtpMailer:
    host: str
    port: int = 25
    sender: str = "FactoryWeb <no-reply@factoryweb.invalid>"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 10.0

    def send(self, to: str, subject: str, body: str) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(compose(self.sender, to, subject, body))


@dataclass
class LogMailer:
    sender: str = "FactoryWeb <no-reply@factoryweb.invalid>"

    def send(self, to: str, subject: str, body: str) -> None:
        log.warning("mail not sent (no SMTP_HOST configured) to %s: %s\n%s", to, subject, body)


def mailer_from_config(config: dict) -> Mailer:
    sender = config.get("MAIL_SENDER") or "FactoryWeb <no-reply@factoryweb.invalid>"
    host = config.get("SMTP_HOST")
    if not host:
        return LogMailer(sender)
    return SmtpMailer(
        host=host,
        port=int(config.get("SMTP_PORT") or 25),
        sender=sender,
        username=config.get("SMTP_USERNAME") or None,
        password=config.get("SMTP_PASSWORD") or None,
        starttls=str(config.get("SMTP_STARTTLS", "")).lower() in {"1", "true", "yes"},
    )


def init_mail(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = mailer_from_config(app.config)


def mailer() -> Mailer:
    return current_app.extensions[EXTENSION_KEY]


def send_after_commit(session: Session, to: str, subject: str, body: str) -> None:
    """Send this mail once `session` commits; nothing is sent if it rolls back."""
    outbox: list[tuple[Mailer, str, str, str]] = session.info.setdefault(_OUTBOX_KEY, [])
    outbox.append((mailer(), to, subject, body))


@event.listens_for(Session, "after_commit")
def _send_outbox(session: Session) -> None:
    for sender, to, subject, body in session.info.pop(_OUTBOX_KEY, []):
        try:
            sender.send(to, subject, body)
        except OSError:
            # The change stands; the person can ask again (a new link, a new invitation).
            log.exception("mail %r to %s failed", subject, to)


@event.listens_for(Session, "after_soft_rollback")
def _drop_outbox(session: Session, previous_transaction: SessionTransaction) -> None:
    # The whole unit of work rolled back (a savepoint of it leaves the mails queued).
    if previous_transaction.parent is None:
        session.info.pop(_OUTBOX_KEY, None)
