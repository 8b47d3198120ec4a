"""Who may see the organizer view, and proof that a POST came from its own page.

The organizer token lives in an environment variable named by `web.organizer_token_env`;
without one the organizer view is not served at all. A browser signs in once by posting
the token to `/admin/login` and gets a session cookie (HttpOnly, SameSite=Strict, path
/admin) whose value is a random nonce and its HMAC under the token — nothing to steal
that outlives the process's sessions, and never the token itself. Machines may instead
send `Authorization: Bearer <token>`. Every comparison is constant-time.

Every state-changing request (halt, resume) must carry a CSRF token bound to the session
(the HMAC of the session nonce under the token, in a hidden form field), and, when the
browser sends one, an `Origin` equal to the server's own; SameSite=Strict is the second
wall, not the only one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from urllib.parse import urlsplit

COOKIE = "faultbot_organizer"


def _mac(token: str, message: str) -> str:
    return hmac.new(token.encode(), message.encode(), hashlib.sha256).hexdigest()


class OrganizerAuth:
    """Checks the organizer token, issues session cookies and CSRF tokens."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("an empty organizer token would let anyone in")
        self._token = token

    def token_matches(self, offered: str | None) -> bool:
        """The offered token is the organizer's (constant time)."""
        return offered is not None and hmac.compare_digest(offered.encode(), self._token.encode())

    def new_session(self) -> str:
        """A cookie value for a browser that just proved it knows the token."""
        nonce = secrets.token_hex(16)
        return f"{nonce}.{_mac(self._token, 'session:' + nonce)}"

    def session_nonce(self, cookie: str | None) -> str | None:
        """The session's nonce if the cookie is one of ours, else None."""
        if not cookie or "." not in cookie:
            return None
        nonce, mac = cookie.split(".", 1)
        return nonce if hmac.compare_digest(mac, _mac(self._token, "session:" + nonce)) else None

    def csrf_for(self, nonce: str) -> str:
        """The CSRF token a form of this session carries."""
        return _mac(self._token, "csrf:" + nonce)

    def csrf_ok(self, nonce: str, offered: str | None) -> bool:
        """The form's CSRF token belongs to this session (constant time)."""
        return offered is not None and hmac.compare_digest(offered, self.csrf_for(nonce))

    def bearer_ok(self, headers: Mapping[str, str]) -> bool:
        """`Authorization: Bearer <token>` names the organizer token."""
        scheme, _, value = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.token_matches(value.strip())


def same_origin(headers: Mapping[str, str], base_url: str) -> bool:
    """No `Origin` (older clients, curl), or an Origin naming this very server."""
    origin = headers.get("origin")
    if origin is None:
        return True
    own, theirs = urlsplit(base_url), urlsplit(origin)
    return (theirs.scheme, theirs.netloc) == (own.scheme, own.netloc)
