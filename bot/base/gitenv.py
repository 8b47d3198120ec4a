"""Which of the shell's GIT_* variables faultbot's git may see.

None of the ones that point git elsewhere or change who commits (GIT_DIR, GIT_WORK_TREE,
GIT_INDEX_FILE, GIT_AUTHOR_*, GIT_COMMITTER_*), nor the tracing ones (GIT_TRACE*, GIT_CURL_VERBOSE:
they print the token). Kept: how to reach the forge (a private CA, a client certificate, a proxy),
the operator's choice of global config, ssh's command, and never prompting.
"""

from __future__ import annotations

import os
import threading

KEPT = frozenset({
    "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "GIT_SSH_COMMAND", "GIT_TERMINAL_PROMPT",
    "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "GIT_SSL_CERT", "GIT_SSL_KEY", "GIT_SSL_CERT_PASSWORD_PROTECTED",
    "GIT_PROXY_COMMAND", "GIT_PROXY_SSL_CERT", "GIT_PROXY_SSL_KEY", "GIT_PROXY_SSL_CAINFO",
    "GIT_PROXY_SSL_CERT_PASSWORD_PROTECTED", "GIT_HTTP_PROXY_AUTHMETHOD",
})

_GUARD = threading.Lock()


def forget_inherited(keep: frozenset[str] = KEPT) -> None:
    """Drop from this process's environment the GIT_* variables outside `keep`.

    GitPython lays os.environ under the environment it is given, so a variable left out of
    that environment would still reach git. Called at start-up (`faultbot` before any thread)
    and before each git command (library use); a no-op once they are gone.
    """
    with _GUARD:
        for name in [n for n in os.environ if n.startswith("GIT_") and n not in keep and not n.startswith("GIT_PYTHON_")]:
            os.environ.pop(name, None)  # GIT_PYTHON_*: GitPython's own settings (which git to run), read at its import
