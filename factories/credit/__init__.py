"""Credit earned from the ledger: the score (`score`), kept on the factory (`service`),
and the signed report a lender can check (`report`). docs/credit.md."""
