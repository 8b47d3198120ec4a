"""Local stand-ins for GitHub (git smart HTTP + REST) and ArgoCD, as strict as the real services.

`forge.open_forge(tmp_path, seed)` serves one repo through both GitHub doors; `argocd_api.serve_argocd()`
serves ArgoCD. What they enforce, and the knobs a test turns (all switchable at runtime):

* git (`git_http`): token on every request, partial clones and their lazy fetches
  (`partial_clone=False` for a server without filter support), `protect(...)` with GitHub's
  GH006 words (`branch_protection`, `git_protect_hook`), `outage` (fail/hang/drop, `only=` a path).
* GitHub REST (`github_api`): 401 "Bad credentials", merge/squash/rebase (`github_merge`),
  `set_merge_methods`, `protect(owner, repo, branch, BranchProtection(...))` for API merges *and*
  pushes, per-caller rate limits (`limits`, `exhaust_rate_limit`, `limits.secondary`), ETag/304,
  `outage` (5xx, hangs).
* ArgoCD (`argocd_api`): history only on successful syncs, `fail_next`, `rate_limit`, `down`/`up`,
  `outage` (5xx until cleared, hangs).

Every JSON body is recorded and checked against `shared/contracts/` by the contract tests.
"""
