"""GraphiQL works on a network without internet access: Debian's Chromium, driven by
Playwright, loads /graphql from a real `mailreg serve` with every request that does not
go to 127.0.0.1 aborted, and the page renders, offers the bearer header and runs a query."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import sqlite_url
from tests.e2e.hardening import ADMIN
from tests.e2e.live import LiveServer

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
RESULT = ".result-window .CodeMirror"
playwright_sync = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("graphiql")
    live = LiveServer(database_url=sqlite_url(folder), data_dir=folder)
    live.start(timeout=45)
    yield live
    live.stop()


def editor_text(page: object, selector: str) -> str:
    return str(page.locator(selector).first.evaluate("node => node.CodeMirror.getValue()"))  # type: ignore[attr-defined]


@pytest.mark.skipif(not CHROMIUM.exists() and shutil.which("chromium") is None, reason="Debian's chromium is missing")
def test_graphiql_renders_and_runs_a_query_with_no_network_beyond_loopback(server: LiveServer):
    outside: list[str] = []
    loaded: list[str] = []
    with playwright_sync.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page()

            def only_loopback(route: playwright_sync.Route) -> None:
                url = route.request.url
                if urlsplit(url).hostname == "127.0.0.1":
                    loaded.append(url)
                    route.continue_()
                else:
                    outside.append(url)
                    route.abort()

            page.route("**/*", only_loopback)
            page.goto(f"{server.url}/graphql", wait_until="load")
            page.wait_for_selector(QUERY_EDITOR, timeout=30_000)

            headers = json.loads(editor_text(page, HEADERS_EDITOR))
            assert headers == {"Authorization": "Bearer "}

            page.locator(HEADERS_EDITOR).first.evaluate(
                "(node, value) => node.CodeMirror.setValue(value)", json.dumps({"Authorization": f"Bearer {ADMIN}"})
            )
            page.locator(QUERY_EDITOR).first.evaluate(
                "node => node.CodeMirror.setValue('{ mailServers { totalCount } }')"
            )
            page.click(".graphiql-execute-button")
            page.wait_for_function(
                f"() => document.querySelector('{RESULT}')?.CodeMirror.getValue().includes('totalCount')",
                timeout=30_000,
            )
            result = editor_text(page, RESULT)
        finally:
            browser.close()

    assert outside == [], f"the page asked beyond loopback: {outside}"
    assert any("/graphiql-assets/graphiql.min.js" in url for url in loaded), loaded
    assert '"totalCount": 0' in result, result
