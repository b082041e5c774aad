"""Item 4: factories report milestones (started; QA passed with documents; shipped with
tracking), the buyer confirms delivery or opens a dispute with evidence, and after
closing both sides rate each other."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import jsonschema
from sqlmodel import select

from marketplace.orders.models import Document, Milestone, Order, OrderState, Rating
from marketplace.orders.posting.service import create_order
from marketplace.orders.proposals import service as service
from marketplace.orders.runs.service import request_matching
from marketplace.orders.workers.matching import execute_run
from tests.orders.conftest import line, order_input, pay_order, principal

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def confirmed_order(db_session, dispatcher, database, buyer, *shops, hours=Decimal(30)):
    """An order split over the shops, every proposal accepted, and paid."""
    who = principal(db_session, buyer)
    order = create_order(
        db_session, who, order_input(line(hours=hours, splittable=True), weeks=0), submit=True
    )
    request_matching(db_session, who, order.id, 2)
    db_session.commit()
    for run_id in dispatcher.take_runs():
        execute_run(database, run_id, workers=1)
    db_session.expire_all()
    from marketplace.orders.models import Proposal

    for proposal in db_session.exec(select(Proposal).where(Proposal.order_id == order.id)):
        shop = next(s for s in shops if s.id == proposal.factory_id)
        service.accept(db_session, principal(db_session, shop.owner), proposal.id)
    db_session.commit()
    assert db_session.get(Order, order.id).state == OrderState.AWAITING_PAYMENT
    pay_order(db_session, dispatcher, database, buyer, order.id)
    assert db_session.get(Order, order.id).state == OrderState.CONFIRMED
    return order


def state_of(db_session, order):
    db_session.expire_all()
    return db_session.get(Order, order.id).state


def test_milestones_then_delivery_then_ratings(
    browser, new_browser, db_session, make_shop, buyer, dispatcher, database, app
):
    a = make_shop(hours=20, rate_minor=5000)
    b = make_shop(hours=20, rate_minor=6000)
    order = confirmed_order(db_session, dispatcher, database, buyer, a, b)
    factory_a, factory_b = new_browser(), new_browser()
    factory_a.login(a.owner)
    factory_b.login(b.owner)

    # Out of order: QA before starting is refused.
    response = factory_a.form(f"/orders/{order.id}/milestones", {"kind": "qa_passed"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "report production started first" in page
    factory_a.get("/lang/zh")
    response = factory_a.form(f"/orders/{order.id}/milestones", {"kind": "qa_passed"})
    page = response.get_data(as_text=True)
    assert "请先报告" in page and "report" not in page.split('class="flash')[1].split("</")[0]
    factory_a.get("/lang/en")

    factory_a.form(f"/orders/{order.id}/milestones", {"kind": "started", "note": "first cuts"})
    assert state_of(db_session, order) == OrderState.IN_PRODUCTION
    # QA passed needs its report.
    factory_a.form(f"/orders/{order.id}/milestones", {"kind": "qa_passed"})
    assert not db_session.exec(select(Milestone).where(Milestone.kind == "qa_passed")).all()
    response = factory_a.form(
        f"/orders/{order.id}/milestones",
        {"kind": "qa_passed", "documents": [(io.BytesIO(PDF), "../../etc/qa report.pdf")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    [document] = db_session.exec(select(Document)).all()
    assert document.filename == "etc_qa_report.pdf" and document.content_type == "application/pdf"
    stored = Path(app.config["ORDERS_UPLOAD_FOLDER"]) / document.storage_key
    assert stored.read_bytes() == PDF and stored.parent == Path(app.config["ORDERS_UPLOAD_FOLDER"])
    assert oct(stored.stat().st_mode & 0o777) == "0o600"

    # Shipping needs tracking; the order ships when every factory has shipped.
    factory_a.form(f"/orders/{order.id}/milestones", {"kind": "shipped"})
    assert not db_session.exec(select(Milestone).where(Milestone.kind == "shipped")).all()
    factory_a.form(
        f"/orders/{order.id}/milestones",
        {"kind": "shipped", "carrier": "DHL", "tracking_number": "JD014600003828"},
    )
    assert state_of(db_session, order) == OrderState.IN_PRODUCTION
    for kind, extra in (
        ("started", {}),
        ("qa_passed", {"documents": [(io.BytesIO(b"ok,1\n"), "qa.csv")]}),
        ("shipped", {"tracking_number": "1Z999AA10123456784", "carrier": "UPS"}),
    ):
        response = factory_b.form(
            f"/orders/{order.id}/milestones",
            {"kind": kind, **extra},
            content_type="multipart/form-data",
        )
        assert response.status_code == 303
    assert state_of(db_session, order) == OrderState.SHIPPED

    browser.login(buyer)
    page = browser.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "JD014600003828" in page and "1Z999AA10123456784" in page
    download = browser.get(f"/documents/{document.id}")
    assert download.data == PDF and "attachment" in download.headers["Content-Disposition"]
    # Downloaded under a name of the marketplace's, not the uploaded one.
    assert download.headers["Content-Disposition"] == (
        f"attachment; filename=document-{document.id}.pdf"
    )
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    download.close()
    # A factory sees its own documents, not the other factory's.
    assert factory_b.get(f"/documents/{document.id}").status_code == 404
    assert "JD014600003828" not in factory_b.get(f"/orders/{order.id}").get_data(as_text=True)

    # Ratings open once the order is delivered: the buyer rates right after confirming.
    response = browser.api(
        "POST", f"/api/v1/orders/{order.id}/ratings", json={"score": 5, "factory_id": a.id}
    )
    assert response.status_code == 409
    browser.form(f"/orders/{order.id}/deliver", {})
    assert state_of(db_session, order) == OrderState.DELIVERED
    assert 'class="stacked rating-form"' in browser.get(f"/orders/{order.id}").get_data(
        as_text=True
    )
    response = browser.api(
        "POST", f"/api/v1/orders/{order.id}/ratings", json={"score": 5, "factory_id": a.id}
    )
    assert response.status_code == 201
    browser.form(f"/orders/{order.id}/close", {})
    assert state_of(db_session, order) == OrderState.CLOSED
    browser.form(f"/orders/{order.id}/ratings", {"factory_id": str(b.id), "score": "3"})
    factory_a.form(f"/orders/{order.id}/ratings", {"score": "4", "comment": "clear drawings"})
    again = factory_a.api("POST", f"/api/v1/orders/{order.id}/ratings", json={"score": 1})
    assert again.status_code == 409
    ratings = {
        (r.from_organization_id, r.to_organization_id): r.score
        for r in db_session.exec(select(Rating))
    }
    assert ratings == {
        (buyer.organization.id, a.owner.organization.id): 5,
        (buyer.organization.id, b.owner.organization.id): 3,
        (a.owner.organization.id, buyer.organization.id): 4,
    }


def test_dispute_with_evidence_and_resolution(
    browser, new_browser, db_session, make_shop, buyer, dispatcher, database, make_member
):
    from marketplace.accounts.models import OrganizationKind, Role

    shop = make_shop(hours=40)
    order = confirmed_order(db_session, dispatcher, database, buyer, shop)
    factory = new_browser()
    factory.login(shop.owner)
    factory.form(f"/orders/{order.id}/milestones", {"kind": "started"})
    browser.login(buyer)
    response = browser.form(
        f"/orders/{order.id}/dispute",
        {
            "reason": "Bores out of tolerance",
            "evidence": [(io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * 64), "bore.png")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    assert state_of(db_session, order) == OrderState.DISPUTED
    [evidence] = db_session.exec(select(Document).where(Document.dispute_id.is_not(None))).all()
    assert evidence.content_type == "image/png"
    # The factory of the order sees the evidence; the operators are told.
    shown = factory.get(f"/documents/{evidence.id}")
    assert shown.status_code == 200
    shown.close()
    operator = new_browser()
    operator.login(make_member(OrganizationKind.OPERATOR, Role.OPERATOR))
    page = operator.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Bores out of tolerance" in page and "Resolve and close" in page
    from marketplace.orders.models import Dispute

    dispute = db_session.exec(select(Dispute)).one()
    assert (
        browser.form(f"/disputes/{dispute.id}/resolve", {"resolution": "mine"}).status_code == 403
    )
    operator.form(f"/disputes/{dispute.id}/resolve", {"resolution": "Credit note of 20 %"})
    assert state_of(db_session, order) == OrderState.CLOSED


def test_uploads_are_checked_for_type_and_size(
    browser, new_browser, db_session, make_shop, buyer, dispatcher, database, app
):
    from marketplace.orders.production import documents

    shop = make_shop(hours=40)
    order = confirmed_order(db_session, dispatcher, database, buyer, shop)
    factory = new_browser()
    factory.login(shop.owner)
    factory.form(f"/orders/{order.id}/milestones", {"kind": "started"})
    assert documents.MAX_DOCUMENT_BYTES == 10 * 2**20  # the default limit
    app.extensions["factoryweb.orders.settings"]["ORDERS_MAX_DOCUMENT_BYTES"] = 2048
    for name, content, message in (
        ("report.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "only PDF, PNG, JPEG"),
        ("big.pdf", b"%PDF-" + b"0" * 2048, "at most 2 KB"),
    ):
        # A good file first: refusing the second one must not leave the first on disk.
        response = factory.form(
            f"/orders/{order.id}/milestones",
            {
                "kind": "qa_passed",
                "documents": [(io.BytesIO(PDF), "qa.pdf"), (io.BytesIO(content), name)],
            },
            content_type="multipart/form-data",
        )
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    assert db_session.exec(select(Document)).all() == []
    assert (
        not any(Path(app.config["ORDERS_UPLOAD_FOLDER"]).glob("*"))
        if Path(app.config["ORDERS_UPLOAD_FOLDER"]).exists()
        else True
    )


def test_machine_client_reports_milestones_with_documents(
    db_session, make_shop, buyer, dispatcher, database, client, browser
):
    from datetime import timedelta

    from factories.models import utcnow
    from marketplace.accounts.models import OAuthToken
    from marketplace.accounts.oauth import create_client
    from marketplace.accounts.tokens import digest, new_secret

    shop = make_shop(hours=40)
    order = confirmed_order(db_session, dispatcher, database, buyer, shop)
    machine, _ = create_client(db_session, shop.owner.organization, "MES", ["milestones:write"])
    token = new_secret("fwt_")
    db_session.add(
        OAuthToken(
            client_pk=machine.id,
            token_hash=digest(token),
            scopes="milestones:write",
            expires_at=utcnow() + timedelta(hours=1),
        )
    )
    db_session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    for data in (
        {"kind": "started"},
        {"kind": "qa_passed", "documents": [(io.BytesIO(PDF), "qa.pdf")]},
        {"kind": "shipped", "tracking_number": "123456789", "carrier": "FedEx"},
    ):
        response = client.post(
            f"/api/v1/orders/{order.id}/milestones",
            data=data,
            headers=headers,
            content_type="multipart/form-data",
        )
        assert response.status_code == 201, response.get_json()
    assert response.get_json()["tracking_number"] == "123456789"
    assert state_of(db_session, order) == OrderState.SHIPPED
    # The token cannot read orders (no orders:read scope).
    assert client.get(f"/api/v1/orders/{order.id}", headers=headers).status_code == 403

    # The buyer reads them, in the shape the OpenAPI document declares.
    browser.login(buyer)
    listed = browser.get(f"/api/v1/orders/{order.id}/milestones").get_json()
    assert [m["kind"] for m in listed["milestones"]] == ["started", "qa_passed", "shipped"]
    document = client.get("/api/openapi.json").get_json()
    declared = document["paths"]["/api/v1/orders/{order_id}/milestones"]["get"]["responses"]
    schema = declared["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(listed, {**schema, "components": document["components"]})


def test_every_text_too_long_for_its_column_is_named_never_a_server_error(
    browser, new_browser, db_session, make_shop, buyer, dispatcher, database, make_member
):
    """Carrier and tracking number are checked on every milestone (not only `shipped`),
    each under its own name; so are the other free texts of the order's life."""
    from marketplace.accounts.models import OrganizationKind, Role
    from marketplace.orders.errors import OrderError
    from marketplace.orders.models import Dispute
    from marketplace.orders.production.disputes import resolve_dispute

    shop = make_shop(hours=40)
    order = confirmed_order(db_session, dispatcher, database, buyer, shop)
    factory = new_browser()
    factory.login(shop.owner)
    url = f"/api/v1/orders/{order.id}/milestones"
    for data, field in (
        ({"kind": "started", "carrier": "C" * 81}, "carrier"),
        ({"kind": "started", "tracking_number": "T" * 121}, "tracking_number"),
        ({"kind": "started", "note": "N" * 2001}, "note"),
        ({"kind": "shipped", "carrier": "C" * 81, "tracking_number": "JD01"}, "carrier"),
        ({"kind": "shipped", "carrier": "DHL", "tracking_number": "T" * 121}, "tracking_number"),
    ):
        response = factory.api("POST", url, data=data, content_type="multipart/form-data")
        assert response.status_code == 422, (data, response.get_data(as_text=True))
        assert [f["field"] for f in response.get_json()["fields"]] == [field], data
    assert db_session.exec(select(Milestone)).all() == []
    # At the limit, with spaces around that are not kept, the texts are taken.
    response = factory.api(
        "POST",
        url,
        data={"kind": "started", "carrier": " " + "C" * 80 + " ", "tracking_number": "T" * 120},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["carrier"] == "C" * 80

    browser.login(buyer)
    response = browser.form(f"/orders/{order.id}/dispute", {"reason": "Bores out of tolerance"})
    assert response.status_code == 303
    dispute = db_session.exec(select(Dispute)).one()
    operator = principal(db_session, make_member(OrganizationKind.OPERATOR, Role.OPERATOR))
    try:
        resolve_dispute(db_session, operator, dispute.id, "R" * 4001)
    except OrderError as error:
        assert error.field == "resolution"
    else:
        raise AssertionError("a resolution longer than its column was taken")
    db_session.rollback()
    resolved = resolve_dispute(db_session, operator, dispute.id, " " + "R" * 4000 + " ")
    assert resolved.resolution == "R" * 4000
    db_session.commit()
    response = browser.api(
        "POST",
        f"/api/v1/orders/{order.id}/ratings",
        json={"score": 4, "factory_id": shop.id, "comment": "x" * 2001},
    )
    assert response.status_code == 422
    assert [f["field"] for f in response.get_json()["fields"]] == ["comment"]
