"""Stripe Connect as a recording HTTP server (pytest-httpserver) answers it: Express
accounts, account links, retrieving an account, transfers. Every request is kept with
its form and idempotency key, so that tests check exactly what was asked."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

ACCOUNT = re.compile(r"^/v1/accounts/(acct_\w+)$")
TRANSFER = re.compile(r"^/v1/transfers/(tr_\w+)$")


@dataclass
class Seen:
    method: str
    path: str
    form: dict[str, str]
    idempotency_key: str


@dataclass
class ConnectDouble:
    server: HTTPServer
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    # Answers to give before the normal ones, per path: (status, body).
    failures: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    # Accounts that finish onboarding as soon as they are made (a simulation's factories).
    enable_at_once: bool = False

    def install(self) -> None:
        self.server.expect_request(
            re.compile(r"^/v1/(accounts|account_links|transfers).*")
        ).respond_with_handler(self.answer)

    def seen(self, path: str, method: str = "POST") -> list[Seen]:
        return [r for r in self.requests if r.path == path and r.method == method]

    def enable(self, account_id: str) -> None:
        """The factory finished onboarding at Stripe."""
        self.accounts[account_id].update(payouts_enabled=True, details_submitted=True)

    def answer(self, request: Request) -> Response:
        form = dict(request.form.items())
        self.requests.append(
            Seen(request.method, request.path, form, request.headers.get("Idempotency-Key", ""))
        )
        queued = self.failures.get(request.path)
        if queued:
            status, body = queued.pop(0)
            return self._json(body, status)
        if request.path == "/v1/accounts" and request.method == "POST":
            account_id = f"acct_{len(self.accounts) + 1:04d}"
            self.accounts[account_id] = {
                "id": account_id,
                "object": "account",
                "type": form.get("type"),
                "country": form.get("country"),
                "payouts_enabled": self.enable_at_once,
                "details_submitted": self.enable_at_once,
            }
            return self._json(self.accounts[account_id])
        if request.path == "/v1/account_links":
            return self._json(
                {
                    "object": "account_link",
                    "url": f"https://connect.stripe.com/setup/e/{form['account']}/link",
                    "expires_at": 2_000_000_000,
                }
            )
        if (match := ACCOUNT.match(request.path)) and request.method == "GET":
            account = self.accounts.get(match.group(1))
            if account is None:
                return self._json({"error": {"type": "invalid_request_error"}}, 404)
            return self._json(account)
        if request.path == "/v1/transfers" and request.method == "POST":
            transfer_id = f"tr_{len(self.transfers) + 1:04d}"
            self.transfers[transfer_id] = {
                "id": transfer_id,
                "object": "transfer",
                "amount": int(form["amount"]),
                "currency": form["currency"],
                "destination": form["destination"],
            }
            return self._json(self.transfers[transfer_id])
        if (match := TRANSFER.match(request.path)) and request.method == "GET":
            return self._json(self.transfers[match.group(1)])
        return self._json({"error": {"type": "invalid_request_error"}}, 404)

    @staticmethod
    def _json(body: dict[str, Any], status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json")
