"""The factory side on the web, in the API and on the command line: onboarding,
capabilities, the capacity calendar, profile and AAS export/import, buyer search.

Business rules live in `factories/`; this package parses, authorizes, calls the
services and renders.
"""
