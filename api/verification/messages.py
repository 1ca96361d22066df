"""Findings in words an administrator can act on, in English or Japanese."""

from __future__ import annotations

from domain.verification import EndpointReport, Finding, FindingCode

_TEXT: dict[str, dict[FindingCode, str]] = {
    "en": {
        FindingCode.CONNECTED: "Connected to {endpoint}{tls}.",
        FindingCode.DNS_FAILED: "The host name {host} does not resolve{detail}.",
        FindingCode.CONNECTION_REFUSED: "Nothing accepts connections on {endpoint}{detail}.",
        FindingCode.TIMEOUT: "No answer from {endpoint} within {timeout} seconds (while {stage}).",
        FindingCode.TLS_HANDSHAKE_FAILED: "The TLS handshake with {endpoint} failed{detail}.",
        FindingCode.TLS_VERSION_TOO_OLD: "{endpoint} offers only {version}; TLS 1.2 or 1.3 is required.",
        FindingCode.CERTIFICATE_INVALID: "The certificate of {endpoint} is not valid{detail}.",
        FindingCode.STARTTLS_NOT_OFFERED: "STARTTLS is configured, but {endpoint} does not offer it.",
        FindingCode.AUTH_METHOD_NOT_OFFERED: "{endpoint} does not offer the authentication method {method} "
        "(offered: {offered}).",
        FindingCode.APOP_NOT_SUPPORTED: "APOP is configured, but the greeting of {endpoint} has no APOP timestamp.",
        FindingCode.AUTH_FAILED: "{endpoint} refused the user name or password ({method}){detail}.",
        FindingCode.AUTH_OK: "Signed in to {endpoint} ({method}).",
        FindingCode.AUTH_NOT_CHECKED: "Signing in was not checked: {reason}.",
        FindingCode.PROTOCOL_ERROR: "{endpoint} does not answer as a {protocol} server would{detail}.",
    },
    "ja": {
        FindingCode.CONNECTED: "{endpoint}に接続しました{tls}。",
        FindingCode.DNS_FAILED: "ホスト名{host}を名前解決できません{detail}。",
        FindingCode.CONNECTION_REFUSED: "{endpoint}は接続を受け付けていません{detail}。",
        FindingCode.TIMEOUT: "{endpoint}から{timeout}秒以内に応答がありません({stage}中)。",
        FindingCode.TLS_HANDSHAKE_FAILED: "{endpoint}とのTLSハンドシェイクに失敗しました{detail}。",
        FindingCode.TLS_VERSION_TOO_OLD: "{endpoint}は{version}にしか対応していません。TLS 1.2または1.3が必要です。",
        FindingCode.CERTIFICATE_INVALID: "{endpoint}の証明書が有効ではありません{detail}。",
        FindingCode.STARTTLS_NOT_OFFERED: "STARTTLSが設定されていますが、{endpoint}はSTARTTLSに対応していません。",
        FindingCode.AUTH_METHOD_NOT_OFFERED: "{endpoint}は認証方式{method}に対応していません(対応: {offered})。",
        FindingCode.APOP_NOT_SUPPORTED: "APOPが設定されていますが、"
        "{endpoint}の応答にAPOPのタイムスタンプがありません。",
        FindingCode.AUTH_FAILED: "{endpoint}でユーザー名またはパスワードが拒否されました({method}){detail}。",
        FindingCode.AUTH_OK: "{endpoint}にサインインできました({method})。",
        FindingCode.AUTH_NOT_CHECKED: "サインインは確認していません: {reason}。",
        FindingCode.PROTOCOL_ERROR: "{endpoint}の応答は{protocol}サーバーのものではありません{detail}。",
    },
}

_REASONS = {
    "en": {
        "NO_CREDENTIALS": "no user name and password were given",
        "OAUTH": "this server signs in with OAuth, which is not checked",
        "UNSUPPORTED_METHOD": "mailreg cannot sign in with this method; it only checked that the server offers it",
    },
    "ja": {
        "NO_CREDENTIALS": "ユーザー名とパスワードが指定されていません",
        "OAUTH": "このサーバーはOAuthでサインインするため確認していません",
        "UNSUPPORTED_METHOD": "この認証方式でのサインインは確認できません(対応していることのみ確認しました)",
    },
}

_STAGES = {
    "en": {
        "resolve": "resolving the host name",
        "connect": "connecting",
        "tls": "negotiating TLS",
        "greeting": "waiting for the greeting",
        "capabilities": "reading the capabilities",
        "sign-in": "signing in",
    },
    "ja": {
        "resolve": "名前解決",
        "connect": "接続",
        "tls": "TLSネゴシエーション",
        "greeting": "サーバーの応答待ち",
        "capabilities": "機能一覧の取得",
        "sign-in": "サインイン",
    },
}


def finding_message(finding: Finding, report: EndpointReport, *, protocol: str, timeout: int, lang: str) -> str:
    """The finding in the administrator's language."""
    lang = lang if lang in _TEXT else "en"
    host = f"[{report.host}]" if ":" in report.host else report.host
    tls = finding.param("tls")
    detail = finding.param("detail")
    values = {
        "endpoint": f"{host}:{report.port}",
        "host": report.host,
        # Japanese sets parentheses without a space before them.
        "tls": (f"({tls})" if lang == "ja" else f" ({tls})") if tls else "",
        "detail": (f"({detail})" if lang == "ja" else f" ({detail})") if detail else "",
        "version": report.tls_version or ("TLS 1.1 or older" if lang == "en" else "TLS 1.1以前"),
        "method": finding.param("method") or "",
        "offered": finding.param("offered") or "-",
        "reason": _REASONS[lang].get(finding.param("reason") or "", ""),
        "stage": _STAGES[lang].get(finding.param("stage") or "", finding.param("stage") or ""),
        "timeout": str(timeout),
        "protocol": protocol,
    }
    return _TEXT[lang][finding.code].format(**values)
