"""The simulated gateway: payments, refunds, accounts and transfers without Stripe, for
`make demo` and for tests that are not about Stripe. Labelled as such on every page that
shows a payment. Its books live in a table of their own (`simulated_gateway_object`),
written in transactions of their own, as a remote service's would be, so that
reconciliation compares two records.

Payment methods: Stripe's test cards whose charge is declined (`DECLINING_CARDS`, such as
`pm_card_chargeCustomerFail`) are declined; any other succeeds (`pm_card_visa`). A
connected account can receive payouts once its owner completed the simulated onboarding
page (`complete_onboarding`).
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from marketplace.db import Database
from marketplace.payments.gateways.base import (
    DECLINING_CARDS,
    AccountResult,
    BadEvent,
    Event,
    GatewayError,
    GatewayRefusal,
    PaymentResult,
)
from marketplace.payments.models import SimulatedObject

NAME = "simulated"
DECLINED = "Your card was declined (simulated)."


class SimulatedGateway:
    name = NAME

    def __init__(self, database: Database, onboarding_url: str = "") -> None:
        self.database = database
        # Where the simulated onboarding page is: `{account_id}` is filled in.
        self.onboarding_url = onboarding_url

    def _put(self, kind: str, prefix: str, key: str, data: dict[str, Any]) -> dict[str, Any]:
        """Create the object once per idempotency key (a repeated call gets the first,
        also when both calls arrive at once)."""
        for _ in range(2):
            existing = self._by_key(key)
            if existing is not None:
                return existing
            object_id = f"{prefix}_sim_{secrets.token_hex(8)}"
            try:
                with self.database.session() as session:
                    session.add(
                        SimulatedObject(
                            object_id=object_id, kind=kind, idempotency_key=key, data=data
                        )
                    )
            except IntegrityError:
                continue  # the other call made it: answer with its object
            return {"id": object_id, **data}
        raise GatewayError(f"idempotency key {key} in use")

    def _by_key(self, key: str) -> dict[str, Any] | None:
        with self.database.session() as session:
            existing = session.exec(
                select(SimulatedObject).where(SimulatedObject.idempotency_key == key)
            ).first()
            return None if existing is None else {"id": existing.object_id, **existing.data}

    def _get(self, object_id: str) -> dict[str, Any]:
        with self.database.session() as session:
            found = session.exec(
                select(SimulatedObject).where(SimulatedObject.object_id == object_id)
            ).first()
            if found is None:
                raise GatewayRefusal(f"no such object: {object_id}")
            return {"id": found.object_id, **found.data}

    def _update(self, object_id: str, **changes: Any) -> None:
        with self.database.session() as session:
            found = session.exec(
                select(SimulatedObject)
                .where(SimulatedObject.object_id == object_id)
                .with_for_update()
            ).first()
            if found is None:
                raise GatewayRefusal(f"no such object: {object_id}")
            found.data = {**found.data, **changes}

    def pay(
        self,
        *,
        amount_minor: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> PaymentResult:
        declined = payment_method in DECLINING_CARDS
        intent = self._put(
            "payment",
            "pi",
            idempotency_key,
            {
                "amount": amount_minor,
                "currency": currency,
                "status": "failed" if declined else "succeeded",
                "charge": "" if declined else f"ch_sim_{secrets.token_hex(8)}",
                "metadata": metadata,
            },
        )
        return self._result(intent)

    def _result(self, intent: dict[str, Any]) -> PaymentResult:
        succeeded = intent["status"] == "succeeded"
        return PaymentResult(
            intent["id"],
            intent["status"],
            intent["amount"] if succeeded else 0,
            charge_id=intent.get("charge", ""),
            failure="" if intent["status"] != "failed" else DECLINED,
        )

    def retrieve_payment(self, intent_id: str) -> PaymentResult:
        return self._result(self._get(intent_id))

    def cancel_payment(self, intent_id: str, idempotency_key: str) -> None:
        if self._get(intent_id)["status"] != "succeeded":
            self._update(intent_id, status="canceled")

    def refund(
        self, *, intent_id: str, amount_minor: int, idempotency_key: str, metadata: dict[str, str]
    ) -> str:
        intent = self._get(intent_id)
        refunded = self._refunded_of(intent_id, except_key=idempotency_key)
        if intent["status"] != "succeeded" or refunded + amount_minor > intent["amount"]:
            raise GatewayRefusal("refund beyond what was paid")
        refund = self._put(
            "refund",
            "re",
            idempotency_key,
            {"payment": intent_id, "amount": amount_minor, "metadata": metadata},
        )
        return str(refund["id"])

    def _refunded_of(self, intent_id: str, except_key: str) -> int:
        with self.database.session() as session:
            rows = session.exec(
                select(SimulatedObject).where(
                    SimulatedObject.kind == "refund",
                    SimulatedObject.idempotency_key != except_key,
                )
            ).all()
            return sum(r.data["amount"] for r in rows if r.data.get("payment") == intent_id)

    def refunded_minor(self, refund_id: str) -> int:
        return int(self._get(refund_id)["amount"])

    def create_account(
        self, *, country: str, email: str, idempotency_key: str, metadata: dict[str, str]
    ) -> str:
        account = self._put(
            "account",
            "acct",
            idempotency_key,
            {"country": country, "payouts_enabled": False, "details_submitted": False,
             "metadata": metadata},
        )  # fmt: skip
        return str(account["id"])

    def onboarding_link(
        self, *, account_id: str, refresh_url: str, return_url: str, idempotency_key: str
    ) -> str:
        self._get(account_id)
        return self.onboarding_url.replace("{account_id}", account_id)

    def complete_onboarding(self, account_id: str) -> None:
        """What the factory's owner does on the simulated onboarding page."""
        self._update(account_id, payouts_enabled=True, details_submitted=True)

    def retrieve_account(self, account_id: str) -> AccountResult:
        account = self._get(account_id)
        return AccountResult(
            account_id, bool(account["payouts_enabled"]), bool(account["details_submitted"])
        )

    def transfer(
        self,
        *,
        amount_minor: int,
        currency: str,
        account_id: str,
        source_charge: str,
        transfer_group: str,
        idempotency_key: str,
    ) -> str:
        if not self.retrieve_account(account_id).payouts_enabled:
            raise GatewayRefusal(f"{account_id} cannot receive payouts yet")
        transfer = self._put(
            "transfer",
            "tr",
            idempotency_key,
            {"amount": amount_minor, "currency": currency, "destination": account_id,
             "source_transaction": source_charge, "transfer_group": transfer_group},
        )  # fmt: skip
        return str(transfer["id"])

    def transferred_minor(self, transfer_id: str) -> int:
        return int(self._get(transfer_id)["amount"])

    def read_event(self, payload: bytes, signature: str) -> Event:
        raise BadEvent("gateway", "the simulated gateway sends no webhooks")

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Everything of a kind it holds (reconciliation)."""
        with self.database.session() as session:
            return [
                {"id": o.object_id, **o.data}
                for o in session.exec(
                    select(SimulatedObject)
                    .where(SimulatedObject.kind == kind)
                    .order_by(col(SimulatedObject.id))
                )
            ]
