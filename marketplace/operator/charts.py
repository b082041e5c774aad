"""Charts of the operator's pages: Plotly figures as plain data.

Plotly's JavaScript (plotly.js, shipped inside the `plotly` Python package) is served
from this site (`/operator/static/plotly.min.js`), never from a CDN, and no page holds
inline script: a chart is an element whose `data-figure` attribute carries the figure as
JSON, drawn by `static/operator/charts.js`. Plotly's own injected styles are turned off
(the page carries `#plotly.js-style-global.no-inline-styles`), since the
Content-Security-Policy refuses inline styles; the few rules it needs are in style.css.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

PLOTLY_JS = "plotly.min.js"
# plotly.js (v3, v4) adds MapLibre's stylesheet as a <style> element unless an element with
# this id is on the page; the operator pages draw no maps.
PLOTLY_MAP_STYLE_ID = "9f215cf04c5486422605d13261cb87401f4e7763b6296af81e98efbc0130da53"


def plotly_js_path() -> Path:
    """The bundled plotly.js of the installed `plotly` package."""
    return Path(str(resources.files("plotly") / "package_data" / PLOTLY_JS))


def heatmap(
    x: list[str], y: list[str], z: list[list[float | None]], title: str, hover: str
) -> dict[str, Any]:
    """A 0..1 heatmap (utilization): rows `y`, columns `x`."""
    return {
        "data": [
            {
                "type": "heatmap",
                "x": x,
                "y": y,
                "z": z,
                "zmin": 0,
                "zmax": 1,
                "colorscale": "YlOrRd",
                "reversescale": True,
                "hoverongaps": False,
                "hovertemplate": hover + "<extra></extra>",
                "colorbar": {"tickformat": ".0%"},
            }
        ],
        "layout": _layout(title, height=max(220, 60 + 22 * len(y)), left=120),
    }


def bars(x: list[str], y: list[float | None], title: str, percent: bool = True) -> dict[str, Any]:
    layout = _layout(title, height=260, left=60)
    if percent:
        layout["yaxis"] = {"tickformat": ".0%", "range": [0, 1], "automargin": True}
    return {
        "data": [{"type": "bar", "x": x, "y": y, "marker": {"color": "#1d5fa8"}}],
        "layout": layout,
    }


def _layout(title: str, *, height: int, left: int) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 14}},
        "yaxis": {"automargin": True},
        "height": height,
        "margin": {"l": left, "r": 20, "t": 40, "b": 50},
        "font": {"family": "system-ui, sans-serif", "size": 11},
        "paper_bgcolor": "rgba(0,0,0,0)",
    }
