"""Japanese for every message a person sees, kept beside the English the code writes:
GraphQL errors (with Accept-Language: ja), refusals before GraphQL, and the command
line's messages (when the locale is Japanese). One catalog of patterns, one function."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult as StrawberryExecutionResult

_ID = r"(?P<id>[^)]*)"

# (English as the code writes it, Japanese with the same named parts).
_CATALOG: tuple[tuple[str, str], ...] = (
    # Who may call.
    (r"A valid bearer token is required\.", "有効なベアラートークンが必要です。"),
    (r"This operation needs the admin role\.", "この操作には管理者(admin)ロールが必要です。"),
    # Arguments the schema accepts but the operation cannot use (BAD_USER_INPUT).
    (r"Unknown position (?P<p>.+)\.", "位置 {p} は存在しません。"),
    (r"Give first or last, not both\.", "first と last はどちらか一方だけを指定してください。"),
    (r"Give after or before, not both\.", "after と before はどちらか一方だけを指定してください。"),
    (r"(?P<arg>first|last) must be between 1 and (?P<max>\d+)\.", "{arg} は 1 から {max} までの数で指定してください。"),
    (r"Give exactly one of position and at\.", "position と at のどちらか一方を指定してください。"),
    (r"Give exactly one of id and code\.", "id と code のどちらか一方を指定してください。"),
    # Abuse limits.
    (
        r"'(?P<name>.*)' exceeds maximum operation depth of (?P<max>\d+)\.",
        "「{name}」で入れ子が深すぎます(上限 {max} 段)。",
    ),
    (r"(?P<n>\d+) aliases found\. Allowed: (?P<max>\d+)", "別名(エイリアス)が多すぎます({n} 個、上限 {max} 個)。"),
    (
        r"Syntax Error: Document contains more than (?P<max>\d+) tokens\. Parsing aborted\.",
        "クエリが長すぎます(トークン数の上限は {max})。",
    ),
    # Masked unexpected errors.
    (rf"Internal server error \(request id {_ID}\)\.", "サーバー内部でエラーが発生しました(リクエストID {id})。"),
    (
        rf"The database is unavailable; try again shortly \(request id {_ID}\)\.",
        "データベースに接続できません。しばらくしてからやり直してください(リクエストID {id})。",
    ),
    (
        r"This subscriber fell too far behind and was dropped; subscribe again with after: \"(?P<last>\d+)\"\.",
        '配信が大きく遅れたため購読を終了しました。after: "{last}" を指定して購読し直してください。',
    ),
    # Refused before GraphQL runs.
    (r"Request body is larger than (?P<n>\d+) MiB\.", "リクエストの本文が {n} MiB を超えています。"),
    (r"POST bodies must be application/json\.", "POST の本文は application/json で送ってください。"),
    (r"The request body is not valid JSON\.", "リクエストの本文が正しい JSON ではありません。"),
    (r"Batched requests are not supported\.", "複数の要求をまとめて送ること(バッチ)はできません。"),
    (r"The request body must be a JSON object\.", "リクエストの本文は JSON オブジェクトにしてください。"),
    (
        r"Subscriptions are served over websockets \(graphql-transport-ws\) at /graphql\.",
        "サブスクリプションは /graphql の WebSocket(graphql-transport-ws)で利用してください。",
    ),
    (r"Mutations must be sent with POST\.", "ミューテーションは POST で送ってください。"),
    # The command line.
    (r"mailreg: (?P<rest>.+)", "mailreg: {rest}"),
    (r"(?P<what>\S+) must be at least (?P<n>\d+) bytes long", "{what} は {n} バイト以上にしてください"),
    (r"MAILREG_PORT must be a number", "MAILREG_PORT には数値を指定してください"),
    (
        r"MAILREG_LOG_LEVEL must be one of (?P<levels>.+)",
        "MAILREG_LOG_LEVEL には次のいずれかを指定してください: {levels}",
    ),
    (r"the secret in (?P<f>.+) is shorter than (?P<n>\d+) bytes", "{f} の秘密鍵が {n} バイトより短すぎます"),
    (
        r"no MAILREG_JWT_SECRET and no generated secret yet: run `mailreg serve` once",
        "MAILREG_JWT_SECRET が未設定で、生成済みの秘密鍵もありません。先に `mailreg serve` を一度実行してください",
    ),
    (r"set either (?P<a>\S+) or (?P<b>\S+), not both", "{a} と {b} はどちらか一方だけを設定してください"),
    (r"(?P<var>\S+): cannot read (?P<f>.+): (?P<why>.+)", "{var}: {f} を読めません: {why}"),
    (r"(?P<var>\S+): (?P<f>.+) is empty", "{var}: {f} が空です"),
    (
        r"MAILREG_CORS_ORIGINS: (?P<given>.+) is not an origin like (?P<example>\S+)",
        "MAILREG_CORS_ORIGINS: {given} はオリジン({example} の形)ではありません",
    ),
    (r"cannot reach the database: (?P<why>.+)", "データベースに接続できません: {why}"),
    (
        r"the database schema is at revision (?P<at>\S+), not (?P<head>\S+): run `mailreg migrate` first",
        "データベースのスキーマがリビジョン {at} で、最新の {head} ではありません。"
        "先に `mailreg migrate` を実行してください",
    ),
    (
        r"the database schema is at revision (?P<at>\S+), not (?P<head>\S+): run `mailreg migrate`",
        "データベースのスキーマがリビジョン {at} で、最新の {head} ではありません。"
        "`mailreg migrate` を実行してください",
    ),
    (r"database migrated to revision (?P<rev>\S+)", "データベースをリビジョン {rev} に移行しました"),
    (
        r"replayed (?P<n>\d+) events into (?P<s>\d+) servers \(list version (?P<v>\d+)\) in (?P<t>[\d.]+)s",
        "{n} 件のイベントを再生し、{s} 台のサーバーを構築しました(一覧のバージョン {v}、{t} 秒)",
    ),
    (r"(?P<command>[\w-]+) failed: (?P<why>.+)", "{command} に失敗しました: {why}"),
    (r"no database at (?P<f>.+)", "データベースがありません: {f}"),
    (r"no file (?P<f>.+)", "ファイルがありません: {f}"),
    (
        r"consistent: (?P<e>\d+) events, (?P<s>\d+) streams, (?P<k>\d+) servers",
        "整合しています: イベント {e} 件、ストリーム {s} 個、サーバー {k} 台",
    ),
    (
        r"inconsistent: (?P<n>\d+) problems? in (?P<e>\d+) events, (?P<s>\d+) streams, (?P<k>\d+) servers",
        "不整合があります: 問題 {n} 件(イベント {e} 件、ストリーム {s} 個、サーバー {k} 台)",
    ),
    (
        r"this database has no mailreg schema: nothing to export",
        "このデータベースには mailreg のスキーマがありません。書き出すものはありません",
    ),
    (r"exported (?P<n>\d+) events", "{n} 件のイベントを書き出しました"),
    (
        r"import refused, nothing was written \((?P<n>\d+) problems?\):",
        "取り込みを中止しました。何も書き込んでいません(問題 {n} 件):",
    ),
    (
        r"imported (?P<n>\d+) events in (?P<s>\d+) streams, (?P<k>\d+) servers \(list version (?P<v>\d+)\), "
        r"last position (?P<p>\d+)",
        "{n} 件のイベント(ストリーム {s} 個)とサーバー {k} 台を取り込みました(一覧のバージョン {v}、最後の位置 {p})",
    ),
    (
        r"no MAILREG_JWT_SECRET set; generated one and kept it in (?P<f>.+)",
        "MAILREG_JWT_SECRET が未設定のため秘密鍵を生成し、{f} に保存しました",
    ),
    (
        r"admin token, valid for (?P<h>\d+) hours "
        r"\(use as 'Authorization: Bearer <token>'; more with `mailreg token`\):",
        "管理者トークン({h} 時間有効。'Authorization: Bearer <トークン>' として使います。追加は `mailreg token`):",
    ),
    (r"admin screens \(signed in by this link\): (?P<url>\S+)", "管理画面(このリンクでサインイン済み): {url}"),
    (
        r"(?P<command>[\w-]+): (?P<stage>\w+) (?P<amount>[\d,/]+) events(?P<pct> \(\d+%\))?, (?P<rate>[\d,]+) events/s",
        "{command}: {stage} {amount} 件{pct}、毎秒 {rate} 件",
    ),
    (
        r"(?P<command>[\w-]+): (?P<n>[\d,]+) events in (?P<t>[\d.]+)s \((?P<rate>[\d,]+) events/s\)",
        "{command}: {n} 件を {t} 秒で処理しました(毎秒 {rate} 件)",
    ),
)
_PATTERNS = tuple((re.compile(english), japanese) for english, japanese in _CATALOG)
_FALLBACK = "要求を処理できませんでした: {message}"
# The stages of the long commands, as their progress lines name them.
_STAGES = {"replay": "再生", "verify": "検証", "write": "書き込み", "check": "検査"}


def translate(message: str, lang: str) -> str:
    """The message in the language; unknown messages stay as they are."""
    if lang != "ja":
        return message
    for pattern, japanese in _PATTERNS:
        match = pattern.fullmatch(message)
        if match is not None:
            parts = {name: value or "" for name, value in match.groupdict().items()}
            if "rest" in parts:
                parts["rest"] = translate(parts["rest"], lang)
            if "stage" in parts:
                parts["stage"] = _STAGES.get(parts["stage"], parts["stage"])
            return japanese.format(**parts)
    return message


def cli_language() -> str:
    """'ja' when the locale for messages is Japanese (LC_ALL, then LC_MESSAGES, then LANG)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def stage(label: str) -> str:
    """A long command's stage name in the locale's language."""
    return _STAGES.get(label, label) if cli_language() == "ja" else label


def say(text: str) -> str:
    """A command line message, each line in the locale's language."""
    lang = cli_language()
    return "\n".join(translate(line, lang) for line in text.split("\n"))


class LocalizeErrors(SchemaExtension):
    """Every GraphQL error message in the caller's language (Accept-Language); errors we
    have no Japanese for keep their English after a Japanese preface."""

    def on_operation(self) -> Iterator[None]:
        """Translate the operation's errors once it has run (after masking)."""
        yield
        lang = getattr(self.execution_context.context, "lang", "en")
        result = self.execution_context.result
        if (
            lang == "en"
            or not isinstance(result, StrawberryExecutionResult | GraphQLExecutionResult)
            or not result.errors
        ):
            return
        for error in result.errors:
            error.message = localized(error.message, lang)


def localized(message: str, lang: str) -> str:
    """A GraphQL error message in the language: translated, or prefaced when we have no translation."""
    translated = translate(message, lang)
    if translated == message and lang == "ja" and message.isascii():
        return _FALLBACK.format(message=message)
    return translated
