"""Japanese everywhere: with Accept-Language: ja every message a person sees is Japanese
(who may call, bad arguments, refusals before GraphQL, abuse limits, masked errors), and
the command line speaks Japanese when the locale does. In-process on SQLite."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from api.history import MAX_PAGE
from events.database import create_engine
from tests.e2e.conftest import sqlite_url
from tests.e2e.hardening import ADMIN, Harness, in_process, padded_body, tokens
from tests.support import ROOT, SECRET, token

JA = {"Accept-Language": "ja"}
KANA = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def japanese(text: str) -> bool:
    return KANA.search(text) is not None


@pytest.fixture(scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    folder = tmp_path_factory.mktemp("ja")
    async with in_process(sqlite_url(folder), folder) as harness:
        yield harness


async def error_of(site: Harness, query: str, bearer: str | None = ADMIN, lang: dict[str, str] = JA) -> dict[str, Any]:
    response = await site.post({"query": query}, bearer=bearer, headers=lang)
    errors: list[dict[str, Any]] = response.json()["errors"]
    assert len(errors) >= 1, response.text
    return errors[0]


async def test_authentication_and_permission_errors_are_japanese(site: Harness):
    anonymous = await error_of(site, "{ mailServers { totalCount } }", bearer=None)
    clerk = await error_of(site, "{ mailServers { totalCount } }", bearer=token("clerk", roles=[]))
    english = await error_of(site, "{ mailServers { totalCount } }", bearer=None, lang={})

    assert anonymous["message"] == "有効なベアラートークンが必要です。"
    assert anonymous["extensions"]["code"] == "UNAUTHENTICATED"
    assert clerk["message"] == "この操作には管理者(admin)ロールが必要です。"
    assert english["message"] == "A valid bearer token is required."


async def test_bad_input_is_japanese(site: Harness):
    both = await error_of(site, '{ mailServer(id: "x", code: "y") { id } }')
    too_many = await error_of(site, "{ events(first: 1000000) { edges { cursor } } }")
    unknown = await error_of(site, '{ events(after: "999999") { edges { cursor } } }')

    assert both["extensions"]["code"] == "BAD_USER_INPUT"
    assert both["message"] == "id と code のどちらか一方を指定してください。"
    assert too_many["message"] == f"first は 1 から {MAX_PAGE} までの数で指定してください。"
    assert unknown["message"] == "位置 '999999' は存在しません。"


async def test_abuse_limits_are_japanese(site: Harness):
    deep = '{ __type(name: "Query") { ' + "ofType { " * 25 + "name" + " }" * 25 + " } }"
    aliases = "{ " + " ".join(f"a{n}: __typename" for n in range(60)) + " }"

    depth = await error_of(site, deep)
    alias = await error_of(site, aliases)
    token_limit = await error_of(site, tokens(6000))

    assert "入れ子が深すぎます(上限 20 段)" in depth["message"], depth
    assert alias["message"] == "別名(エイリアス)が多すぎます(60 個、上限 50 個)。"
    assert token_limit["message"] == "クエリが長すぎます(トークン数の上限は 5000)。"


async def test_requests_refused_before_graphql_are_japanese(site: Harness):
    too_large = await site.post(padded_body("{ __typename }", 2 * 1024 * 1024), headers=JA)
    not_json = await site.post(b"{nope", headers=JA)
    batch = await site.post([{"query": "{ __typename }"}], headers=JA)
    media = await site.http.post("/graphql", content=b"{}", headers={"content-type": "text/plain", **JA})
    subscription = await site.post({"query": "subscription { mailServerChoicesChanged { id } }"}, headers=JA)

    assert (too_large.status_code, too_large.json()["errors"][0]["message"]) == (
        413,
        "リクエストの本文が 1 MiB を超えています。",
    )
    assert (not_json.status_code, not_json.json()["errors"][0]["message"]) == (
        400,
        "リクエストの本文が正しい JSON ではありません。",
    )
    assert (batch.status_code, batch.json()["errors"][0]["message"]) == (
        400,
        "複数の要求をまとめて送ること(バッチ)はできません。",
    )
    assert media.status_code == 415 and japanese(media.json()["errors"][0]["message"])
    assert subscription.status_code == 400 and japanese(subscription.json()["errors"][0]["message"])


async def test_errors_without_a_translation_get_a_japanese_preface(site: Harness):
    error = await error_of(site, "{ noSuchField }")

    assert error["message"].startswith("要求を処理できませんでした: "), error
    assert "noSuchField" in error["message"]


async def test_masked_internal_errors_are_japanese(site: Harness, monkeypatch: pytest.MonkeyPatch):
    async def broken() -> None:
        raise RuntimeError("a bug with a secret detail")

    monkeypatch.setattr(site.app.state.services.mail_servers, "current", broken)
    error = await error_of(site, "{ mailServers { totalCount } }")

    request_id = error["extensions"]["requestId"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["message"] == f"サーバー内部でエラーが発生しました(リクエストID {request_id})。"


async def test_a_lost_database_is_reported_in_japanese(tmp_path: Path):
    async with in_process(sqlite_url(tmp_path), tmp_path) as lost:
        engine = create_engine(lost.database_url)
        async with engine.begin() as conn:
            await conn.execute(sa.text("DROP TABLE servers"))
        await engine.dispose()
        error = await error_of(lost, "{ mailServers { totalCount } }")

    request_id = error["extensions"]["requestId"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["message"] == (
        f"データベースに接続できません。しばらくしてからやり直してください(リクエストID {request_id})。"
    )


def mailreg(folder: Path, *args: str, **locale: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in ("LANG", "LC_ALL", "LC_MESSAGES")}
    env.update({"MAILREG_DATA_DIR": str(folder), "MAILREG_JWT_SECRET": SECRET, **locale})
    return subprocess.run(
        [sys.executable, "-m", "api", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_the_command_line_speaks_japanese_in_a_japanese_locale(tmp_path: Path):
    missing = mailreg(tmp_path, "check", LANG="ja_JP.UTF-8")
    bad_port = mailreg(tmp_path, "migrate", LC_MESSAGES="ja_JP.UTF-8", MAILREG_PORT="eighty")
    migrated = mailreg(tmp_path, "migrate", LANG="ja_JP.UTF-8")
    rebuilt = mailreg(tmp_path, "rebuild-projections", LANG="ja_JP.UTF-8")
    checked = mailreg(tmp_path, "check", LANG="ja_JP.UTF-8")
    english = mailreg(tmp_path, "check", LANG="ja_JP.UTF-8", LC_ALL="C.UTF-8")

    assert missing.stdout.startswith("mailreg: データベースがありません: "), missing
    assert bad_port.stderr.strip() == "mailreg: MAILREG_PORT には数値を指定してください", bad_port
    assert migrated.stdout.startswith("mailreg: データベースをリビジョン "), migrated
    assert "件のイベントを再生し" in rebuilt.stdout, rebuilt
    assert re.search(r"rebuild-projections: 0 件を [\d.]+ 秒で処理しました", rebuilt.stderr), rebuilt
    assert checked.stdout.startswith("整合しています: イベント 0 件"), checked
    assert english.stdout.startswith("consistent: 0 events"), english
    assert json.dumps(english.stdout).isascii()
