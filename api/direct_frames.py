"""Text frames built once and written straight to a websocket's transport.

ASGI has each server frame every message itself, per socket; under fan-out the
same message goes to thousands of sockets, and framing it per socket costs as
much as the write. `mailreg serve` runs uvicorn's sans-I/O websockets protocol
(api/cli.py); for it, a frame built once (server frames are unmasked, and
compression is off) can go to the transport as it is, whenever the protocol
itself would write at once: open, handshake done, no close sent, and writable.
Anything else (another server, a socket paused or closing) gets "no", and the
caller sends through ASGI as usual."""

from __future__ import annotations

from typing import Any

from starlette.types import Send
from websockets.protocol import State

_SANS_IO = "uvicorn.protocols.websockets.websockets_sansio_impl"


def text_frame(text: str) -> bytes:
    """One unfragmented, unmasked websocket text frame (RFC 6455, 5.2) carrying `text`."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65536:
        return bytes((0x81, 126)) + size.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + size.to_bytes(8, "big") + payload


class DirectFrames:
    """The transport of one websocket, when its server lets frames go straight to it."""

    __slots__ = ("protocol",)

    def __init__(self, send: Send | None) -> None:
        protocol = getattr(send, "__self__", None)
        known = type(protocol).__module__ == _SANS_IO and all(
            hasattr(protocol, name)
            for name in ("transport", "writable", "conn", "handshake_complete", "close_sent", "disconnected")
        )
        self.protocol: Any = protocol if known else None

    def write(self, frame: bytes) -> bool:
        """Write the frame now, if the server itself would; False leaves it to ASGI send."""
        protocol = self.protocol
        if (
            protocol is None
            or not protocol.writable.is_set()
            or protocol.disconnected
            or protocol.close_sent
            or not protocol.handshake_complete
            or protocol.conn.state is not State.OPEN
            or protocol.conn.extensions  # e.g. compression: each socket frames for itself
            or protocol.transport.is_closing()
        ):
            return False
        protocol.transport.write(frame)
        return True
