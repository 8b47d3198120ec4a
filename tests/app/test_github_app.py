"""Authenticating as a GitHub App installation (organisations that forbid personal tokens),
and git over ssh:// — both through `make_injector`, on real repositories."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.app.cli import main
from bot.errors import FaultbotError
from bot.game.events import encode
from tests.conftest import CHAT_APP
from tests.gitrepos import git, make_team_repo
from tests.repo.test_inject import CATALOG, FAULT, assert_looks_human, injector_for, write_config
from tests.servers.forge import GIT_SERVERS, Forge, open_forge
from tests.servers.git_cli import run_git
from tests.servers.git_http import git_auth_config

APP_ID = 424242
INSTALLATION_ID = 77
KEY_ENV = "GITHUB_APP_PRIVATE_KEY"
APP_LOGIN = "faultbot-app[bot]"


def _rsa_pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private, public


@pytest.fixture(scope="module")
def app_key() -> tuple[str, str]:
    """(private PEM, public PEM) of the test app."""
    return _rsa_pem_pair()


@pytest.fixture(scope="module")
def other_key() -> tuple[str, str]:
    """A key pair the server does not know."""
    return _rsa_pem_pair()


@pytest.fixture
def app_forge(
    tmp_path: Path, app_key: tuple[str, str], monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Forge]:
    """The local forge with the app registered; no personal token in the environment."""
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv(KEY_ENV, raising=False)
    with open_forge(tmp_path, CHAT_APP, partial_clone=getattr(request, "param", True)) as opened:
        opened.github.register_app(APP_ID, app_key[1], INSTALLATION_ID)
        yield opened


def app_config(tmp_path: Path, forge: Forge, installation_id: int = INSTALLATION_ID) -> Path:
    url = forge.git_http.url_for(forge.full_name)
    return write_config(
        tmp_path,
        f"    repo: {forge.full_name}\n    url: {url}\n    delivery: pr\n",
        extra=(
            f"github:\n  api_url: '{forge.github.api_url}'\n  request_interval: 0s\n"
            f"  app: {{app_id: {APP_ID}, installation_id: {installation_id}}}\n"
        ),
    )


def _secrets_in(text: str, forge: Forge, private_pem: str) -> list[str]:
    """Any minted token or line of the private key that leaked into `text`."""
    key_lines = [line for line in private_pem.splitlines() if "-----" not in line]
    tokens = [minted.token for minted in forge.github.apps.minted]
    return [secret for secret in tokens + key_lines if secret in text]


# --- GitHub App ------------------------------------------------------------------------------

@pytest.mark.parametrize("app_forge", GIT_SERVERS, indirect=True)
def test_pr_delivery_as_a_github_app_uses_the_installation_token_for_git_and_api(
    tmp_path: Path, app_forge: Forge, app_key: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, app_key[0])
    before = git(app_forge.bare, "rev-parse", "main")
    injector, store = injector_for(app_config(tmp_path, app_forge))
    result = injector.inject(CATALOG.get(FAULT))

    main_head = git(app_forge.bare, "rev-parse", "main")
    assert result.pr_number == 1 and result.landed_sha == main_head
    assert git(app_forge.bare, "log", "-1", "--format=%P", main_head).split() == [before, result.sha]
    assert_looks_human(app_forge.bare, result.sha)

    minted = app_forge.github.apps.minted
    assert len(minted) == 1 and minted[0].installation_id == INSTALLATION_ID  # fetched once, reused
    pushes = [r for r in app_forge.git_http.requests if r.method == "POST" and r.path.endswith("/git-receive-pack")]
    assert pushes and all(r.status == 200 and r.user == APP_LOGIN for r in pushes)
    assert all(r.user == APP_LOGIN for r in app_forge.git_http.requests if r.authenticated)
    api = app_forge.github.requests
    assert [r.login for r in api if r.path.endswith("/access_tokens")] == ["faultbot-app"]
    assert any(r.method == "PUT" and r.path.endswith("/pulls/1/merge") and r.login == APP_LOGIN for r in api)
    assert all(r.login == APP_LOGIN for r in api if not r.path.endswith("/access_tokens"))

    recorded = json.dumps([encode(e.facts) for e in store.events("team-a")]) + repr(result)
    cache_config = (tmp_path / "cache" / "repos" / "team-a" / ".git" / "config").read_text()
    assert _secrets_in(recorded + cache_config, app_forge, app_key[0]) == []
    assert "x-access-token" not in cache_config


@pytest.mark.parametrize("app_forge", GIT_SERVERS, indirect=True)
def test_cli_inject_as_a_github_app_prints_no_token_or_key(
    tmp_path: Path, app_forge: Forge, app_key: tuple[str, str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(KEY_ENV, app_key[0])
    assert main(["inject", "--config", str(app_config(tmp_path, app_forge)), "team-a", FAULT]) == 0
    captured = capsys.readouterr()
    assert "injected" in captured.out
    assert app_forge.github.apps.minted and _secrets_in(captured.out + captured.err, app_forge, app_key[0]) == []


def test_missing_private_key_env_var_is_one_line(tmp_path: Path, app_forge: Forge) -> None:
    with pytest.raises(FaultbotError) as caught:
        injector_for(app_config(tmp_path, app_forge))
    message = caught.value.message
    assert "\n" not in message and KEY_ENV in message and "github.app.private_key_env" in message
    assert app_forge.github.requests == []


def test_a_private_key_that_is_not_pem_is_one_line_without_the_value(
    tmp_path: Path, app_forge: Forge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "not-a-key-but-a-secret-all-the-same")
    with pytest.raises(FaultbotError) as caught:
        injector_for(app_config(tmp_path, app_forge))
    message = caught.value.message
    assert "\n" not in message and KEY_ENV in message and "not-a-key" not in message


def test_a_key_github_does_not_know_is_one_line_without_the_key(
    tmp_path: Path, app_forge: Forge, other_key: tuple[str, str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(KEY_ENV, other_key[0])
    before = git(app_forge.bare, "rev-parse", "main")
    assert main(["inject", "--config", str(app_config(tmp_path, app_forge)), "team-a", FAULT]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "401" in err[0] and "installation token" in err[0], err
    assert _secrets_in(captured.out + captured.err, app_forge, other_key[0]) == []
    assert app_forge.github.apps.minted == [] and git(app_forge.bare, "rev-parse", "main") == before


# --- the test server's endpoint itself -------------------------------------------------------

def _jwt(private_pem: str, app_id: int = APP_ID, lifetime: int = 540, issued: int = -60) -> str:
    now = int(time.time())
    return jwt.encode({"iat": now + issued, "exp": now + lifetime, "iss": str(app_id)}, private_pem, algorithm="RS256")


def _mint(forge: Forge, bearer: str, installation_id: int = INSTALLATION_ID) -> httpx.Response:
    return httpx.post(
        f"{forge.github.api_url}/app/installations/{installation_id}/access_tokens",
        headers={"Authorization": f"Bearer {bearer}", "Accept": "application/vnd.github+json"},
        json={"permissions": {"contents": "write"}},
    )


def test_server_mints_a_token_that_works_for_the_api_and_git(app_forge: Forge, app_key: tuple[str, str]) -> None:
    answer = _mint(app_forge, _jwt(app_key[0]))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["token"].startswith("ghs_") and len(body["token"]) == 40
    assert body["expires_at"].endswith("Z") and body["permissions"] == {"contents": "write"}
    assert body["repository_selection"] == "all"
    repo = httpx.get(f"{app_forge.github.api_url}/repos/{app_forge.full_name}",
                     headers={"Authorization": f"token {body['token']}"})
    assert repo.status_code == 200
    heads = run_git(*git_auth_config(body["token"]), "ls-remote", "--heads",
                    app_forge.git_http.url_for(app_forge.full_name)).stdout.decode()
    assert "refs/heads/main" in heads
    assert app_forge.git_http.requests[-1].user == APP_LOGIN


@pytest.mark.parametrize("case", ["other key", "expired", "too long", "unknown app", "personal token"])
def test_server_refuses_a_bad_jwt_with_401(app_forge: Forge, app_key: tuple[str, str],
                                           other_key: tuple[str, str], case: str) -> None:
    bearer = {
        "other key": lambda: _jwt(other_key[0]),
        "expired": lambda: _jwt(app_key[0], lifetime=-300, issued=-900),
        "too long": lambda: _jwt(app_key[0], lifetime=3600),
        "unknown app": lambda: _jwt(app_key[0], app_id=1),
        "personal token": lambda: "ghs_faultbot-token",
    }[case]()
    answer = _mint(app_forge, bearer)
    assert answer.status_code == 401 and answer.json()["message"] == "A JSON web token could not be decoded"
    assert app_forge.github.apps.minted == []


def test_server_answers_404_for_an_installation_of_another_app(app_forge: Forge, app_key: tuple[str, str]) -> None:
    assert _mint(app_forge, _jwt(app_key[0]), installation_id=INSTALLATION_ID + 1).status_code == 404


# --- ssh:// ----------------------------------------------------------------------------------

FAKE_SSH = """#!/bin/sh
# Stands in for OpenSSH: skip the options and the host, run the remote command right here.
echo "$*" >> {log}
while [ $# -gt 0 ]; do
  case "$1" in
    -p|-o|-l|-i|-F) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
shift
exec sh -c "$*"
"""


def test_push_over_an_ssh_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    remote = make_team_repo(tmp_path)
    before = remote.head()
    # Named `ssh` so git treats it as OpenSSH (and passes -o SendEnv=GIT_PROTOCOL for v2).
    fake = tmp_path / "fake-ssh" / "ssh"
    fake.parent.mkdir()
    log = tmp_path / "ssh.log"
    fake.write_text(FAKE_SSH.format(log=shlex.quote(str(log))))
    fake.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", shlex.quote(str(fake)))
    url = f"ssh://git@example.invalid{remote.bare.resolve()}"
    injector, store = injector_for(write_config(tmp_path, f"    url: {url}\n"))
    result = injector.inject(CATALOG.get(FAULT))
    assert remote.head() == result.sha and result.parent == before
    assert git(remote.bare, "rev-parse", f"{result.sha}^") == before
    assert_looks_human(remote.bare, result.sha)
    calls = log.read_text()
    assert "example.invalid git-receive-pack" in calls and "git-upload-pack" in calls
    assert "inject.landed" in [e.kind for e in store.events("team-a")]
