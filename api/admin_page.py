"""The admin screens at /admin/: static files, with headers that keep the page to itself."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

# The page signs in with a bearer token: it runs only its own scripts, talks only to its own
# origin (GraphQL over HTTP and websockets), and may not be framed by another site.
POLICY = (
    "default-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)


class AdminPage:
    """Serves api/admin/ (index.html for the folder) with a content security policy."""

    def __init__(self) -> None:
        self.files = StaticFiles(packages=[("api", "admin")], html=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["content-security-policy"] = POLICY
                headers["x-content-type-options"] = "nosniff"
                headers["referrer-policy"] = "no-referrer"
                # Revalidate every time, so an upgraded server never runs with yesterday's modules.
                headers["cache-control"] = "no-cache"
            await send(message)

        await self.files(scope, receive, with_headers)
