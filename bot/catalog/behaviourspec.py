"""Behavioural check kinds, as written in fault.yaml: the team's tests, a fault's own
acceptance test, and a real browser (run by bot/sandbox; judged in behaviour.py).

Defaults fit examples/chat-app; a fault for another service says how to start its backend
(`serve:`) and where its page's parts are (`page:`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator

from bot.base.durations import Duration
from bot.catalog.roles import Role
from bot.catalog.specbase import Model


def _directory_role(role: Role) -> Role:
    if not role.is_directory:
        raise ValueError(f"{role} is not a folder role (frontend_source, backend_source, terraform)")
    return role


class Serve(Model):
    """How to start the backend of the commit being judged on this machine, with no database
    server: `{python}` is faultbot's interpreter, `{port}` a free port, `{data}` an empty folder."""

    role: Role = Role.backend_source
    command: list[str] = Field(default_factory=lambda: ["{python}", "-m", "chat"], min_length=1)
    env: dict[str, str] = Field(default_factory=lambda: {"DATABASE_URL": "sqlite:///{data}/chat.sqlite3", "PORT": "{port}"})
    ready: str = "/healthz"
    startup: Duration = timedelta(seconds=30)

    _role = field_validator("role")(_directory_role)


class TeamTests(Model):
    """The team's own tests of one component pass (a fix that breaks them is no fix)."""

    check: Literal["tests"]
    role: Role = Role.backend_source
    command: list[str] | None = Field(default=None, min_length=1)
    timeout: Duration = timedelta(minutes=3)

    _role = field_validator("role")(_directory_role)


class Acceptance(Model):
    """A pytest file shipped in the fault's folder passes against the commit being judged.

    It gets fixtures from faultbot's sandbox plugin: `backend` (the backend started with
    `serve`, with `.get` and `.post_json`) and `checkout` (the commit's files).
    """

    check: Literal["acceptance"]
    file: str = Field(min_length=1)
    roles: list[Role] = Field(default_factory=lambda: [Role.backend_source])
    serve: Serve = Field(default_factory=Serve)
    timeout: Duration = timedelta(minutes=2)

    @field_validator("roles")
    @classmethod
    def _roles(cls, roles: list[Role]) -> list[Role]:
        return [_directory_role(r) for r in roles]


class ChatPage(Model):
    """Where the parts of a chat page are (CSS selectors) and how it talks to its API."""

    path: str = "/"
    api: str = "/api/messages"
    messages: str = "#message-list > li"
    text: str = ".text"
    author_input: str = "#author"
    text_input: str = "#text"
    send: str = "button[type=submit]"
    poll: Duration = timedelta(seconds=5)


class Browser(Model):
    """The frontend and backend of the commit, served locally and used in headless chromium:
    the page loads without a script error; messages (some posted before, one by someone else,
    one sent through the form) each appear once, in order, visible, as text."""

    check: Literal["browser"]
    frontend: Role = Role.frontend_source
    api_prefix: str = "/api/"
    serve: Serve = Field(default_factory=Serve)
    page: ChatPage = Field(default_factory=ChatPage)
    seed: int = Field(default=3, ge=0, le=500)
    timeout: Duration = timedelta(minutes=1)

    _frontend = field_validator("frontend")(_directory_role)


BEHAVIOURAL = (TeamTests, Acceptance, Browser)
"""The kinds that run code: slow, so evaluated after every cheap check of the same fault."""
