"""The one edge where domain errors become GraphQL errors, with localised messages."""

from __future__ import annotations

from graphql import GraphQLError

from domain.errors import ErrorCode, Problem
from domain.values import (
    MAX_HOST_LENGTH,
    MAX_LABEL_LENGTH,
    MAX_PORT,
    MAX_TIMEOUT_SECONDS,
    MIN_PORT,
    MIN_TIMEOUT_SECONDS,
)

_FIELD_NAMES = {
    "en": {
        "code": "Mail server code",
        "name": "Mail server name",
        "oauthProvider": "OAuth provider",
        "outgoing.host": "Outgoing (SMTP) server",
        "outgoing.port": "Outgoing port",
        "outgoing.encryption": "Outgoing encryption",
        "outgoing.authMethod": "SMTP authentication",
        "outgoing.credentials": "SMTP credentials",
        "outgoing.timeoutSeconds": "Outgoing timeout",
        "incoming.protocol": "Receiving protocol",
        "incoming.host": "Incoming server",
        "incoming.port": "Incoming port",
        "incoming.useTls": "Incoming TLS",
        "incoming.useApop": "APOP",
        "incoming.timeoutSeconds": "Incoming timeout",
        "id": "Mail server",
        "ids": "Server order",
        "expectedVersion": "Expected version",
        "expectedListVersion": "Expected list version",
        "idempotencyKey": "Idempotency key",
        "asOf": "Position",
    },
    "ja": {
        "code": "メールサーバーコード",
        "name": "メールサーバーの名称",
        "oauthProvider": "OAuthプロバイダー",
        "outgoing.host": "送信メールサーバー名(SMTP)",
        "outgoing.port": "送信ポート番号",
        "outgoing.encryption": "送信の暗号化",
        "outgoing.authMethod": "SMTP認証",
        "outgoing.credentials": "送信用のアカウントとパスワード",
        "outgoing.timeoutSeconds": "送信タイムアウト",
        "incoming.protocol": "受信プロトコル",
        "incoming.host": "受信メールサーバー名",
        "incoming.port": "受信ポート番号",
        "incoming.useTls": "受信のTLS",
        "incoming.useApop": "APOP認証",
        "incoming.timeoutSeconds": "受信タイムアウト",
        "id": "メールサーバー",
        "ids": "並び順",
        "expectedVersion": "期待するバージョン",
        "expectedListVersion": "期待する一覧のバージョン",
        "idempotencyKey": "冪等性キー",
        "asOf": "位置",
    },
}

_MESSAGES = {
    "en": {
        ErrorCode.REQUIRED: "{field} is required.",
        ErrorCode.INVALID: "{field} is not valid.",
        ErrorCode.OUT_OF_RANGE: "{field} is out of range ({range}).",
        ErrorCode.NOT_APPLICABLE: "{field} does not apply here.",
        ErrorCode.SET_AUTOMATICALLY: "{field} is set automatically for OAuth servers.",
        ErrorCode.CODE_ALREADY_EXISTS: "Another mail server already uses this code.",
        ErrorCode.NOT_FOUND: "{field} was not found.",
        ErrorCode.VERSION_CONFLICT: "Someone else changed this in the meantime; reload and try again.",
        ErrorCode.ORDER_MISMATCH: "The order must name every mail server exactly once.",
        ErrorCode.IDEMPOTENCY_KEY_REUSED: "This idempotency key was already used for a different request.",
        ErrorCode.RATE_LIMITED: "Too many verifications are running; try again shortly.",
    },
    "ja": {
        ErrorCode.REQUIRED: "{field}を入力してください。",
        ErrorCode.INVALID: "{field}が正しくありません。",
        ErrorCode.OUT_OF_RANGE: "{field}は範囲外です({range})。",
        ErrorCode.NOT_APPLICABLE: "{field}はこの設定では指定できません。",
        ErrorCode.SET_AUTOMATICALLY: "{field}はOAuthを使用する場合、自動的に設定されます。",
        ErrorCode.CODE_ALREADY_EXISTS: "このメールサーバーコードは既に使用されています。",
        ErrorCode.NOT_FOUND: "{field}が見つかりません。",
        ErrorCode.VERSION_CONFLICT: "他の操作で更新されています。再読み込みしてからやり直してください。",
        ErrorCode.ORDER_MISMATCH: "並び順にはすべてのメールサーバーを一度ずつ指定してください。",
        ErrorCode.IDEMPOTENCY_KEY_REUSED: "この冪等性キーは別の要求で使用済みです。",
        ErrorCode.RATE_LIMITED: "実行中の接続確認が多すぎます。しばらくしてからやり直してください。",
    },
}

_RANGES = {
    "port": f"{MIN_PORT}-{MAX_PORT}",
    "timeoutSeconds": f"{MIN_TIMEOUT_SECONDS}-{MAX_TIMEOUT_SECONDS}",
    "code": f"1-{MAX_LABEL_LENGTH}",
    "name": f"1-{MAX_LABEL_LENGTH}",
    "host": f"{MAX_HOST_LENGTH}",
}


def language(accept_language: str | None) -> str:
    """'ja' when the client prefers Japanese over English, else 'en'."""
    best, best_q = "en", 0.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in ("ja", "en") and q > best_q:
            best, best_q = primary, q
    return best


def message(problem: Problem, lang: str) -> str:
    """The problem's message in the language, naming the field and its allowed range."""
    key = ".".join(problem.field) if problem.field else ""
    field = _FIELD_NAMES[lang].get(key, key or ("入力" if lang == "ja" else "Input"))
    last = problem.field[-1] if problem.field else ""
    return _MESSAGES[lang][problem.code].format(field=field, range=_RANGES.get(last, ""))


UNAUTHENTICATED_MESSAGE = "A valid bearer token is required."
FORBIDDEN_MESSAGE = "This operation needs the admin role."


def bad_user_input(text: str) -> GraphQLError:
    """A top-level error for arguments the schema accepts but the operation cannot use."""
    return GraphQLError(text, extensions={"code": "BAD_USER_INPUT"})
