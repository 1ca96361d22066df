"""Per-request context: who is asking, in which language, and the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.permission import BasePermission
from strawberry.types import Info

from api import request_state
from api.auth import Principal, TokenVerifier
from api.errors import FORBIDDEN_MESSAGE, UNAUTHENTICATED_MESSAGE

if TYPE_CHECKING:
    from api.services import Services
    from events.application.service import CurrentList


@dataclass(kw_only=True)
class Context:
    """What a resolver may use: the services, the caller, the language and the request's ids."""

    services: Services
    request: Request | WebSocket
    lang: str = "en"
    request_id: str = ""
    correlation_id: str | None = None
    principal: Principal | None = None
    connection_params: dict[str, Any] | None = field(default=None)

    def authenticate(self, authorization: str | None, verifier: TokenVerifier) -> None:
        """Set the principal from an Authorization value; a missing or bad token leaves none."""
        self.principal = verifier.principal(authorization)

    @property
    def caller(self) -> Principal:
        """The signed-in principal of a field guarded by IsSignedIn or IsAdmin."""
        if self.principal is None:
            raise RuntimeError("caller read on a field without a permission class")
        return self.principal

    async def current(self) -> CurrentList:
        """The current list for this request: read once, however many fields ask for it."""
        # Only plain HTTP requests keep one: a websocket lives on and must see changes.
        if not isinstance(self.request, Request):
            return await self.services.mail_servers.current()
        current = request_state.current_list(self.request.scope)
        if current is None:
            current = await self.services.mail_servers.current()
            request_state.set_current_list(self.request.scope, current)
        return current


class IsSignedIn(BasePermission):
    """Admits any caller with a valid token; refuses the others with UNAUTHENTICATED."""

    message = UNAUTHENTICATED_MESSAGE
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        """Whether the request carries a valid token."""
        return info.context.principal is not None


class IsAdmin(BasePermission):
    """Admits tokens with the admin role; refuses other tokens with FORBIDDEN and no token with UNAUTHENTICATED."""

    message = FORBIDDEN_MESSAGE
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        """Whether the token carries the admin role; UNAUTHENTICATED without a valid token."""
        principal = info.context.principal
        if principal is None:
            # Strawberry raises one message per permission class; no token is the signed-in check's refusal.
            IsSignedIn().on_unauthorized()
        return principal is not None and principal.is_admin
