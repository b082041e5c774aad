"""The demo marketplace: `factoryweb seed-demo` and `make demo`."""
