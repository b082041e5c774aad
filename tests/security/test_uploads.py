"""The body limit leaves the routes that take documents working: a milestone with large QA
reports (together far beyond MAX_CONTENT_LENGTH) goes through the page and the API, and a
document too large for ORDERS_MAX_DOCUMENT_BYTES still gets its own message, naming it."""

from __future__ import annotations

import io

from sqlmodel import select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from marketplace.orders.models import Document
from tests.orders.conftest import app, buyer, database, dispatcher, make_shop  # noqa: F401
from tests.orders.test_production import confirmed_order

MB = 1024 * 1024


def pdf(size: int) -> bytes:
    return b"%PDF-1.4\n" + b"0" * (size - 9)


def upload(browser, order, documents):  # type: ignore[no-untyped-def]
    """QA reports as one multipart body, encoded in memory."""
    boundary, body = encode_multipart(
        MultiDict(
            [
                ("kind", "qa_passed"),
                *(("documents", FileStorage(io.BytesIO(data), name)) for data, name in documents),
            ]
        )
    )
    return browser.api(
        "POST",
        f"/api/v1/orders/{order.id}/milestones",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_large_documents_reach_the_milestone(
    db_session,
    make_shop,  # noqa: F811
    buyer,  # noqa: F811
    dispatcher,  # noqa: F811
    database,  # noqa: F811
    new_browser,
    app,  # noqa: F811
):
    shop = make_shop(hours=40)
    order = confirmed_order(db_session, dispatcher, database, buyer, shop)
    factory = new_browser()
    factory.login(shop.owner)
    assert (
        factory.api(
            "POST", f"/api/v1/orders/{order.id}/milestones", data={"kind": "started"}
        ).status_code
        == 201
    )

    # One file over the per-document limit: the orders area names it (not a 413).
    response = upload(factory, order, [(pdf(10 * MB + 1), "big.pdf")])
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["fields"][0]["field"] == "documents[0]"

    # Three reports of 9 MB each: 27 MB in one request.
    response = upload(factory, order, [(pdf(9 * MB), f"qa-{i}.pdf") for i in range(3)])
    assert response.status_code == 201, response.get_json()
    db_session.expire_all()
    assert len(db_session.exec(select(Document)).all()) == 3
    assert app.config["MAX_CONTENT_LENGTH"] < 27 * MB
