import sqlalchemy as sa
from openapi_spec_validator import validate

from marketplace.app import create_app
from marketplace.db import Database


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_says_when_the_database_is_down(settings):
    unreachable = Database(sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    app = create_app(settings, database=unreachable, TESTING=True)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unavailable"


def test_openapi_document_is_generated_from_the_code(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    assert document["openapi"].startswith("3.")
    assert "/api/v1/taxonomy" in document["paths"]
    assert "/healthz" in document["paths"]
    schemas = document["components"]["schemas"]
    assert {"Taxonomy", "ProcessOut", "ErrorBody"} <= set(schemas)


def test_taxonomy_endpoint_lists_processes_with_din8580_groups(client):
    body = client.get("/api/v1/taxonomy").get_json()
    processes = {p["code"]: p for p in body["processes"]}
    assert len(processes) >= 25
    assert processes["milling_5axis"]["din8580_group"] == "3"
    assert processes["milling_5axis"]["labels"]["zh"] == "五轴数控铣削"
    assert "ISO9001" in {c["code"] for c in body["certifications"]}


def test_unknown_api_path_gets_a_json_error(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_api_model_names_are_unique(app):
    """The OpenAPI document keys schemas by class name; two models with one name would
    silently replace each other and the document would lie about one of them."""
    from pydantic import BaseModel

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = [
        m for m in subclasses(BaseModel) if m.__module__.startswith(("marketplace", "factories"))
    ]
    names: dict[str, str] = {}
    clashes = []
    for model in ours:
        where = f"{model.__module__}.{model.__qualname__}"
        if model.__name__ in names and names[model.__name__] != where:
            clashes.append(f"{names[model.__name__]} and {where}")
        names.setdefault(model.__name__, where)
    assert clashes == []
