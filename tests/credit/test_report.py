"""The signed credit report: written by the command and the factory's page, checked by
`credit verify` and by a lender with nothing but the public key and `cryptography`. A
report changed, signed with another key, or anchored to a hash the ledger does not hold
fails; bad input exits 2 naming it."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlmodel import select

from factories.credit import report as reports
from factories.models import Factory
from marketplace.accounts.models import OrganizationKind, Role
from marketplace.orders.models import Proposal


def write_report(app, factory: Factory, path) -> dict:  # type: ignore[no-untyped-def]
    answer = app.test_cli_runner().invoke(
        args=["credit", "report", factory.global_id, "--out", str(path)]
    )
    assert answer.exit_code == 0, answer.output
    return json.loads(path.read_text())


def verify(app, path):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["credit", "verify", str(path)])


@pytest.fixture
def shop_factory(db_session, delivered) -> Factory:  # type: ignore[no-untyped-def]
    return db_session.get_one(Factory, delivered.shops[0].id)


def test_a_report_verifies_and_says_what_it_rests_on(app, shop_factory, tmp_path, platform_key):
    path = tmp_path / "report.json"
    document = write_report(app, shop_factory, path)
    report = document["report"]
    assert report["format"] == reports.FORMAT
    assert report["factory"]["global_id"] == shop_factory.global_id
    assert report["score_bps"] == round(shop_factory.credit_score * 10_000)
    assert report["events"] > 0 and report["anchor"]["event_id"] > 0
    assert {c["name"] for c in report["components"]} == {
        "on_time",
        "quality",
        "commitment",
        "cancellations",
        "volume",
    }
    answer = verify(app, path)
    assert answer.exit_code == 0, answer.output
    assert "valid" in answer.output
    # By id too.
    again = app.test_cli_runner().invoke(args=["credit", "report", str(shop_factory.id)])
    assert again.exit_code == 0 and json.loads(again.output)["report"]["factory"]["id"] == (
        shop_factory.id
    )


def test_a_lender_checks_it_with_the_published_key_alone(client, app, shop_factory, tmp_path):
    """The snippet of docs/credit.md, with the key from GET /api/v1/credit/public-key."""
    document = write_report(app, shop_factory, tmp_path / "report.json")
    published = client.get("/api/v1/credit/public-key").get_json()
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(published["public_key"]))
    assert isinstance(load_pem_public_key(published["pem"].encode()), Ed25519PublicKey)
    message = json.dumps(
        document["report"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    key.verify(base64.b64decode(document["signature"]["value"]), message)
    assert document["signature"]["key_id"] == published["key_id"]


def test_a_changed_report_fails(app, shop_factory, tmp_path):
    path = tmp_path / "report.json"
    document = write_report(app, shop_factory, path)
    document["report"]["score_bps"] = 10_000
    path.write_text(json.dumps(document))
    answer = verify(app, path)
    assert answer.exit_code == 1
    assert "bad signature" in answer.output


def test_a_report_signed_with_another_key_fails(app, db_session, shop_factory, tmp_path):
    other = Ed25519PrivateKey.generate()
    document = reports.sign(reports.build(db_session, shop_factory), other)
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(document))
    answer = verify(app, path)
    assert answer.exit_code == 1
    assert "bad signature" in answer.output


def test_a_report_anchored_to_an_unknown_hash_fails(
    app, db_session, shop_factory, tmp_path, platform_key
):
    report = reports.build(db_session, shop_factory)
    report["anchor"]["hash"] = "ab" * 32
    path = tmp_path / "unanchored.json"
    path.write_text(json.dumps(reports.sign(report, platform_key)))
    answer = verify(app, path)
    assert answer.exit_code == 1
    assert f"anchor hash {'ab' * 32} is not in the ledger" in answer.output


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "cannot read"), (b"\xff\xfe not json", "not a JSON document"), (b"{", "not a JSON")],
)
def test_an_unreadable_report_exits_2_naming_it(app, tmp_path, content, says):
    path = tmp_path / "report.json"
    if content is not None:
        path.write_bytes(content)
    answer = verify(app, path)
    assert answer.exit_code == 2
    assert "FILE" in answer.output and says in answer.output


def test_not_a_report_exits_1(app, tmp_path):
    path = tmp_path / "report.json"
    path.write_text("[1, 2]")
    answer = verify(app, path)
    assert answer.exit_code == 1 and "not a credit report" in answer.output


@pytest.mark.parametrize("reference", ["999999", "urn:factoryweb:factory:nobody", "99999999999999"])
def test_an_unknown_factory_exits_2_naming_it(app, reference):
    answer = app.test_cli_runner().invoke(args=["credit", "report", reference])
    assert answer.exit_code == 2
    assert reference in answer.output


def test_the_factory_downloads_its_report_and_sees_its_breakdown(
    browser, db_session, delivered, make_member
):
    shop = delivered.shops[0]
    browser.login(shop.owner)
    page = browser.get(f"/supply/factories/{shop.id}/credit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "On-time delivery" in html and f'href="/orders/{delivered.id}"' in html
    download = browser.get(f"/supply/factories/{shop.id}/credit/report.json")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    assert json.loads(download.get_data())["report"]["factory"]["id"] == shop.id
    api = browser.get(f"/api/v1/factories/{shop.id}/credit").get_json()
    assert api["score"] == db_session.get_one(Factory, shop.id).credit_score
    assert delivered.id in next(c for c in api["components"] if c["name"] == "on_time")["order_ids"]


def test_a_buyer_sees_the_components_without_other_buyers_orders(
    new_browser, delivered, make_member
):
    shop = delivered.shops[0]
    other_buyer = new_browser()
    other_buyer.login(make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER))
    api = other_buyer.get(f"/api/v1/factories/{shop.id}/credit").get_json()
    assert all("order_ids" not in c for c in api["components"])
    assert other_buyer.get(f"/supply/factories/{shop.id}/credit/report.json").status_code == 404
    competitor = new_browser()
    competitor.login(make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER))
    assert competitor.get(f"/api/v1/factories/{shop.id}/credit").status_code == 404
    assert competitor.get(f"/supply/factories/{shop.id}/credit").status_code == 404


def test_the_buyer_follows_the_credit_of_its_proposals(browser, db_session, delivered):
    browser.login(delivered.buyer)
    shop = delivered.shops[0]
    page = browser.get(f"/orders/{delivered.id}").get_data(as_text=True)
    assert f'href="/supply/factories/{shop.id}/credit"' in page
    proposal = db_session.exec(
        select(Proposal).where(Proposal.order_id == delivered.id, Proposal.factory_id == shop.id)
    ).first()
    detail = browser.get(f"/proposals/{proposal.id}").get_data(as_text=True)
    assert f'href="/supply/factories/{shop.id}/credit"' in detail
    assert "the engine prefers the more reliable shop" in detail
    credit = browser.get(f"/supply/factories/{shop.id}/credit")
    assert credit.status_code == 200
    html = credit.get_data(as_text=True)
    assert "On-time delivery" in html and f'href="/orders/{delivered.id}"' not in html
