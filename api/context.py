"""Per-request context: who is asking, in which language, and the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from strawberry.permission import BasePermission
from strawberry.types import Info

from api.auth import Principal, TokenVerifier
from api.errors import forbidden, unauthenticated

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


def signed_in(info: Info[Context, Any]) -> Principal:
    principal = info.context.principal
    if principal is None:
        raise unauthenticated()
    return principal


def admin(info: Info[Context, Any]) -> Principal:
    principal = signed_in(info)
    if not principal.is_admin:
        raise forbidden()
    return principal


class IsSignedIn(BasePermission):
    message = "A valid bearer token is required."

    def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        signed_in(info)
        return True


class IsAdmin(BasePermission):
    message = "This operation needs the admin role."

    def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        admin(info)
        return True
