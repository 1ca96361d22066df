"""Logging: plain text by default, one JSON object a line with MAILREG_LOG_FORMAT=json; every
line written while a request is served carries its request id, whoever's logger wrote it."""

from __future__ import annotations

import json
import logging
import logging.config
import time
from contextvars import ContextVar
from typing import Any

_FIELDS = ("request_id", "actor", "operation", "outcome", "duration_ms", "method", "path", "status")

# Set by the RequestId middleware for the task serving the request (and inherited by the
# tasks it starts), so that lines from SQLAlchemy, uvicorn, Strawberry and the feed carry it too.
REQUEST_ID: ContextVar[str | None] = ContextVar("mailreg_request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Gives every record the id of the request being served, unless it names one itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keeps the record, with `request_id` set (None outside a request)."""
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class _SecondStamps(logging.Formatter):
    """Formats the time of a record once per second: a busy server writes thousands of lines a second."""

    _stamp: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        """The record's time as logging.Formatter gives it, its seconds part made once per second."""
        second = int(record.created)
        kept, stamp = self._stamp
        if second != kept:
            stamp = time.strftime(datefmt or self.default_time_format, self.converter(record.created))
            self._stamp = (second, stamp)
        if datefmt or not self.default_msec_format:
            return stamp
        return self.default_msec_format % (stamp, record.msecs)


class TextFormatter(_SecondStamps):
    """One readable line: time, level, logger, [request id], message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        """The line, with the request id after the logger's name when there is one."""
        line = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        if request_id:
            prefix = f"{record.name} "
            line = line.replace(prefix, f"{prefix}[{request_id}] ", 1)
        return line


class JsonFormatter(_SecondStamps):
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


def logging_config(log_format: str, log_level: str = "info") -> dict[str, Any]:
    """The dictConfig for mailreg's, uvicorn's, Strawberry's and SQLAlchemy's loggers: one
    handler on stderr, in our format, with the request id. SQLAlchemy's statements are
    logged only at debug (at info they would be every query)."""
    level = log_level.upper()
    formatter = "api.logs.JsonFormatter" if log_format == "json" else "api.logs.TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "api.logs.RequestIdFilter"}},
        "formatters": {"mailreg": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "mailreg",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "mailreg": {"level": level, "handlers": [], "propagate": True},
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": level, "handlers": [], "propagate": True},
            "sqlalchemy.engine": {"level": "INFO" if level == "DEBUG" else "WARNING"},
        },
    }


def configure(log_format: str, log_level: str = "info") -> dict[str, Any]:
    """Apply the logging configuration (and return it, for uvicorn to apply the same)."""
    config = logging_config(log_format, log_level)
    logging.config.dictConfig(config)
    # Neither format prints the source line, thread, process or task of a record; not gathering them
    # halves the cost of a line, which is a tenth of a read answered from the cache.
    logging._srcfile = None  # logging's documented switch for skipping findCaller
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    setattr(logging, "logAsyncioTasks", False)  # noqa: B010 - Python 3.12's, absent from 3.11's stubs
    return config
