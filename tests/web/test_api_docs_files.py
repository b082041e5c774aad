"""The documentation page serves two files of the Swagger UI package and nothing else."""


def test_the_docs_page_and_its_two_files(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-spec="/api/openapi.json"' in text and "/static/api-docs.js" in text
    with client.get("/api/docs/assets/js/swagger-ui-bundle.js") as script:
        assert script.status_code == 200 and "SwaggerUIBundle" in script.get_data(as_text=True)
    with client.get("/api/docs/assets/css/swagger-ui.css") as style:
        assert style.mimetype == "text/css"


def test_nothing_else_of_the_package_is_served(client):
    for name in ("plugins.py", "../plugins.py", "js/../../__init__.py", "images/swagger.svg"):
        response = client.get(f"/api/docs/assets/{name}")
        assert response.status_code == 404 and response.is_json, name


def test_the_footer_leads_to_the_docs(client):
    assert 'href="/api/docs"' in client.get("/").get_data(as_text=True)
