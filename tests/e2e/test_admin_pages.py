"""The admin screens at /admin/ in real headless Chromium against a real `mailreg serve` on
PostgreSQL, found by the labels and roles issue 14 fixes: the whole story in Japanese, live
updates between two browsers, and the same screens in English."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.e2e.browser import (
    ADMIN_TOKEN,
    DESKTOP,
    PHONE,
    Api,
    browser,
    context,
    open_tab,
    screen,
    server,
    sign_in_link,
)
from tests.e2e.conftest import LiveServer
from tests.support import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
__all__ = ["browser", "context", "server"]  # fixtures


def main(page: Page) -> Locator:
    return page.get_by_role("main")


def heading(page: Page, name: str) -> Locator:
    return page.get_by_role("heading", level=1, name=name, exact=True)


def row(page: Page, code: str) -> Locator:
    return main(page).get_by_role("row").filter(has=page.get_by_text(code, exact=True))


def listed_codes(page: Page) -> list[str]:
    return [
        r.get_by_role("cell").nth(1).inner_text().strip() for r in main(page).locator("tbody").get_by_role("row").all()
    ]


def group(page: Page, name: str) -> Locator:
    return page.get_by_role("group", name=name, exact=True)


def test_the_whole_story_in_japanese(server: LiveServer, context: BrowserContext):
    api = Api(server)
    api.delete_all()
    tab = open_tab(context)
    page = tab.page

    # Sign in with a token typed into the page.
    page.goto(f"{server.url}/admin/")
    expect(heading(page, "サインイン")).to_be_visible()
    tab.shot("ja-sign-in")
    page.get_by_label("アクセストークン", exact=True).fill("not-a-token")
    page.get_by_role("button", name="サインイン").click()
    expect(page.get_by_label("アクセストークン", exact=True)).to_have_attribute("aria-invalid", "true")
    page.get_by_label("アクセストークン", exact=True).fill(ADMIN_TOKEN)
    page.get_by_role("button", name="サインイン").click()
    expect(heading(page, "メールサーバーの設定")).to_be_visible()
    expect(main(page)).to_contain_text("メールサーバーは登録されていません。")
    expect(page.locator("#live")).to_have_text("ライブ更新中")

    # A Google OAuth server: the host fields are the provider's, and disabled.
    main(page).get_by_role("link", name="メールサーバーを追加する").click()
    expect(heading(page, "メールサーバーの追加")).to_be_visible()
    page.get_by_label("メールサーバーコード", exact=True).fill("gmail")
    page.get_by_label("メールサーバーの名称", exact=True).fill("Gmail")
    page.get_by_label("メールの送受信にOAuthを使用する", exact=True).check()
    expect(page.get_by_label("OAuthクライアント", exact=True)).to_have_value("GOOGLE")
    for label, value in [
        ("送信メールサーバー名(SMTP)", "smtp.gmail.com"),
        ("送信メールサーバーポート番号", "465"),
        ("受信メールサーバー名", "pop.gmail.com"),
        ("受信メールサーバーポート番号", "995"),
    ]:
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
        expect(page.get_by_label(label, exact=True)).to_be_disabled()
    expect(group(page, "暗号化通信").get_by_label("TLSを使用する", exact=True)).to_be_checked()
    expect(group(page, "暗号化通信").get_by_label("TLSを使用する", exact=True)).to_be_disabled()
    expect(page.get_by_label("SMTP認証方式", exact=True)).to_have_value("XOAUTH2")
    expect(page.get_by_label("メールサーバーとの通信にTLSを使用する", exact=True)).to_be_checked()
    expect(page.get_by_label("メールサーバーとの通信にTLSを使用する", exact=True)).to_be_disabled()
    expect(group(page, "APOP認証")).to_have_count(0)
    group(page, "受信プロトコル").get_by_label("IMAP4", exact=True).check()
    expect(page.get_by_label("受信メールサーバー名", exact=True)).to_have_value("imap.gmail.com")
    tab.shot("ja-add-oauth")
    page.get_by_role("button", name="追加する", exact=True).click()
    expect(heading(page, "メールサーバーの設定")).to_be_visible()
    expect(row(page, "gmail")).to_contain_text("imap.gmail.com:993")
    expect(row(page, "gmail")).to_contain_text("OAuth · Google")

    # A POP3 server with APOP.
    main(page).get_by_role("link", name="メールサーバーを追加する").click()
    page.get_by_label("メールサーバーコード", exact=True).fill("office-pop")
    page.get_by_label("メールサーバーの名称", exact=True).fill("本社POP")
    page.get_by_label("送信メールサーバー名(SMTP)", exact=True).fill("smtp.example.com")
    page.get_by_label("送信メールサーバーポート番号", exact=True).fill("25")
    expect(group(page, "受信プロトコル").get_by_label("POP3", exact=True)).to_be_checked()
    page.get_by_label("受信メールサーバー名", exact=True).fill("pop.example.com")
    page.get_by_label("受信メールサーバーポート番号", exact=True).fill("110")
    group(page, "APOP認証").get_by_label("使用する", exact=True).check()
    page.get_by_role("button", name="追加する", exact=True).click()
    expect(row(page, "office-pop")).to_contain_text("APOP")

    # A bad port: the message sits next to the field, and nothing typed is lost.
    main(page).get_by_role("link", name="メールサーバーを追加する").click()
    page.get_by_label("メールサーバーコード", exact=True).fill("office-imap")
    page.get_by_label("メールサーバーの名称", exact=True).fill("本社IMAP")
    page.get_by_label("送信メールサーバー名(SMTP)", exact=True).fill("smtp.example.com")
    page.get_by_label("送信メールサーバーポート番号", exact=True).fill("70000")
    group(page, "暗号化通信").get_by_label("STARTTLSを使用する", exact=True).check()
    page.get_by_label("SMTP認証方式", exact=True).select_option("CRAM_MD5")
    group(page, "送信用のアカウントとパスワード").get_by_label("設定する", exact=True).check()
    group(page, "受信プロトコル").get_by_label("IMAP4", exact=True).check()
    expect(group(page, "APOP認証")).to_have_count(0)
    page.get_by_label("受信メールサーバー名", exact=True).fill("imap.example.com")
    page.get_by_label("受信メールサーバーポート番号", exact=True).fill("993")
    page.get_by_label("メールサーバーとの通信にTLSを使用する", exact=True).check()
    page.get_by_role("button", name="追加する", exact=True).click()
    port = page.get_by_label("送信メールサーバーポート番号", exact=True)
    expect(port).to_have_attribute("aria-invalid", "true")
    message = page.locator(f"#{port.get_attribute('aria-describedby')}")
    expect(message).to_contain_text("範囲外")
    expect(port).to_have_accessible_description(re.compile("範囲外"))
    expect(page.get_by_label("メールサーバーコード", exact=True)).to_have_value("office-imap")
    expect(page.get_by_label("受信メールサーバー名", exact=True)).to_have_value("imap.example.com")
    expect(page.get_by_label("SMTP認証方式", exact=True)).to_have_value("CRAM_MD5")
    expect(page.get_by_label("メールサーバーとの通信にTLSを使用する", exact=True)).to_be_checked()
    tab.shot("ja-add-error")
    port.fill("587")
    page.get_by_role("button", name="追加する", exact=True).click()
    expect(heading(page, "メールサーバーの設定")).to_be_visible()
    assert listed_codes(page) == ["gmail", "office-pop", "office-imap"]
    tab.shot("ja-list")
    page.get_by_role("navigation").get_by_role("link", name="メールサーバーの設定").click()
    expect(main(page).get_by_role("status")).to_have_count(0)
    tab.shot("readme-list", height=400)  # docs/admin-list.png is a copy of this one

    # Change one.
    row(page, "office-pop").get_by_role("link", name="本社POP").click()
    expect(heading(page, "メールサーバーの詳細")).to_be_visible()
    expect(main(page).get_by_role("button", name="接続を確認する")).to_be_visible()
    main(page).get_by_role("link", name="変更する").click()
    expect(heading(page, "メールサーバーの変更")).to_be_visible()
    expect(page.get_by_label("受信メールサーバーポート番号", exact=True)).to_have_value("110")
    page.get_by_label("メールサーバーの名称", exact=True).fill("本社POP3")
    page.get_by_label("受信メールサーバーポート番号", exact=True).fill("")
    page.get_by_role("button", name="変更する", exact=True).click()
    expect(page.get_by_label("受信メールサーバーポート番号", exact=True)).to_have_accessible_description(
        "入力してください。"
    )
    expect(page.get_by_label("メールサーバーの名称", exact=True)).to_have_value("本社POP3")
    page.get_by_label("受信メールサーバーポート番号", exact=True).fill("995")
    page.get_by_label("メールサーバーとの通信にTLSを使用する", exact=True).check()
    group(page, "受信メールサーバー").get_by_label("タイムアウトまでの時間", exact=True).select_option("90")
    tab.shot("ja-change")
    page.get_by_role("button", name="変更する", exact=True).click()
    expect(heading(page, "メールサーバーの詳細")).to_be_visible()
    history = main(page).get_by_role("table")
    expect(history).to_contain_text("本社POP → 本社POP3")
    expect(history).to_contain_text("受信メールサーバーポート番号: 110 → 995")
    expect(history.get_by_role("row").nth(1)).to_contain_text("browser-admin")
    tab.shot("ja-detail")

    # Reorder by keyboard only.
    page.get_by_role("navigation").get_by_role("link", name="メールサーバーの設定").click()
    main(page).get_by_role("link", name="メールサーバーを順番変更する").click()
    expect(heading(page, "メールサーバーの順番変更")).to_be_visible()
    items = main(page).get_by_role("listitem")
    items.filter(has_text="office-imap").get_by_role("button", name="先頭へ", exact=True).focus()
    page.keyboard.press("Enter")
    expect(items.first).to_contain_text("office-imap")
    # 先頭へ is now disabled: the keyboard stays on the moved row, at its first usable button.
    assert page.evaluate("document.activeElement.textContent") == "下へ"
    items.filter(has_text="gmail").get_by_role("button", name="末尾へ", exact=True).focus()
    page.keyboard.press("Space")
    expect(items.last).to_contain_text("gmail")
    tab.shot("ja-reorder")
    main(page).get_by_role("button", name="変更する", exact=True).click()
    expect(heading(page, "メールサーバーの設定")).to_be_visible()
    expect(main(page).locator("tbody")).to_contain_text("office-imap")
    assert listed_codes(page) == ["office-imap", "office-pop", "gmail"]
    assert api.codes() == ["office-imap", "office-pop", "gmail"]

    # Delete one (はい).
    row(page, "gmail").get_by_role("link", name="Gmail").click()
    main(page).get_by_role("link", name="削除する").click()
    expect(heading(page, "メールサーバーの削除")).to_be_visible()
    expect(main(page)).to_contain_text("gmail")
    tab.shot("ja-delete")
    main(page).get_by_role("button", name="はい").click()
    expect(heading(page, "メールサーバーの設定")).to_be_visible()
    expect(main(page).locator("tbody")).not_to_contain_text("gmail")
    assert listed_codes(page) == ["office-imap", "office-pop"]

    # Its history: newest first, who and when.
    main(page).get_by_role("link", name="変更履歴").click()
    expect(heading(page, "変更履歴")).to_be_visible()
    page.get_by_label("対象のメールサーバー", exact=True).select_option(label="gmail — Gmail")
    rows = main(page).locator("tbody").get_by_role("row")
    expect(rows).to_have_count(3)  # its own events and the list-wide reorder that moved it
    expect(rows.nth(1)).to_contain_text("順番変更")
    expect(rows.first).to_contain_text("削除")
    expect(rows.last).to_contain_text("追加")
    page.get_by_label("対象のメールサーバー", exact=True).select_option(label="すべて")
    page.get_by_label("操作の種類", exact=True).select_option(label="削除")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("browser-admin")
    page.get_by_label("操作の種類", exact=True).select_option(label="すべて")
    tab.shot("ja-history")

    # Delete all.
    page.get_by_role("navigation").get_by_role("link", name="メールサーバーの設定").click()
    main(page).get_by_role("link", name="全メールサーバーを削除する").click()
    expect(heading(page, "全メールサーバーの削除")).to_be_visible()
    expect(main(page)).to_contain_text("2件")
    tab.shot("ja-delete-all")
    main(page).get_by_role("button", name="はい").click()
    expect(main(page)).to_contain_text("メールサーバーは登録されていません。")
    assert api.codes() == []

    # Restore from the change history: the list as it was just after gmail was deleted.
    page.get_by_role("navigation").get_by_role("link", name="変更履歴").click()
    expect(main(page).locator("tbody").get_by_role("row").first).to_contain_text("全削除")
    gmail_deleted = main(page).locator("tbody").get_by_role("row").filter(has=page.get_by_text("gmail", exact=True))
    gmail_deleted.filter(has_text="削除").first.get_by_role("button", name="復元する").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("よろしいですか")
    tab.shot("ja-restore-confirm", full_page=False)
    dialog.get_by_role("button", name="はい").click()
    expect(heading(page, "メールサーバーの設定")).to_be_visible()
    expect(main(page).locator("tbody")).to_contain_text("office-pop")
    assert listed_codes(page) == ["office-imap", "office-pop"]
    tab.assert_no_console_errors()


def test_live_between_two_browsers(server: LiveServer, browser: Browser, tmp_path_factory: pytest.TempPathFactory):
    api = Api(server)
    api.delete_all()
    first = api.add("live-a", "Live A")
    second = api.add("live-b", "Live B")
    contexts = [browser.new_context(viewport=DESKTOP) for _ in range(2)]
    a, b = (open_tab(c) for c in contexts)
    try:
        for tab in (a, b):
            tab.page.goto(sign_in_link(server))
            expect(row(tab.page, "live-a")).to_be_visible()
            expect(tab.page.locator("#live")).to_have_text("ライブ更新中")
        a.page.evaluate("window.notReloaded = true")

        # A change saved in B shows in A's list.
        b.page.goto(screen(server, f"/servers/{first}/edit"))
        b.page.get_by_label("メールサーバーの名称", exact=True).fill("Live A2")
        b.page.get_by_role("button", name="変更する", exact=True).click()
        expect(heading(b.page, "メールサーバーの詳細")).to_be_visible()
        expect(row(a.page, "live-a")).to_contain_text("Live A2")

        # A's detail and history follow changes made elsewhere.
        row(a.page, "live-b").get_by_role("link", name="Live B").click()
        expect(heading(a.page, "メールサーバーの詳細")).to_be_visible()
        api.gql(
            "mutation($id: ID!) { changeMailServer(input: {id: $id, outgoing: {port: 2525}}) { errors { code } } }",
            {"id": second},
        )
        expect(main(a.page).get_by_role("table")).to_contain_text("送信メールサーバーポート番号: 25 → 2525")
        expect(main(a.page)).to_contain_text("2525")

        # A change form whose server changed meanwhile says so, keeps what was typed, and offers the new values.
        main(a.page).get_by_role("link", name="変更する").click()
        expect(heading(a.page, "メールサーバーの変更")).to_be_visible()
        a.page.get_by_label("メールサーバーの名称", exact=True).fill("A's name")
        api.gql(
            "mutation($id: ID!, $name: String) { changeMailServer(input: {id: $id, name: $name}) { errors { code } } }",
            {"id": second, "name": "B's name"},
        )
        expect(main(a.page).get_by_role("status")).to_contain_text("他の操作で変更されました")
        a.page.get_by_role("button", name="変更する", exact=True).click()
        expect(main(a.page).get_by_role("alert")).to_contain_text("他の操作で変更されました")
        expect(a.page.get_by_label("メールサーバーの名称", exact=True)).to_have_value("A's name")
        assert "B's name" in str(api.gql("{ mailServers { items { name } } }"))
        a.shot("ja-change-conflict")
        a.page.get_by_role("button", name="新しい値を読み込む").click()
        expect(a.page.get_by_label("メールサーバーの名称", exact=True)).to_have_value("B's name")

        # The user-account preview's drop-down follows a reorder made by drag and drop in B.
        a.page.get_by_role("navigation").get_by_role("link", name="ユーザーアカウントのメール設定").click()
        expect(heading(a.page, "ユーザーアカウントのメール設定")).to_be_visible()
        choices = a.page.get_by_label("メールサーバー", exact=True).locator("option")
        expect(choices).to_have_text(["(選択してください)", "Live A2", "B's name"])
        a.page.get_by_label("メールサーバー", exact=True).select_option(label="Live A2")
        a.shot("ja-preview")
        b.page.goto(screen(server, "/reorder"))
        items = main(b.page).get_by_role("listitem")
        expect(items).to_have_count(2)
        items.nth(1).drag_to(items.nth(0))
        expect(items.first).to_contain_text("live-b")
        main(b.page).get_by_role("button", name="変更する", exact=True).click()
        expect(heading(b.page, "メールサーバーの設定")).to_be_visible()
        expect(choices).to_have_text(["(選択してください)", "B's name", "Live A2"])
        expect(a.page.get_by_label("メールサーバー", exact=True)).to_have_value(first)

        # After the connection drops, the page resumes after the last event it saw.
        a.page.get_by_role("navigation").get_by_role("link", name="変更履歴").click()
        expect(heading(a.page, "変更履歴")).to_be_visible()
        other = LiveServer(database_url=server.database_url, data_dir=tmp_path_factory.mktemp("admin-other")).start()
        try:
            server.stop()
            expect(a.page.locator("#live")).to_have_text("再接続しています…")
            Api(other).gql(
                "mutation($id: ID!) { deleteMailServer(input: {id: $id}) { errors { code } } }", {"id": first}
            )
            server.start()
        finally:
            other.stop()
        expect(a.page.locator("#live")).to_have_text("ライブ更新中", timeout=20_000)
        rows = main(a.page).locator("tbody").get_by_role("row")
        expect(rows.first).to_contain_text("削除")
        expect(rows.first).to_contain_text("live-a")
        assert a.page.evaluate("window.notReloaded") is True
        # While the server was away, Chromium reports the failed reconnection attempts; nothing else.
        for tab in (a, b):
            tab.problems[:] = [p for p in tab.problems if "WebSocket connection" not in p]
            tab.assert_no_console_errors()
    finally:
        for c in contexts:
            c.close()


def test_the_same_screens_in_english(server: LiveServer, context: BrowserContext):
    api = Api(server)
    api.delete_all()
    first = api.add("hq", "Head office")
    api.add("branch", "Branch office")
    # Nothing listens on these ports: the connection check finds that out.
    local = api.add("local", "Loopback", port=free_port(), host="127.0.0.1", incoming_port=free_port())
    tab = open_tab(context)
    page = tab.page
    page.goto(sign_in_link(server, lang="en"))
    expect(heading(page, "Mail server settings")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    for name in ["Add mail server", "Reorder mail servers", "Delete all mail servers", "Change history"]:
        expect(main(page).get_by_role("link", name=name, exact=True)).to_be_visible()
    tab.shot("en-list")

    # Remembered without ?lang=.
    page.goto(f"{server.url}/admin/#/servers/new")
    expect(heading(page, "Add mail server")).to_be_visible()
    page.get_by_label("Mail server code", exact=True).fill("new")
    page.get_by_label("Mail server name", exact=True).fill("New")
    for legend in ["OAuth", "Outgoing mail server", "Encryption", "Incoming mail server", "Protocol", "APOP"]:
        expect(group(page, legend)).to_be_visible()
    page.get_by_label("Use OAuth for sending and receiving", exact=True).check()
    page.get_by_label("OAuth client", exact=True).select_option(label="Microsoft")
    expect(page.get_by_label("Outgoing server (SMTP)", exact=True)).to_have_value("smtp.office365.com")
    expect(group(page, "Encryption").get_by_label("Use STARTTLS", exact=True)).to_be_checked()
    page.get_by_label("Use OAuth for sending and receiving", exact=True).uncheck()
    page.get_by_label("Outgoing server (SMTP)", exact=True).fill("smtp.example.com")
    page.get_by_label("Outgoing port", exact=True).fill("0")
    page.get_by_label("SMTP authentication", exact=True).select_option("PLAIN")
    group(page, "Sending account and password").get_by_label("Use the receiving account", exact=True).check()
    page.get_by_label("Incoming server", exact=True).fill("pop.example.com")
    page.get_by_label("Incoming port", exact=True).fill("110")
    group(page, "APOP").get_by_label("Don't use", exact=True).check()
    group(page, "Incoming mail server").get_by_label("Timeout", exact=True).select_option("30")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_label("Outgoing port", exact=True)).to_have_accessible_description(re.compile("out of range"))
    tab.shot("en-add-error")
    page.get_by_label("Outgoing port", exact=True).fill("587")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(row(page, "new")).to_contain_text("smtp.example.com:587")

    row(page, "hq").get_by_role("link", name="Head office").click()
    expect(heading(page, "Mail server details")).to_be_visible()
    expect(main(page).get_by_role("link", name="Change", exact=True)).to_be_visible()
    page.goto(screen(server, f"/servers/{local}"))
    expect(heading(page, "Mail server details")).to_be_visible()
    main(page).get_by_role("button", name="Check connection").click()
    result = main(page).locator("#verify-result")
    expect(result).to_contain_text("Failed")
    expect(result.get_by_role("listitem")).to_have_count(2)
    expect(result.get_by_role("listitem").first).to_contain_text("Nothing accepts connections")
    tab.shot("en-detail")
    api.gql("mutation($id: ID!) { deleteMailServer(input: {id: $id}) { errors { code } } }", {"id": local})
    page.goto(screen(server, f"/servers/{first}"))
    main(page).get_by_role("link", name="Delete", exact=True).click()
    expect(heading(page, "Delete mail server")).to_be_visible()
    main(page).get_by_role("link", name="No", exact=True).click()
    expect(heading(page, "Mail server details")).to_be_visible()

    page.goto(screen(server, "/reorder"))
    expect(heading(page, "Reorder mail servers")).to_be_visible()
    item = main(page).get_by_role("listitem").filter(has_text="branch")
    for name in ["Up", "To top", "To bottom"]:
        expect(item.get_by_role("button", name=name, exact=True)).to_be_visible()
    item.get_by_role("button", name="Down", exact=True).press("Enter")
    main(page).get_by_role("listitem").filter(has_text="hq").focus()
    page.keyboard.press("Alt+ArrowDown")
    expect(main(page).get_by_role("listitem").first).to_contain_text("new")
    main(page).get_by_role("button", name="Change", exact=True).click()
    expect(heading(page, "Mail server settings")).to_be_visible()
    assert listed_codes(page) == ["new", "hq", "branch"]

    # The newest 50 events first; older ones on request.
    for n in range(50):
        api.gql(
            "mutation($id: ID!, $name: String) { changeMailServer(input: {id: $id, name: $name}) { errors { code } } }",
            {"id": first, "name": f"Head office {n}"},
        )

    page.get_by_role("navigation").get_by_role("link", name="Change history").click()
    expect(heading(page, "Change history")).to_be_visible()
    events = main(page).locator("tbody").get_by_role("row")
    expect(events).to_have_count(50)
    expect(events.first).to_contain_text("Head office 48 → Head office 49")
    expect(events.last).to_contain_text("Head office → Head office 0")
    main(page).get_by_role("button", name="Show older events").click()
    expect(events.nth(50)).to_contain_text("Reordered")
    expect(main(page).get_by_role("button", name="Restore").first).to_be_visible()
    tab.shot("en-history")
    page.goto(screen(server, "/delete-all"))
    expect(heading(page, "Delete all mail servers")).to_be_visible()
    expect(main(page).get_by_role("button", name="Yes")).to_be_visible()
    page.get_by_role("navigation").get_by_role("link", name="User account mail settings").click()
    expect(page.get_by_label("Mail server", exact=True).locator("option")).to_have_text(
        ["(choose one)", "New", "Head office 49", "Branch office"]
    )

    # The switch goes back to Japanese, and is remembered.
    page.get_by_role("button", name="日本語").click()
    expect(heading(page, "ユーザーアカウントのメール設定")).to_be_visible()
    page.reload()
    expect(heading(page, "ユーザーアカウントのメール設定")).to_be_visible()
    page.get_by_role("button", name="English").click()

    # Usable at 390 px: nothing wider than the screen.
    page.set_viewport_size(PHONE)
    page.goto(f"{server.url}/admin/#/")
    expect(row(page, "hq")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    tab.shot("en-list-phone")
    page.goto(screen(server, f"/servers/{first}/edit"))
    expect(heading(page, "Change mail server")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    tab.shot("en-change-phone")
    tab.assert_no_console_errors()


def test_the_embedded_default_prints_a_link_that_signs_in(browser: Browser, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("embedded")
    embedded = LiveServer(
        database_url=f"sqlite+aiosqlite:///{folder / 'mailreg.sqlite3'}",
        data_dir=folder,
        extra_env={"MAILREG_JWT_SECRET": ""},
    ).start()
    context = browser.new_context(viewport=DESKTOP)
    try:
        link = embedded.wait_for_output(r"admin screens.*: (http://\S+/admin/#token=(\S+))$")
        assert link.group(1).startswith(embedded.url)
        page = httpx.get(f"{embedded.url}/admin", follow_redirects=True)
        assert page.status_code == 200 and "<main" in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        tab = open_tab(context)
        tab.page.goto(link.group(1))
        expect(heading(tab.page, "メールサーバーの設定")).to_be_visible()
        assert "token" not in tab.page.url
        assert tab.page.evaluate("sessionStorage.getItem('mailreg.token')") == link.group(2)
        assert link.group(2) not in tab.page.evaluate("JSON.stringify(localStorage)")
        tab.page.reload()
        expect(heading(tab.page, "メールサーバーの設定")).to_be_visible()

        # The server going away is a banner, not a blank page.
        embedded.stop()
        tab.page.get_by_role("navigation").get_by_role("link", name="変更履歴").click()
        expect(tab.page.get_by_role("alert")).to_contain_text("サーバーに接続できません")
        expect(main(tab.page).get_by_role("button", name="もう一度読み込む")).to_be_visible()
        tab.shot("ja-server-away", full_page=False)
        tab.problems[:] = [p for p in tab.problems if "ERR_CONNECTION_REFUSED" not in p]
        tab.assert_no_console_errors()

        tab.page.get_by_role("button", name="サインアウト").click()
        expect(heading(tab.page, "サインイン")).to_be_visible()
        assert tab.page.evaluate("sessionStorage.getItem('mailreg.token')") is None
    finally:
        context.close()
        embedded.stop()
