"""`factoryweb simulate`: the whole marketplace flow, for load and correctness."""
