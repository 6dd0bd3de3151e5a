"""Structured JSON logs: one object per line, with session_id/window_seq when a line is about a session."""

from __future__ import annotations

import json
import logging
import logging.config
import time

_CONTEXT_FIELDS = ("session_id", "window_seq", "tenant", "topic", "partition", "offset")


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for field in _CONTEXT_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


# Library chatter (rebalances, fetches) at INFO drowns the session lines a user wants to read.
QUIET_LOGGERS = ("aiokafka", "kafka", "faust", "mode", "uvicorn.access")


def logging_config(service: str, level: str = "INFO") -> dict:
    """A logging.config.dictConfig for JSON lines on stderr (also handed to Faust's worker)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter, "service": service}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {name: {"level": "WARNING"} for name in QUIET_LOGGERS},
    }


def setup_logging(service: str, level: str = "INFO") -> logging.Logger:
    logging.config.dictConfig(logging_config(service, level))
    return logging.getLogger(f"interarec.{service}")
