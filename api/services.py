"""What the app holds for its lifetime: engine, registry, token verifier."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth import TokenVerifier
from api.metrics import Metrics
from api.verification.service import MailVerifier
from events.feed import EventFeed
from events.history import History
from events.registry import MailServerRegistry


@dataclass(kw_only=True)
class Services:
    engine: AsyncEngine
    registry: MailServerRegistry
    verifier: TokenVerifier
    history: History
    feed: EventFeed
    metrics: Metrics
    verification: MailVerifier = field(default_factory=MailVerifier)
