"""Helpers for the admin page tests: a real `mailreg serve` on PostgreSQL, Debian's
Chromium driven by Playwright, pages that record console errors, screenshots as artifacts."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from tests.e2e.conftest import LiveServer
from tests.support import ROOT, create_pg_database, drop_pg_database, token

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts" / "admin"
ADMIN_TOKEN = token("browser-admin")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass
class Tab:
    """A page with every console error and uncaught exception it produced."""

    page: Page
    problems: list[str] = field(default_factory=list)

    def assert_no_console_errors(self) -> None:
        assert self.problems == [], "\n".join(self.problems)

    def shot(self, name: str, *, full_page: bool = True, height: int | None = None) -> None:
        """A screenshot under artifacts/admin/ (git-ignored); `height` crops it from the top."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = str(ARTIFACTS / f"{name}.png")
        if height is None:
            self.page.screenshot(path=path, full_page=full_page)
        else:
            width = self.page.viewport_size["width"] if self.page.viewport_size else 1280
            self.page.screenshot(path=path, clip={"x": 0, "y": 0, "width": width, "height": height})


def open_tab(context: BrowserContext) -> Tab:
    page = context.new_page()
    tab = Tab(page)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            tab.problems.append(f"console: {message.text} ({message.location.get('url')})")

    page.on("console", console)
    page.on("pageerror", lambda error: tab.problems.append(f"uncaught: {error}"))
    return tab


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real `mailreg serve` on a fresh, migrated PostgreSQL database."""
    url = asyncio.run(create_pg_database())
    live = LiveServer(database_url=url, data_dir=tmp_path_factory.mktemp("admin-serve"))
    try:
        live.cli("migrate")
        live.start()
        yield live
    finally:
        live.stop()
        asyncio.run(drop_pg_database(url))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; never a browser Playwright downloads."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    created = browser.new_context(viewport=DESKTOP, locale="ja-JP")
    try:
        yield created
    finally:
        created.close()


class Api:
    """The GraphQL API over plain HTTP, for arranging data and checking what the page did."""

    def __init__(self, server: LiveServer) -> None:
        self.url = f"{server.url}/graphql"

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(
            self.url,
            json={"query": query, "variables": variables or {}},
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        )
        body = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    def add(
        self, code: str, name: str, port: int = 25, host: str = "smtp.example.com", incoming_port: int = 143
    ) -> str:
        payload = self.gql(
            "mutation($input: AddMailServerInput!) { addMailServer(input: $input) { server { id } errors { code } } }",
            {
                "input": {
                    "code": code,
                    "name": name,
                    "outgoing": {"host": host, "port": port},
                    "incoming": {"protocol": "IMAP4", "host": host.replace("smtp", "imap"), "port": incoming_port},
                }
            },
        )["addMailServer"]
        assert payload["errors"] == []
        server_id: str = payload["server"]["id"]
        return server_id

    def codes(self) -> list[str]:
        return [s["code"] for s in self.gql("{ mailServers { items { code } } }")["mailServers"]["items"]]

    def delete_all(self) -> None:
        self.gql("mutation { deleteAllMailServers { deletedCount } }")


def sign_in_link(server: LiveServer, lang: str | None = None) -> str:
    """The link `mailreg serve` prints, for the test's admin token."""
    query = f"?lang={lang}" if lang else ""
    return f"{server.url}/admin/{query}#token={ADMIN_TOKEN}"


def screen(server: LiveServer, path: str) -> str:
    return f"{server.url}/admin/#{path}"
