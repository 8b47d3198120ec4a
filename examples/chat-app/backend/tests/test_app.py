"""The chat API, end to end through WSGI against SQLite."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from chat.app import MAX_LIMIT, MAX_TEXT_LENGTH, create_app
from chat.config import ConfigError, SqliteConfig, listen_port, load_config
from chat.store import MessageStore

if TYPE_CHECKING:
    from conftest import Client


def post(client: Client, author: str, text: str) -> dict[str, object]:
    response = client.post_json("/api/messages", {"author": author, "text": text})
    assert response.status == 201, response.body
    message: dict[str, object] = response.body
    return message


def texts(response_body: dict[str, list[dict[str, object]]]) -> list[object]:
    return [message["text"] for message in response_body["messages"]]


def test_healthz_reports_ok_when_the_database_answers(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status == 200
    assert response.body == {"status": "ok"}
    assert response.headers["Content-Type"] == "application/json"


def test_healthz_reports_unavailable_when_the_database_is_down(
    make_client: type[Client],
) -> None:
    def broken_connect() -> object:
        raise OSError('could not translate host name "postgress"')

    client = make_client(create_app(MessageStore(broken_connect, paramstyle="qmark")))
    response = client.get("/healthz")
    assert response.status == 503
    assert response.body["status"] == "unavailable"
    assert "postgress" in response.body["error"]


def test_post_returns_the_stored_message_with_its_field_names(client: Client) -> None:
    message = post(client, "ann", "hi")
    assert set(message) == {"id", "author", "text", "created_at"}
    assert message["author"] == "ann"
    assert message["text"] == "hi"
    assert isinstance(message["id"], int)
    assert str(message["created_at"]).startswith("20")


def test_list_returns_messages_oldest_first(client: Client) -> None:
    for text in ("first", "second", "third"):
        post(client, "ann", text)
    response = client.get("/api/messages")
    assert response.status == 200
    assert texts(response.body) == ["first", "second", "third"]
    ids = [message["id"] for message in response.body["messages"]]
    assert ids == sorted(ids)
    assert response.body["next_offset"] is None


def test_list_is_empty_before_anyone_writes(client: Client) -> None:
    assert client.get("/api/messages").body == {"messages": [], "next_offset": None}


def test_offset_skips_exactly_that_many_messages(client: Client) -> None:
    for n in range(1, 8):
        post(client, "bob", f"m{n}")
    response = client.get("/api/messages", query="limit=3&offset=2")
    # offset=2 skips m1 and m2: the third message comes first.
    assert texts(response.body) == ["m3", "m4", "m5"]
    assert response.body["next_offset"] == 5


def test_paging_with_next_offset_visits_every_message_once(client: Client) -> None:
    for n in range(1, 8):
        post(client, "bob", f"m{n}")
    seen: list[object] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        body = client.get("/api/messages", query=f"limit=3&offset={offset}").body
        seen += texts(body)
        offset = body["next_offset"]
        pages += 1
    assert seen == [f"m{n}" for n in range(1, 8)]
    assert pages == 3  # 3 + 3 + 1


def test_a_full_last_page_is_followed_by_an_empty_one(client: Client) -> None:
    for n in range(1, 5):
        post(client, "bob", f"m{n}")
    first = client.get("/api/messages", query="limit=2&offset=2").body
    assert texts(first) == ["m3", "m4"]
    assert first["next_offset"] == 4
    assert client.get("/api/messages", query="limit=2&offset=4").body == {
        "messages": [],
        "next_offset": None,
    }


def test_limit_defaults_to_50_and_is_capped(client: Client, store: MessageStore) -> None:
    for n in range(MAX_LIMIT + 5):
        store.add_message(author="load", text=str(n))
    default_page = client.get("/api/messages").body
    assert len(default_page["messages"]) == 50
    assert default_page["next_offset"] == 50
    capped = client.get("/api/messages", query="limit=1000").body
    assert len(capped["messages"]) == MAX_LIMIT
    assert capped["next_offset"] == MAX_LIMIT


@pytest.mark.parametrize("query", ["limit=0", "limit=-1", "limit=ten", "offset=-1", "offset=x"])
def test_bad_paging_parameters_are_rejected(client: Client, query: str) -> None:
    response = client.get("/api/messages", query=query)
    assert response.status == 400
    assert "error" in response.body


@pytest.mark.parametrize(
    "document",
    [
        {"author": "ann"},
        {"text": "hi"},
        {"author": "", "text": "hi"},
        {"author": "ann", "text": "   "},
        {"author": "ann", "text": 42},
        {"author": "ann", "text": "x" * (MAX_TEXT_LENGTH + 1)},
        ["ann", "hi"],
    ],
)
def test_invalid_messages_are_rejected(client: Client, document: object) -> None:
    response = client.post_json("/api/messages", document)
    assert response.status == 400
    assert "error" in response.body
    assert client.get("/api/messages").body["messages"] == []


def test_text_of_exactly_the_maximum_length_is_accepted(client: Client) -> None:
    message = post(client, "ann", "x" * MAX_TEXT_LENGTH)
    assert len(str(message["text"])) == MAX_TEXT_LENGTH


def test_malformed_json_is_rejected(client: Client) -> None:
    response = client.request("POST", "/api/messages", body=b"{not json")
    assert response.status == 400
    assert response.body == {"error": "request body must be JSON"}


def test_markup_is_stored_verbatim_for_the_ui_to_escape(client: Client) -> None:
    post(client, "mallory", "<img src=x onerror=alert(1)>")
    assert texts(client.get("/api/messages").body) == ["<img src=x onerror=alert(1)>"]


def test_unknown_paths_and_methods(client: Client) -> None:
    assert client.get("/api/nope").status == 404
    response = client.request("DELETE", "/api/messages")
    assert response.status == 405
    assert response.headers["Allow"] == "GET, POST"


def test_config_names_every_missing_variable() -> None:
    with pytest.raises(ConfigError, match="DB_HOST, DB_PASSWORD"):
        load_config({"DB_NAME": "chat", "DB_USER": "chat"})


def test_config_defaults_the_port_and_rejects_a_bad_one() -> None:
    env = {"DB_HOST": "postgres", "DB_NAME": "chat", "DB_USER": "chat", "DB_PASSWORD": "pw"}
    config = load_config(env)
    assert (config.host, config.port, config.name, config.user) == (
        "postgres",
        5432,
        "chat",
        "chat",
    )
    with pytest.raises(ConfigError, match="DB_PORT"):
        load_config({**env, "DB_PORT": "fivefourthreetwo"})


def test_config_runs_on_a_sqlite_file_for_local_development() -> None:
    assert load_config({"DATABASE_URL": "sqlite:////tmp/chat.db"}) == SqliteConfig("/tmp/chat.db")
    assert load_config({"DATABASE_URL": "sqlite:///chat.db"}) == SqliteConfig("chat.db")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_config({"DATABASE_URL": "postgresql://chat@db/chat"})
    assert listen_port({}) == 8000
    assert listen_port({"PORT": "8123"}) == 8123
    with pytest.raises(ConfigError, match="PORT"):
        listen_port({"PORT": "0"})


def test_store_rejects_an_unknown_paramstyle() -> None:
    with pytest.raises(ValueError, match="paramstyle"):
        MessageStore(lambda: None, paramstyle="named")
