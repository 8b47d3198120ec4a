# faultbot's daemon. Mount repos.yaml at /config and keep state on the /state volume:
#   docker run -e GITHUB_TOKEN -e ARGOCD_AUTH_TOKEN -v $PWD/repos.yaml:/config/repos.yaml:ro \
#              -v faultbot-state:/state faultbot
# (set `event.state: sqlite:////state/faultbot.db` in repos.yaml so state survives restarts).
FROM python:3.12-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY fault_patches ./fault_patches
COPY examples ./examples
RUN pip install --no-cache-dir -e . \
 && useradd --create-home --uid 10001 faultbot \
 && mkdir -p /state /config && chown faultbot /state

USER faultbot
WORKDIR /state
EXPOSE 8080
VOLUME ["/state"]
ENTRYPOINT ["faultbot"]
CMD ["run", "--config", "/config/repos.yaml"]
