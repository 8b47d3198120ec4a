"""Host and port as people write them: `db`, `db:5432`, `postgres://u@db:5432/x`, `jdbc:mysql://db/x`,
`tcp://cache:6379`, `amqp://rabbitmq:5672`, `mongodb://documentdb:10260/?tls=true`, or inside a
shell command (`nc -zv rabbitmq 5672`) or a config file (`proxy_pass http://backend:8000;`).

Parsing only: which part of a text is the host and which the port (as character spans, so an
edit can change exactly that part). Whether the host names a Service is decided elsewhere
(connections.py), against the objects the repository deploys.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

# The port a client dials when a URL of this scheme names none.
SCHEME_PORTS: dict[str, int] = {
    "http": 80, "https": 443, "ws": 80, "wss": 443, "grpc": 80,
    "postgres": 5432, "postgresql": 5432, "jdbc:postgresql": 5432, "postgresql+psycopg": 5432, "postgresql+asyncpg": 5432,
    "mysql": 3306, "mariadb": 3306, "jdbc:mysql": 3306, "jdbc:mariadb": 3306, "mysql+pymysql": 3306,
    "mongodb": 27017, "redis": 6379, "rediss": 6379, "valkey": 6379,
    "amqp": 5672, "amqps": 5671, "nats": 4222, "kafka": 9092, "memcached": 11211,
    "sqlserver": 1433, "jdbc:sqlserver": 1433, "cassandra": 9042, "clickhouse": 8123,
}
SELF_HOSTS = frozenset({"localhost", "127.0.0.1", "0.0.0.0", "::", "::1", "[::]", "[::1]"})

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?"
_HOST = rf"{_LABEL}(?:\.{_LABEL})*\.?"
_URL = re.compile(
    r"(?P<scheme>(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*(?::[A-Za-z][A-Za-z0-9+.-]*)?)://"
    r"(?:(?P<userinfo>[^\s@/?#]*)@)?"
    rf"(?P<host>\[[0-9A-Fa-f:.]+\]|{_HOST})"
    r"(?::(?P<port>\d{1,5}))?"
)
_HOST_PORT = re.compile(rf"(?P<host>{_HOST}):(?P<port>\d{{1,5}})")
_FREE_HOST_PORT = re.compile(rf"(?<![\w.:/@-])(?P<host>{_HOST}):(?P<port>\d{{1,5}})(?![\w.])")
_BARE = re.compile(rf"{_HOST}")


@dataclass(frozen=True)
class Endpoint:
    """A host (and maybe a port) found in a text; spans are offsets into that text."""

    host: str
    host_span: tuple[int, int]
    port: int | None = None
    port_span: tuple[int, int] | None = None
    scheme: str | None = None

    @property
    def span(self) -> tuple[int, int]:
        """From the host to the end of the port (or of the host)."""
        return self.host_span[0], (self.port_span or self.host_span)[1]

    @property
    def dialled_port(self) -> int | None:
        """The port written, else the scheme's usual port, else None (the client's default)."""
        if self.port is not None:
            return self.port
        return SCHEME_PORTS.get(self.scheme.lower()) if self.scheme else None

    def shifted(self, offset: int) -> Endpoint:
        """The same endpoint with its spans moved by `offset` (found in a slice of a longer text)."""
        port_span = (self.port_span[0] + offset, self.port_span[1] + offset) if self.port_span else None
        return Endpoint(self.host, (self.host_span[0] + offset, self.host_span[1] + offset), self.port, port_span, self.scheme)


def _has_letter(host: str) -> bool:
    return any(c.isalpha() for c in host)


def _from_match(match: re.Match[str], scheme: str | None = None) -> Endpoint | None:
    host = match.group("host")
    if host.lower() in SELF_HOSTS:
        return None
    port_text = match.group("port")
    port = int(port_text) if port_text is not None else None
    if port is not None and not 0 < port < 65536:
        return None
    return Endpoint(
        host.rstrip("."), (match.start("host"), match.start("host") + len(host.rstrip("."))), port,
        match.span("port") if port_text is not None else None, scheme,
    )


def parse_endpoint(text: str, *, bare: bool = False) -> Endpoint | None:
    """The endpoint a whole value names: a URL of any scheme, `host:port`, or (if `bare`) a host.

    A multi-host URL (`mongodb://a:27017,b:27017/db`) gives its first host. Self addresses
    (`localhost`, `0.0.0.0`) are not endpoints of another workload.
    """
    value = text.strip()
    lead = len(text) - len(text.lstrip())
    url = _URL.match(value)
    if url is not None:
        found = _from_match(url, url.group("scheme"))
        return found.shifted(lead) if found else None
    host_port = _HOST_PORT.fullmatch(value)
    if host_port is not None and _has_letter(host_port.group("host")):
        found = _from_match(host_port)
        return found.shifted(lead) if found else None
    if bare and _BARE.fullmatch(value) and _has_letter(value) and len(value) <= 253 and value.lower() not in SELF_HOSTS:
        host = value.rstrip(".")
        return Endpoint(host, (lead, lead + len(host)))
    return None


def find_endpoints(text: str, services: Collection[str] = ()) -> list[Endpoint]:
    """Endpoints inside free text (a shell command, a config file), in order of appearance.

    URLs and `host:port` anywhere; a bare host only when it starts with one of `services`
    (`rabbitmq`, `rabbitmq-primary`, `rabbitmq.shop`) and is followed by a port
    (`nc -zv rabbitmq 5672`, `--slaveof redis-master 6379`), so ordinary words are never taken
    for hosts while a lengthened (mistyped) name is still found.
    """
    found: list[Endpoint] = []
    taken: list[tuple[int, int]] = []

    def add(endpoint: Endpoint | None, span: tuple[int, int]) -> None:
        if endpoint is not None and not any(a < span[1] and span[0] < b for a, b in taken):
            found.append(endpoint)
            taken.append(span)

    for url in _URL.finditer(text):
        add(_from_match(url, url.group("scheme")), url.span())
    for pair in _FREE_HOST_PORT.finditer(text):
        if _has_letter(pair.group("host")):
            add(_from_match(pair), pair.span())
    names = sorted({s for s in services if s}, key=len, reverse=True)
    if names:
        alternatives = "|".join(re.escape(n) for n in names)
        # A known name, possibly lengthened (`rabbitmq-primary`): a fault's typo stays findable.
        spaced = re.compile(rf"(?<![\w.:/@-])(?P<host>(?:{alternatives})[\w-]*(?:\.{_LABEL})*)\s+(?P<port>\d{{1,5}})\b")
        for pair in spaced.finditer(text):
            add(_from_match(pair), pair.span())
    return sorted(found, key=lambda e: e.host_span)
