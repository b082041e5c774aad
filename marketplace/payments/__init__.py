"""The money of an order: the buyer pays the accepted total before production starts, the
platform holds it, each factory is paid its share less the platform's fee on delivery,
and the buyer gets back what a cancellation or a dispute gives back. Every gateway call
goes through an outbox (`operations`) with an idempotency key; incoming events are kept by
id and applied once (`webhooks`); `reconcile` compares our books with the gateway's.

The contracts with the gateway are described in docs/payments.md.
"""
