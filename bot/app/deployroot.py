"""Which folder of a team's repository its ArgoCD deploys: the root every tree is read from.

The team's `path:` in repos.yaml wins; else, with `argocd:` configured and the team's
`argocd_app` readable, the Application's `spec.source.path` (with `directory.recurse` and the
destination namespace); else discovery from the tree (`DeployRoot()`). An ArgoCD that cannot
answer is reported by `validate` on its own line; here it only means "discover".
"""

from __future__ import annotations

import os

from bot.catalog.manifests import DeployRoot
from bot.config import Config, TeamSettings
from bot.deploy import DeployError


def deploy_root(config: Config, team: TeamSettings) -> DeployRoot:
    """The team's deployed root (see the module docstring); asks ArgoCD at most once."""
    if team.path is not None:
        return DeployRoot(team.path, team.directory_recurse)
    if config.argocd is None or not team.argocd_app or not os.environ.get(config.argocd.token_env):
        return DeployRoot()
    from bot.deploy.argocd import ArgoCD

    try:
        with ArgoCD.from_settings(config.argocd, os.environ[config.argocd.token_env], attempts=2, base_delay=0.2) as argocd:
            app = argocd.application(team.argocd_app)
    except DeployError:
        return DeployRoot()
    if app.source_path is None:
        return DeployRoot()
    return DeployRoot(app.source_path, app.source_recurse, app.destination_namespace or "default")
