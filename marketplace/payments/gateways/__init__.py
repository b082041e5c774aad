"""Payment gateways behind one interface (`base.Gateway`): Stripe, and a simulated one
that keeps its own books in the database for demos and tests without Stripe."""
