"""The recorded history of a soak run: one JSON Lines file per client under
`history/`, the final log as the API shows it (`log.jsonl`) and what the end
of the run found (`final.json`). The checker reads nothing else."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

Json = dict[str, Any]


class Clock:
    """Seconds since the run started, one clock for every client of the run, so
    that "acknowledged before this read was sent" means what it says."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def now(self) -> float:
        return round(time.monotonic() - self.start, 6)


@dataclass
class Recorder:
    """Appends one client's records to its history file, flushed as they happen
    so that a crashed run still leaves its history behind."""

    path: Path
    client: str
    _file: IO[str] | None = field(default=None, repr=False)

    def write(self, record: Json) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(json.dumps({"client": self.client, **record}, separators=(",", ":")) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass
class History:
    """Everything a run recorded, read back for the checker."""

    records: list[Json]
    log: list[Json]
    final: Json

    @classmethod
    def load(cls, folder: Path) -> History:
        records: list[Json] = []
        for path in sorted((folder / "history").glob("*.jsonl")):
            records.extend(read_lines(path))
        final_path = folder / "final.json"
        final = json.loads(final_path.read_text()) if final_path.exists() else {}
        return cls(records=records, log=read_lines(folder / "log.jsonl"), final=final)

    def of(self, type_: str) -> list[Json]:
        return [r for r in self.records if r.get("type") == type_]


def read_lines(path: Path) -> list[Json]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    # The last line of a file a killed run was writing may be cut short.
    return [json.loads(line) for line in lines if line.strip() and line.rstrip().endswith("}")]


def write_lines(path: Path, rows: list[Json]) -> None:
    path.write_text("".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows), encoding="utf-8")
