"""The daemon's console: human lines on a terminal, JSON lines for machines.

JSON (`--log-format json`, or whenever stderr is not a terminal): one object per line,
`{"ts", "level", "logger", "event", <extra fields>}`, for grep and log shippers.
Human (a terminal): `14:02:11 team-a   fixed ... by revert (ana)`, times in the event's
zone; the feed (`faultbot.feed`) says what happened, the daemon's own chatter is kept to
warnings and errors so nothing is said twice.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone, tzinfo
from pathlib import Path

_STANDARD = set(logging.LogRecord("x", 0, "x", 0, "", None, None).__dict__) | {"message", "asctime"}
FORMATS = ("auto", "human", "json")


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


class HumanFormatter(logging.Formatter):
    """`HH:MM:SS team     message`; warnings and errors say so and add their `error`."""

    def __init__(self, zone: tzinfo = timezone.utc) -> None:
        super().__init__()
        self.zone = zone

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, timezone.utc).astimezone(self.zone).strftime("%H:%M:%S")
        team = str(getattr(record, "team", "") or "")
        team = "" if team == "*" else team
        text = record.getMessage()
        if record.levelno >= logging.WARNING:
            error = getattr(record, "error", None)
            text = f"{record.levelname.lower()}: {text}" + (f": {error}" if error else "")
        line = f"{moment} {team:<10} {text}" if team else f"{moment} {text}"
        if record.exc_info and record.levelno >= logging.ERROR:
            line += "\n" + self.formatException(record.exc_info)
        return line


def resolve_format(log_format: str, stream: object = None) -> str:
    """`auto` is human on a terminal, JSON otherwise."""
    if log_format != "auto":
        return log_format
    isatty = getattr(stream or sys.stderr, "isatty", None)
    return "human" if callable(isatty) and isatty() else "json"


def setup_logging(level: int = logging.INFO, file: Path | None = None, log_format: str = "json",
                  zone: tzinfo = timezone.utc) -> None:
    """Route faultbot's loggers to stderr (or a file); replaces earlier setup."""
    root = logging.getLogger("faultbot")
    for old in [h for h in root.handlers if isinstance(h.formatter, (JsonFormatter, HumanFormatter))]:
        root.removeHandler(old)
        old.close()
    handler: logging.Handler = logging.FileHandler(file, encoding="utf-8") if file else logging.StreamHandler()
    human = resolve_format(log_format) == "human" and file is None
    handler.setFormatter(HumanFormatter(zone) if human else JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    # On a terminal the feed says what happened; the daemon's own records would say it twice.
    logging.getLogger("faultbot.daemon").setLevel(logging.WARNING if human else logging.NOTSET)
    # "skipped: maximum number of running instances" only means a poll is still running.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
