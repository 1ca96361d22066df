"""The admin screens at /admin/ in real headless Chromium against a real `mailreg serve` on
PostgreSQL, found by the labels and roles issue 14 fixes: the whole story in Japanese, live
updates between two browsers, and the same screens in English."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.e2e.browser import (
    ADMIN_TOKEN,
    Api,
    browser,
    context,
    open_tab,
    server,
    sign_in_link,
)
from tests.e2e.conftest import LiveServer

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

    # Change one.
    row(page, "office-pop").get_by_role("link", name="本社POP").click()
    expect(heading(page, "メールサーバーの詳細")).to_be_visible()
    expect(main(page).get_by_role("button", name="接続を確認する")).to_be_visible()
    main(page).get_by_role("link", name="変更する").click()
    expect(heading(page, "メールサーバーの変更")).to_be_visible()
    expect(page.get_by_label("受信メールサーバーポート番号", exact=True)).to_have_value("110")
    page.get_by_label("メールサーバーの名称", exact=True).fill("本社POP3")
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


def test_the_printed_link_signs_in_and_leaves_the_address(server: LiveServer, context: BrowserContext):
    tab = open_tab(context)
    tab.page.goto(sign_in_link(server))
    expect(heading(tab.page, "メールサーバーの設定")).to_be_visible()
    assert ADMIN_TOKEN not in tab.page.url
    assert tab.page.evaluate("sessionStorage.getItem('mailreg.token')") == ADMIN_TOKEN
    assert tab.page.evaluate("Object.values(localStorage).join()").find(ADMIN_TOKEN) == -1
    tab.page.get_by_role("button", name="サインアウト").click()
    expect(heading(tab.page, "サインイン")).to_be_visible()
    assert tab.page.evaluate("sessionStorage.getItem('mailreg.token')") is None
    tab.assert_no_console_errors()
