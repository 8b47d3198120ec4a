"""Structured logs: one JSON object per line on stderr, so an organizer can grep or ship them."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

_STANDARD = set(logging.LogRecord("x", 0, "x", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """`{"ts": ..., "level": ..., "logger": ..., "event": <message>, <extra fields>}`."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        payload.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def setup_logging(level: int = logging.INFO, file: Path | None = None) -> None:
    """Route faultbot's loggers to stderr (or a file) as JSON lines; replaces earlier setup."""
    root = logging.getLogger("faultbot")
    for old in [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]:
        root.removeHandler(old)
        old.close()
    handler: logging.Handler = logging.FileHandler(file, encoding="utf-8") if file else logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    # "skipped: maximum number of running instances" only means a poll is still running.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
