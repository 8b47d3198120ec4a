# faultbot's daemon. The config is mounted read-only at /config; everything faultbot writes (the git
# caches, the crash log, a SQLite state file) goes under /state, a volume, or an emptyDir when the
# state is in PostgreSQL (docker-compose.yaml, deploy/kubernetes/):
#   docker run -e GITHUB_TOKEN -e ARGOCD_AUTH_TOKEN -v $PWD/repos.yaml:/config/repos.yaml:ro \
#              -v faultbot-state:/state -p 8080:8080 faultbot
# The root filesystem may be read-only (the Kubernetes manifests make it so): /state and /tmp are
# the only places written.
FROM python:3.12-slim

# chromium and iproute2 serve the behavioural checks (a real browser; a network namespace for a team's code).
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates chromium iproute2 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY fault_patches ./fault_patches
COPY examples ./examples
# The postgres extra: event.state may be a postgresql+psycopg:// URL. Bytecode is compiled now,
# since a read-only root cannot take it at run time.
RUN pip install --no-cache-dir -e '.[postgres]' \
 && python -m compileall -q bot \
 && groupadd --gid 10001 faultbot \
 && useradd --uid 10001 --gid 10001 --home-dir /state --no-create-home faultbot \
 && mkdir -p /state /config && chown 10001:10001 /state

# Relative `event.state` and `event.workdir` (and their defaults) resolve under FAULTBOT_STATE_DIR
# instead of beside the read-only config: sqlite:///faultbot.db and .faultbot land in /state, and
# the crash log goes to the event's workdir there too.
ENV HOME=/state \
    FAULTBOT_STATE_DIR=/state \
    PYTHONUNBUFFERED=1
# Numeric, so Kubernetes' runAsNonRoot can tell it is not root.
USER 10001:10001
WORKDIR /state
EXPOSE 8080
VOLUME ["/state"]
ENTRYPOINT ["faultbot"]
CMD ["run", "--config", "/config/repos.yaml"]
