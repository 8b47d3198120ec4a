"""A throwaway certificate authority for test servers that must speak HTTPS.

The official `pagerduty` client refuses any base URL that is not `https://`, and the real
PagerDuty refuses plain HTTP, so its stand-in listens with TLS. trustme makes a CA and a
certificate for 127.0.0.1 in memory; clients trust that CA through an `ssl.SSLContext`
(`verify=` for httpx/httpx2, `ssl=` for slack-sdk), never by turning verification off.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from functools import cache

import trustme

LOCAL_HOST = "127.0.0.1"


@dataclass(frozen=True)
class LocalTLS:
    """One CA and the 127.0.0.1 server certificate it signed."""

    authority: trustme.CA
    server_cert: trustme.LeafCert

    def server_context(self) -> ssl.SSLContext:
        """What a test server wraps its socket with."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """What a client verifies the test server with (hostname checks stay on)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # only this CA: no system store to load
        self.authority.configure_trust(context)
        return context


@cache
def local_tls() -> LocalTLS:
    """The session's CA, made on first use (generating keys is the only slow part)."""
    authority = trustme.CA()
    return LocalTLS(authority, authority.issue_cert(LOCAL_HOST, "localhost"))
