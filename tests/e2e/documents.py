"""The GraphQL documents the e2e tests send, and the three servers of the admin story."""

from __future__ import annotations

from typing import Any

SERVER_FIELDS = """
fragment ServerFields on MailServer {
  id code name position oauthProvider version createdAt updatedAt
  outgoing { host port encryption authMethod credentials timeoutSeconds }
  incoming { protocol host port useTls useApop timeoutSeconds }
}
"""

LIST_FIELDS = "version totalCount items { ...ServerFields }"
ERROR_FIELDS = "errors { field code message }"

ADD = (
    SERVER_FIELDS
    + f"""
mutation Add($input: AddMailServerInput!) {{
  addMailServer(input: $input) {{ server {{ ...ServerFields }} {ERROR_FIELDS} }}
}}"""
)

CHANGE = (
    SERVER_FIELDS
    + f"""
mutation Change($input: ChangeMailServerInput!) {{
  changeMailServer(input: $input) {{ server {{ ...ServerFields }} {ERROR_FIELDS} }}
}}"""
)

REORDER = (
    SERVER_FIELDS
    + f"""
mutation Reorder($input: ReorderMailServersInput!) {{
  reorderMailServers(input: $input) {{ list {{ {LIST_FIELDS} }} {ERROR_FIELDS} }}
}}"""
)

DELETE = f"""
mutation Delete($input: DeleteMailServerInput!) {{
  deleteMailServer(input: $input) {{ deletedId {ERROR_FIELDS} }}
}}"""

DELETE_ALL = f"""
mutation DeleteAll($input: DeleteAllMailServersInput) {{
  deleteAllMailServers(input: $input) {{ deletedCount {ERROR_FIELDS} }}
}}"""

SERVERS = SERVER_FIELDS + f"query Servers {{ mailServers {{ {LIST_FIELDS} }} }}"

SERVER = (
    SERVER_FIELDS
    + """
query Server($id: ID, $code: String) { mailServer(id: $id, code: $code) { ...ServerFields } }"""
)

CHOICES = "query Choices { mailServerChoices { id code name } }"


def manual(code: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
    """A plain server without OAuth: SMTP on 25, POP3 on 110, all defaults."""
    return {
        "code": code,
        "name": name or f"Server {code}",
        "outgoing": {"host": "smtp.example.com", "port": 25},
        "incoming": {"protocol": "POP3", "host": "pop.example.com", "port": 110},
        **extra,
    }


def google(code: str = "google") -> dict[str, Any]:
    return {
        "code": code,
        "name": "Google Workspace",
        "oauthProvider": "GOOGLE",
        "outgoing": {},
        "incoming": {"protocol": "IMAP4"},
    }


def pop3_apop(code: str = "pop-apop") -> dict[str, Any]:
    return {
        "code": code,
        "name": "Branch office POP",
        "outgoing": {"host": "smtp.branch.example.jp", "port": 25},
        "incoming": {"protocol": "POP3", "host": "pop.branch.example.jp", "port": 110, "useApop": True},
    }


def imap_starttls_cram(code: str = "imap-cram") -> dict[str, Any]:
    return {
        "code": f"  {code}  ",
        "name": "Head office IMAP",
        "outgoing": {
            "host": "SMTP.Example.COM.",
            "port": 587,
            "encryption": "STARTTLS",
            "authMethod": "CRAM_MD5",
            "credentials": "SENDING_ACCOUNT",
            "timeoutSeconds": 90,
        },
        "incoming": {
            "protocol": "IMAP4",
            "host": "imap.example.com",
            "port": 993,
            "useTls": True,
            "timeoutSeconds": 30,
        },
    }
