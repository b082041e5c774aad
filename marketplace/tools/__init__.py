"""Development tools: demo data and the end-to-end simulation. Not domain code."""
