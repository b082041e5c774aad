"""The public landing page and the language switch (later: a home for each role)."""
