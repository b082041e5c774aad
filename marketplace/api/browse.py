"""The API's documentation to browse at `/api/docs`: Swagger UI over our own OpenAPI
document, served from the site itself (the `flask-openapi3-swagger` package ships its
files), started by a script of ours, so the CSP stays as strict as on every other page."""

from __future__ import annotations

from importlib.resources import files

from flask import Blueprint, render_template, send_from_directory
from flask.typing import ResponseReturnValue

SWAGGER_FILES = str(files("flask_openapi3_swagger") / "templates" / "swagger")
# The only files the page needs; nothing else of the package is served.
SWAGGER_ASSETS = {"js/swagger-ui-bundle.js", "css/swagger-ui.css"}

pages = Blueprint("api_docs", __name__)


@pages.get("/api/docs")
def api_docs() -> ResponseReturnValue:
    return render_template("api/docs.html")


@pages.get("/api/docs/assets/<path:name>")
def api_docs_asset(name: str) -> ResponseReturnValue:
    if name not in SWAGGER_ASSETS:
        return {"error": "not_found", "message": "no such file", "fields": []}, 404
    return send_from_directory(SWAGGER_FILES, name, max_age=86400)
