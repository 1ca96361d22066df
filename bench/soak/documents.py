"""The GraphQL documents the soak clients send."""

from __future__ import annotations

SERVER = """
fragment S on MailServer {
  id code name position oauthProvider version
  outgoing { host port encryption authMethod credentials timeoutSeconds }
  incoming { protocol host port useTls useApop timeoutSeconds }
}"""

EVENT = (
    SERVER
    + """
fragment E on DomainEvent {
  position streamId streamVersion type actor correlationId occurredAt
  ... on ServerAdded { server { ...S } }
  ... on ServerChanged { changes { field before after } }
  ... on ServersReordered { before after }
  ... on ServerDeleted { code name }
  ... on AllServersDeleted { deletedIds }
}"""
)

LIST = "version totalCount items { ...S }"
ERRORS = "errors { field code }"

MUTATIONS = {
    "addMailServer": ("AddMailServerInput!", f"server {{ ...S }} {ERRORS}"),
    "changeMailServer": ("ChangeMailServerInput!", f"server {{ ...S }} {ERRORS}"),
    "reorderMailServers": ("ReorderMailServersInput!", f"list {{ {LIST} }} {ERRORS}"),
    "deleteMailServer": ("DeleteMailServerInput!", f"deletedId {ERRORS}"),
    "deleteAllMailServers": ("DeleteAllMailServersInput", f"deletedCount {ERRORS}"),
    "restoreMailServers": ("RestoreMailServersInput!", f"list {{ {LIST} }} {ERRORS}"),
}


def mutation(name: str) -> str:
    input_type, selection = MUTATIONS[name]
    fragment = SERVER if "...S" in selection else ""
    return fragment + f"\nmutation M($input: {input_type}) {{ {name}(input: $input) {{ {selection} }} }}"


SERVERS = SERVER + f"\nquery Q {{ mailServers {{ {LIST} }} }}"
CHOICES = "query Q { mailServerChoices { id code name } }"
AS_OF = (
    SERVER
    + f"\nquery Q($position: String, $at: DateTime) {{ mailServersAsOf(position: $position, at: $at) {{ {LIST} }} }}"
)
EVENTS = (
    EVENT
    + """
query Q($first: Int, $after: String) {
  events(first: $first, after: $after) { edges { node { ...E } } pageInfo { hasNextPage endCursor } }
}"""
)
EVENTS_SUBSCRIPTION = EVENT + "\nsubscription S($after: String) { mailServerEvents(after: $after) { ...E } }"
CHOICES_SUBSCRIPTION = "subscription S { mailServerChoicesChanged { id code name } }"
