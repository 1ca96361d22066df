"""What the app holds for its lifetime: engine, the mail server service, history, feed, token verifier, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from api.auth import TokenVerifier
from api.metrics import Metrics
from api.verification.service import MailVerifier
from events.application.history import History
from events.application.service import MailServerService
from events.feed import EventFeed

if TYPE_CHECKING:
    from api.fanout import Fanout


@dataclass(kw_only=True)
class Services:
    engine: AsyncEngine
    mail_servers: MailServerService
    verifier: TokenVerifier
    history: History
    feed: EventFeed
    metrics: Metrics
    verification: MailVerifier = field(default_factory=MailVerifier)
    fanout: Fanout = field(init=False)  # set by the app once the schema exists
