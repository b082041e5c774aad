"""Credit: the ledger the marketplace writes (`records`), the platform's signing key,
the score's pages, API and commands. docs/credit.md."""
