"""Acceptance test for app-bug/messages-stored-escaped, run by faultbot's sandbox against the
commit being judged: the chat backend started on SQLite (the `backend` fixture) must give
back exactly the text it was sent, markup, ampersands and quotes included."""

from __future__ import annotations

TEXT = "<b>fish</b> & \"chips\" it's <img src=x onerror=alert(1)>"


def test_a_message_comes_back_as_it_was_sent(backend) -> None:
    status, created = backend.post_json("/api/messages", {"author": "ann", "text": TEXT})
    assert status == 201, created
    assert created["text"] == TEXT, f"the API answered the POST with {created['text']!r}"
    status, listed = backend.get("/api/messages")
    assert status == 200, listed
    texts = [message["text"] for message in listed["messages"]]
    assert texts == [TEXT], f"the API lists the message as {texts!r}"


def test_plain_text_is_untouched(backend) -> None:
    for text in ("hello", "a < b", "Tom & Jerry"):
        status, created = backend.post_json("/api/messages", {"author": "bo", "text": text})
        assert (status, created["text"]) == (201, text)
    status, listed = backend.get("/api/messages?limit=10&offset=0")
    assert [m["text"] for m in listed["messages"]] == ["hello", "a < b", "Tom & Jerry"]
