"""GitHub Apps on the test forge: installation access tokens traded for a signed JWT.

A bot of an organisation that forbids personal tokens signs a JWT (RS256, `iss` = the
app id) with the app's private key and calls
`POST /app/installations/{installation_id}/access_tokens`; the `ghs_` token it gets back
works for the API and, when a git server is attached, for git over HTTPS.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import jwt

from tests.servers.github_call import ApiError, Call, Reply

if TYPE_CHECKING:
    from tests.servers.github_api import GitHubServer

TOKEN_LIFETIME = timedelta(hours=1)
MAX_JWT_LIFETIME = 600  # GitHub refuses a JWT whose `exp` is more than 10 minutes ahead
CLOCK_DRIFT = 60
DEFAULT_PERMISSIONS = {"contents": "write", "pull_requests": "write", "metadata": "read"}
JWT_REFUSED = "A JSON web token could not be decoded"


@dataclass(frozen=True)
class RegisteredApp:
    """One GitHub App: its id, public key, installations and the login its tokens act as."""

    app_id: int
    slug: str
    public_key_pem: str
    installation_ids: frozenset[int]

    @property
    def bot_login(self) -> str:
        """Installation tokens act as `<slug>[bot]`, as on GitHub."""
        return f"{self.slug}[bot]"


@dataclass(frozen=True)
class MintedToken:
    """An installation token the server handed out, for tests that inspect them."""

    token: str
    app_id: int
    installation_id: int
    expires_at: datetime
    permissions: dict[str, str]


@dataclass
class AppRegistry:
    """The apps a test registered and the tokens minted for them."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    apps: dict[int, RegisteredApp] = field(default_factory=dict)
    minted: list[MintedToken] = field(default_factory=list)

    def register(self, app_id: int, public_key_pem: str, installation_id: int, slug: str) -> None:
        """Add an app (or one more installation of it)."""
        with self.lock:
            known = self.apps.get(app_id)
            installations = (known.installation_ids if known else frozenset()) | {installation_id}
            self.apps[app_id] = RegisteredApp(app_id, slug, public_key_pem, installations)

    def app_login(self, authorization: str | None) -> str | None:
        """The slug of the app whose valid JWT this is, or None (bad signature, expired, unknown)."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = token.strip()
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
            with self.lock:
                app = self.apps.get(int(str(issuer)))
            if app is None:
                return None
            claims = jwt.decode(
                token, app.public_key_pem, algorithms=["RS256"], leeway=CLOCK_DRIFT,
                options={"require": ["iat", "exp", "iss"]},
            )
        except (jwt.PyJWTError, ValueError):
            return None
        if int(claims["exp"]) > time.time() + MAX_JWT_LIFETIME + CLOCK_DRIFT:
            return None
        return app.slug

    def app_by_slug(self, slug: str) -> RegisteredApp | None:
        """The app a JWT-authenticated call comes from."""
        with self.lock:
            return next((app for app in self.apps.values() if app.slug == slug), None)

    def record(self, minted: MintedToken) -> None:
        """Remember a token handed out."""
        with self.lock:
            self.minted.append(minted)


def create_installation_token(call: Call) -> Reply:
    """POST /app/installations/{installation_id}/access_tokens (JWT-authenticated)."""
    server: GitHubServer = call.server
    app = server.apps.app_by_slug(call.login)
    installation_id = int(call.params["installation_id"])
    if app is None or installation_id not in app.installation_ids:
        raise ApiError(404, "Not Found")
    requested = (call.json or {}).get("permissions") if isinstance(call.json, dict) else None
    if requested is not None and not isinstance(requested, dict):
        raise ApiError(422, "Invalid request.", [{"resource": "Installation", "field": "permissions", "code": "invalid"}])
    permissions = dict(requested or DEFAULT_PERMISSIONS)
    alphabet = string.ascii_letters + string.digits
    token = "ghs_" + "".join(secrets.choice(alphabet) for _ in range(36))
    expires_at = (server.now() + TOKEN_LIFETIME).astimezone(timezone.utc).replace(microsecond=0)
    server.accept_token(token, app.bot_login)
    server.apps.record(MintedToken(token, app.app_id, installation_id, expires_at, permissions))
    body = {
        "token": token,
        "expires_at": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "permissions": permissions,
        "repository_selection": "all",
    }
    return Reply(body, status=201)
