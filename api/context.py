"""Per-request context: who is asking, in which language, and the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from strawberry.permission import BasePermission
from strawberry.types import Info

from api.auth import Principal, TokenVerifier
from api.errors import FORBIDDEN_MESSAGE, UNAUTHENTICATED_MESSAGE

if TYPE_CHECKING:
    from api.services import Services
    from events.registry import Snapshot


@dataclass(kw_only=True)
class Context:
    services: Services
    request: Any
    response: Any = None
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

    async def current(self) -> Snapshot:
        """The list for this request: one snapshot, however many fields read it."""
        # Only plain HTTP requests keep one: a websocket lives on and must see changes.
        per_request = isinstance(self.request, Request)
        snapshot: Snapshot | None = getattr(self.request.state, "snapshot", None) if per_request else None
        if snapshot is None:
            snapshot = await self.services.registry.current()
            if per_request:
                self.request.state.snapshot = snapshot
        return snapshot


class IsSignedIn(BasePermission):
    """Admits any caller with a valid token; refuses the others with UNAUTHENTICATED."""

    message = UNAUTHENTICATED_MESSAGE
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        return info.context.principal is not None


class IsAdmin(BasePermission):
    """Admits tokens with the admin role; refuses other tokens with FORBIDDEN and no token with UNAUTHENTICATED."""

    message = FORBIDDEN_MESSAGE
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        principal = info.context.principal
        if principal is None:
            # Strawberry raises one message per permission class; no token is the signed-in check's refusal.
            IsSignedIn().on_unauthorized()
        return principal is not None and principal.is_admin
