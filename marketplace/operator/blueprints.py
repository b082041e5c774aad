"""The operator area's pages (one blueprint; its rooms add their routes)."""

from __future__ import annotations

from flask import Blueprint

pages = Blueprint("operator", __name__)
