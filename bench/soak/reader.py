"""The soak run's readers."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from bench.soak import documents
from bench.soak.client import Client, Known


class Reader(Client):
    """mailServers, mailServerChoices, events pages and mailServersAsOf, at random."""

    def __init__(self, *args: Any, known: Known, admin: str, user: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.known = known
        self.admin = admin
        self.user = user

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.step()
            await asyncio.sleep(self.rng.uniform(0.02, 0.15))

    async def step(self) -> None:
        if not any(i.up for i in self.instances):
            await asyncio.sleep(0.3)
        rng, known = self.rng, self.known
        roll = rng.random()
        if roll < 0.4:
            listed = await self.read("mailServers", documents.SERVERS, {}, bearer=self.admin)
            if listed is not None:
                known.saw_list(listed)
        elif roll < 0.6:
            await self.read("mailServerChoices", documents.CHOICES, {}, bearer=self.user)
        elif roll < 0.85 or not known.positions:
            after = str(rng.choice(known.positions)) if known.positions and rng.random() < 0.8 else None
            page = await self.read(
                "events", documents.EVENTS, {"first": rng.randint(1, 100), "after": after}, bearer=self.admin
            )
            for edge in (page or {}).get("edges", [])[-5:]:
                known.saw_position(int(edge["node"]["position"]), edge["node"]["occurredAt"])
        elif rng.random() < 0.5 or not known.times:
            position = str(rng.choice(known.positions))
            await self.read("mailServersAsOf", documents.AS_OF, {"position": position}, bearer=self.admin)
        else:
            # An event's own time, or a moment just before or after it.
            moment = datetime.fromisoformat(rng.choice(known.times)) + timedelta(microseconds=rng.choice([-1, 0, 0, 1]))
            await self.read("mailServersAsOf", documents.AS_OF, {"at": moment.isoformat()}, bearer=self.admin)
