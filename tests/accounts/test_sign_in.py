from marketplace.accounts.models import OrganizationKind, Role


def test_sign_in_and_out(browser, make_member):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    browser.login(buyer)
    me = browser.get("/api/v1/me").get_json()
    assert me["organization_id"] == buyer.organization.id
    assert me["role"] == "buyer_member"
    assert me["csrf_token"]
    assert buyer.user.display_name in browser.get("/").get_data(as_text=True)

    browser.logout()
    assert browser.get("/api/v1/me").status_code == 401


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(browser, make_member):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    buyer.password = "wrong"
    response = browser.form("/login", {"email": buyer.email, "password": "wrong"})
    assert response.status_code == 400
    assert "Unknown email address or wrong password" in response.get_data(as_text=True)
    response = browser.form("/login", {"email": "nobody@example.com", "password": "wrong"})
    assert "Unknown email address or wrong password" in response.get_data(as_text=True)


def test_login_without_csrf_token_is_rejected(client, make_member):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    response = client.post("/login", data={"email": buyer.email, "password": buyer.password})
    assert response.status_code == 400
    assert client.get("/api/v1/me").status_code == 401


def test_login_redirects_only_within_the_site(browser, make_member):
    buyer = make_member(OrganizationKind.BUYER, Role.BUYER_MEMBER)
    response = browser.form(
        "/login",
        {"email": buyer.email, "password": buyer.password, "next": "https://evil.example/"},
    )
    # Not elsewhere: to the person's own home on this site.
    assert response.headers["Location"] == "/home"
