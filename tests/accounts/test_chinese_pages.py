"""Account pages in Chinese: scopes of machine clients and members' roles are said in
Chinese, not as English descriptions or role codes; refusals of the account services too."""

from marketplace.accounts.models import OrganizationKind, Role


def test_client_scopes_and_member_roles_in_chinese(browser, make_member):
    owner = make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)
    browser.login(owner)
    browser.get("/lang/zh")
    clients = browser.get("/account/clients").get_data(as_text=True)
    assert "capacity:write — 发布空闲产能" in clients
    assert "publish free capacity" not in clients
    members = browser.get("/account/members").get_data(as_text=True)
    table = members.split('id="members"')[1].split("</table>")[0]
    assert "<td>工厂所有者</td>" in table and "<td>factory_owner</td>" not in table


def test_account_refusals_in_chinese(browser, make_member):
    owner = make_member(OrganizationKind.FACTORY, Role.FACTORY_OWNER)
    browser.login(owner)
    browser.get("/lang/zh")
    response = browser.form(
        "/account/members",
        {"email": owner.email, "display_name": "Me again", "role": "factory_member"},
    )
    assert "此人已是成员" in response.get_data(as_text=True)
