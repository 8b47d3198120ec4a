"""Keep tokens out of every log line, error and URL faultbot prints."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable

_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@", re.IGNORECASE)
MASK = "***"


def redact_url(url: str) -> str:
    """`https://user:tok@host/x` -> `https://***@host/x`."""
    return _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", url)


class Redactor:
    """Scrubs known secrets (and their Basic-auth encodings) and URL credentials from text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Remember a secret; short strings are ignored so that we do not mask ordinary words."""
        if not secret or len(secret) < 6:
            return
        self._secrets.add(secret)
        # git and HTTP libraries may echo the Authorization header's base64 form.
        for user in ("x-access-token", "oauth2", "git", ""):
            pair = f"{user}:{secret}".encode()
            self._secrets.add(base64.b64encode(pair).decode())

    def __call__(self, text: str) -> str:
        """The text with every known secret and URL credential masked."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return redact_url(text)
