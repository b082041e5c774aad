"""plotly.js, served from the installed `plotly` package (no CDN; see charts.py)."""

from __future__ import annotations

from flask import send_file
from flask.typing import ResponseReturnValue

from marketplace.operator.blueprints import pages
from marketplace.operator.charts import plotly_js_path

ONE_DAY_S = 24 * 3600


@pages.get("/operator/static/plotly.min.js")
def plotly_js() -> ResponseReturnValue:
    """Public like every static file: a library, no data."""
    return send_file(plotly_js_path(), mimetype="text/javascript", max_age=ONE_DAY_S)
