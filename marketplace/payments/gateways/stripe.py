"""The Stripe gateway, with the official SDK. `STRIPE_API_BASE` points it at another
endpoint (tests use localstripe for payments and a recording server for Connect).

Payments are PaymentIntents confirmed with the buyer's payment method at once and
captured automatically: the money waits on the platform's balance (card holds expire
after about a week, production takes longer). Each factory is paid by a separate
Connect transfer from the charge (`source_transaction`), into its Express account; the
link between a charge and its transfers is kept in our own tables (the intent carries
no Connect parameters).
"""

from __future__ import annotations

from typing import Any

import stripe

from marketplace.payments.gateways.base import (
    AccountResult,
    BadEvent,
    Event,
    GatewayError,
    GatewayRefusal,
    PaymentResult,
)

NAME = "stripe"
# What a PaymentIntent's status means here.
STATUS = {
    "succeeded": "succeeded",
    "processing": "processing",
    "requires_capture": "processing",
    "requires_action": "failed",  # no page to authenticate on: another card is needed
    "requires_payment_method": "failed",
    "requires_confirmation": "processing",
    "canceled": "canceled",
}


def charge_of(intent: dict[str, Any]) -> str:
    """The id of a PaymentIntent's charge: `latest_charge` (an id, or the expanded
    object), or the first of `charges` in older API versions (localstripe's)."""
    charge = intent.get("latest_charge")
    if isinstance(charge, dict):
        return str(charge.get("id", ""))
    if charge:
        return str(charge)
    listed = (intent.get("charges") or {}).get("data") or []
    return str(listed[0].get("id", "")) if listed else ""


class StripeGateway:
    name = NAME

    def __init__(self, api_key: str, api_base: str | None, webhook_secret: str | None) -> None:
        self.client = (
            stripe.StripeClient(api_key, base_addresses={"api": api_base}, max_network_retries=0)
            if api_base
            else stripe.StripeClient(api_key, max_network_retries=0)
        )
        self.webhook_secret = webhook_secret

    def _call(self, method: Any, params: dict[str, Any], key: str | None = None) -> Any:
        options = {"idempotency_key": key} if key else {}
        try:
            return method(params=params, options=options)
        except stripe.CardError:
            raise
        except (stripe.APIConnectionError, stripe.RateLimitError) as error:
            raise GatewayError(str(error)) from error
        except stripe.StripeError as error:
            if (error.http_status or 500) >= 500:
                raise GatewayError(str(error)) from error
            raise GatewayRefusal(str(error)) from error

    def pay(
        self,
        *,
        amount_minor: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> PaymentResult:
        try:
            intent = self._call(
                self.client.v1.payment_intents.create,
                {
                    "amount": amount_minor,
                    "currency": currency.lower(),
                    "payment_method": payment_method,
                    "payment_method_types": ["card"],
                    "capture_method": "automatic",
                    "confirm": True,
                    "metadata": metadata,
                },
                idempotency_key,
            )
        except stripe.CardError as declined:
            # The declined intent exists at Stripe: its id is kept for reconciliation.
            error = declined.error.to_dict() if declined.error else {}
            intent_id = str((error.get("payment_intent") or {}).get("id", ""))
            return PaymentResult(
                intent_id, "failed", amount_minor, failure=declined.user_message or "declined"
            )
        return self._result(intent)

    def _result(self, intent: Any) -> PaymentResult:
        data = intent.to_dict() if hasattr(intent, "to_dict") else dict(intent)
        status = STATUS.get(str(data.get("status")), "processing")
        error = data.get("last_payment_error") or {}
        return PaymentResult(
            str(data["id"]),
            status,
            int(data.get("amount_received") or (data["amount"] if status == "succeeded" else 0)),
            charge_id=charge_of(data),
            failure=(error.get("message") or "") if status == "failed" else "",
        )

    def retrieve_payment(self, intent_id: str) -> PaymentResult:
        try:
            intent = self.client.v1.payment_intents.retrieve(intent_id)
        except stripe.StripeError as error:
            raise GatewayError(str(error)) from error
        return self._result(intent)

    def cancel_payment(self, intent_id: str, idempotency_key: str) -> None:
        self._call(
            lambda params, options: self.client.v1.payment_intents.cancel(
                intent_id, params=params, options=options
            ),
            {},
            idempotency_key,
        )

    def refund(
        self, *, intent_id: str, amount_minor: int, idempotency_key: str, metadata: dict[str, str]
    ) -> str:
        refund = self._call(
            self.client.v1.refunds.create,
            {"payment_intent": intent_id, "amount": amount_minor, "metadata": metadata},
            idempotency_key,
        )
        return str(refund.id)

    def refunded_minor(self, refund_id: str) -> int:
        try:
            return int(self.client.v1.refunds.retrieve(refund_id).amount)
        except stripe.StripeError as error:
            raise GatewayError(str(error)) from error

    def create_account(
        self, *, country: str, email: str, idempotency_key: str, metadata: dict[str, str]
    ) -> str:
        params: dict[str, Any] = {
            "type": "express",
            "country": country,
            "capabilities": {"transfers": {"requested": True}},
            "metadata": metadata,
        }
        if email:
            params["email"] = email
        account = self._call(self.client.v1.accounts.create, params, idempotency_key)
        return str(account.id)

    def onboarding_link(
        self, *, account_id: str, refresh_url: str, return_url: str, idempotency_key: str
    ) -> str:
        link = self._call(
            self.client.v1.account_links.create,
            {
                "account": account_id,
                "refresh_url": refresh_url,
                "return_url": return_url,
                "type": "account_onboarding",
            },
            idempotency_key,
        )
        return str(link.url)

    def retrieve_account(self, account_id: str) -> AccountResult:
        try:
            account = self.client.v1.accounts.retrieve(account_id)
        except stripe.StripeError as error:
            raise GatewayError(str(error)) from error
        return AccountResult(
            account.id, bool(account.payouts_enabled), bool(account.details_submitted)
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
        params: dict[str, Any] = {
            "amount": amount_minor,
            "currency": currency.lower(),
            "destination": account_id,
            "transfer_group": transfer_group,
        }
        if source_charge:
            params["source_transaction"] = source_charge
        transfer = self._call(self.client.v1.transfers.create, params, idempotency_key)
        return str(transfer.id)

    def transferred_minor(self, transfer_id: str) -> int:
        try:
            return int(self.client.v1.transfers.retrieve(transfer_id).amount)
        except stripe.StripeError as error:
            raise GatewayError(str(error)) from error

    def read_event(self, payload: bytes, signature: str) -> Event:
        if not self.webhook_secret:
            raise BadEvent("Stripe-Signature", "no STRIPE_WEBHOOK_SECRET is configured")
        try:
            event = stripe.Webhook.construct_event(payload, signature, self.webhook_secret)
        except stripe.SignatureVerificationError as error:
            raise BadEvent("Stripe-Signature", f"the signature does not match: {error}") from None
        except ValueError as error:
            raise BadEvent("body", f"not a Stripe event: {error}") from None
        data = event.to_dict() if hasattr(event, "to_dict") else dict(event)
        return Event(str(data["id"]), str(data["type"]), data["data"]["object"], data)
