"""Every way people write a host and port parses to the right spans (which an edit will change)."""

from __future__ import annotations

import pytest

from bot.catalog.endpoints import find_endpoints, parse_endpoint


@pytest.mark.parametrize(
    ("text", "bare", "host", "port", "dialled"),
    [
        ("db", True, "db", None, None),
        ("db:5432", False, "db", 5432, 5432),
        ("postgres://u:secret@db:5432/chat", False, "db", 5432, 5432),
        ("postgresql://db/chat?sslmode=disable", False, "db", None, 5432),
        ("mysql://root@mysql:3306/app", False, "mysql", 3306, 3306),
        ("mongodb://documentdb:10260/?tls=true&tlsAllowInvalidCertificates=true", False, "documentdb", 10260, 10260),
        ("mongodb://m-0.m:27017,m-1.m:27017/db?replicaSet=rs0", False, "m-0.m", 27017, 27017),
        ("redis://:pw@cache:6379/0", False, "cache", 6379, 6379),
        ("amqp://rabbitmq:5672", False, "rabbitmq", 5672, 5672),
        ("jdbc:postgresql://db.chat.svc.cluster.local:5432/chat", False, "db.chat.svc.cluster.local", 5432, 5432),
        ("jdbc:mysql://mysql/app", False, "mysql", None, 3306),
        ("tcp://cache:6379", False, "cache", 6379, 6379),
        ("http://backend:9898/echo", False, "backend", 9898, 9898),
        ("http://frontend", False, "frontend", None, 80),
        ("postgres-0.postgres", True, "postgres-0.postgres", None, None),
        ("  db:5432 ", False, "db", 5432, 5432),
    ],
)
def test_values_parse_to_host_and_port(text: str, bare: bool, host: str, port: int | None, dialled: int | None) -> None:
    endpoint = parse_endpoint(text, bare=bare)
    assert endpoint is not None
    assert (endpoint.host, endpoint.port, endpoint.dialled_port) == (host, port, dialled)
    assert text[endpoint.host_span[0]:endpoint.host_span[1]] == host
    if port is not None:
        assert endpoint.port_span is not None and text[endpoint.port_span[0]:endpoint.port_span[1]] == str(port)


@pytest.mark.parametrize(
    ("text", "bare"),
    [
        ("db", False),  # a bare word is a host only where the name says so
        ("orders", False),
        ("0.0.0.0", True),  # self addresses are not another workload
        ("localhost:8080", False),
        ("http://localhost:9898", False),
        ("#34577c", True),
        ("5432", True),
        ("10:30", False),
        ("", True),
    ],
)
def test_non_addresses_are_not_endpoints(text: str, bare: bool) -> None:
    assert parse_endpoint(text, bare=bare) is None


def test_free_text_finds_urls_host_ports_and_known_hosts_followed_by_a_port() -> None:
    shell = "until nc -zv rabbitmq 5672; do echo waiting for rabbitmq; sleep 2; done;"
    (endpoint,) = find_endpoints(shell, ["rabbitmq"])
    assert (endpoint.host, endpoint.port) == ("rabbitmq", 5672)
    assert shell[endpoint.host_span[0]:endpoint.host_span[1]] == "rabbitmq"
    assert find_endpoints(shell, []) == []  # an unknown bare word followed by a number is not a host

    script = "podcli check http database-replica:3306/readyz\necho done at 10:30\n"
    assert [(e.host, e.port) for e in find_endpoints(script)] == [("database-replica", 3306)]

    nginx = "location /api/ {\n  proxy_pass http://backend:8000;\n}\nupstream c { server cache:6379 weight=1; }\n"
    found = find_endpoints(nginx)
    assert [(e.host, e.port, e.scheme) for e in found] == [("backend", 8000, "http"), ("cache", 6379, None)]


def test_a_url_is_not_found_twice_as_a_host_port() -> None:
    assert [(e.host, e.scheme) for e in find_endpoints("connect postgres://db:5432/x now", ["db"])] == [("db", "postgres")]
