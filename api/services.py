"""What the app holds for its lifetime: engine, registry, token verifier."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth import TokenVerifier
from api.metrics import Metrics
from events.feed import EventFeed
from events.history import History
from events.registry import MailServerRegistry

if TYPE_CHECKING:
    from api.fanout import Fanout


@dataclass(kw_only=True)
class Services:
    engine: AsyncEngine
    registry: MailServerRegistry
    verifier: TokenVerifier
    history: History
    feed: EventFeed
    metrics: Metrics
    fanout: Fanout = field(init=False)  # set by the app once the schema exists
