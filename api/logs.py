"""Logging: plain text by default, one JSON object a line with MAILREG_LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging
from typing import Any

_FIELDS = ("request_id", "actor", "operation", "outcome", "duration_ms", "method", "path", "status")


class JsonFormatter(logging.Formatter):
    """Formats a log record as one JSON object, with our request fields when present."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(log_format: str) -> None:
    """Send mailreg's logs to stderr as text or, with 'json', one JSON object a line."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("mailreg")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


def uvicorn_log_config(log_format: str) -> dict[str, Any] | None:
    """uvicorn's own loggers in our format (None: uvicorn's default, for text)."""
    if log_format != "json":
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "api.logs.JsonFormatter"}},
        "handlers": {"json": handler},
        "loggers": {
            "uvicorn": {"handlers": ["json"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["json"], "level": "INFO", "propagate": False},
        },
    }
