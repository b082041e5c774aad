"""Every action that cannot be undone asks first (confirm.js reads data-confirm)."""

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "marketplace" / "web" / "templates"
IRREVERSIBLE = (
    "orders.deliver",
    "orders.close",
    "orders.cancel",
    "orders.decline",
    "payments.resolve_dispute",
)


def test_each_irreversible_form_carries_its_question():
    forms = [
        form
        for path in TEMPLATES.rglob("*.html")
        for form in re.findall(r"<form\b[^>]*>", path.read_text())
    ]
    for endpoint in IRREVERSIBLE:
        found = [f for f in forms if f"url_for('{endpoint}'" in f]
        assert found, endpoint
        assert all("data-confirm=" in f for f in found), endpoint


def test_the_layout_loads_the_script_that_asks(client):
    page = client.get("/").get_data(as_text=True)
    assert "/static/confirm.js" in page
    with client.get("/static/confirm.js") as script:
        assert "window.confirm" in script.get_data(as_text=True)
