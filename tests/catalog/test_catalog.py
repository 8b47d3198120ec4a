"""Every fault in fault_patches/ is proven here, in both directions: it applies to the team
repo, the repo is then broken by the fault's own checks, each reference fix (the revert and a
forward fix that is not a revert) makes the checks pass again, and each listed wrong fix leaves
them failing. Behavioural checks run for real (sandbox, chromium), verdicts cached for the run.
Malformed fault files fail with one precise line.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from bot.catalog.behaviour import Runner
from bot.catalog.checks import is_behavioural
from bot.catalog.faults import Catalog, load_fault
from bot.catalog.rehearsal import rehearse
from bot.errors import CatalogError
from bot.repo.workspace import apply_patch
from tests.conftest import CHAT_APP

CATALOG = Catalog.load()
FAULTS = sorted(CATALOG.faults)
ALT = CHAT_APP.parents[1] / "tests" / "fixtures" / "alt-layout"

# Faults that do not fit the chat-app, and why (proven on another repository instead): the chat
# app's frontend is behind an Ingress that names its port (a Service port number change does
# not reach visitors; the Service is ClusterIP), its readiness probe names the container's
# port (a rename stalls the rollout: old pods keep serving), and its NetworkPolicies already
# admit the ingress controller and the backend (a new policy adds to them).
PROVEN_ELSEWHERE: dict[str, tuple[str, str]] = {
    "web-unreachable/frontend-service-port-changed": ("alt-layout", "the fault's own checks still pass"),
    "web-unreachable/frontend-netpol-hardening": ("alt-layout", "the fault's own checks still pass"),
    "db-unreachable/db-netpol-hardening": ("alt-layout", "the fault's own checks still pass"),
    "web-unreachable/frontend-container-port-renamed": ("podinfo/bases", "could not become Ready"),
    "web-unreachable/frontend-service-internal": ("k8s-guestbook", "spec.type is already 'ClusterIP'"),
}


def proving_ground(fault_id: str) -> Path:
    """The repository a fault is proven on: the chat app, or the one PROVEN_ELSEWHERE names."""
    where = PROVEN_ELSEWHERE.get(fault_id, ("chat-app", ""))[0]
    if where == "chat-app":
        return CHAT_APP
    if where == "alt-layout":
        return ALT
    from tests.realworld import realworld_source

    return realworld_source(where)


def test_catalog_has_the_three_families() -> None:
    assert {"web-unreachable", "db-unreachable", "app-bug"} <= set(CATALOG.families)
    for family in ("web-unreachable", "db-unreachable", "app-bug"):
        assert len(CATALOG.in_family(family)) >= 6, family


def wrong_fixes_needed(fault_id: str) -> int:
    """At least two plausible wrong fixes where checks are subtle (app code, Terraform), one elsewhere."""
    fault = CATALOG.get(fault_id)
    return 2 if fault.family == "app-bug" or "terraform" in {str(r) for r in fault.spec.roles} else 1


@pytest.mark.parametrize("fault_id", FAULTS)
def test_fault_is_proven_both_ways(fault_id: str, behaviour: Runner) -> None:
    fault = CATALOG.get(fault_id)
    result = rehearse(fault, proving_ground(fault_id), apply_patch=apply_patch, runner=behaviour)
    assert result.applicable, result.reason
    assert result.healthy_before, result.reason
    assert result.broken_after, result.reason
    assert any(not r.passed for r in result.after)
    tried = [f for f in result.fixes if not f.skipped]
    assert {"revert", "forward"} <= {fix.kind for fix in tried}
    assert any(f.kind == "forward" and not f.same_as_revert for f in tried), "no forward fix that is not a revert here"
    for fix in tried:
        assert fix.passed, f"{fix.kind} {fix.name}: {fix.reason}"
    assert len(fault.spec.wrong_fixes) >= wrong_fixes_needed(fault_id)
    wrong = [w for w in result.wrong_fixes if not w.skipped]
    assert wrong, "no wrong fix was tried on this variant"
    for w in wrong:
        assert w.stayed_broken, f"{w.name}: {w.reason}"
    assert result.ok and result.both_ways


@pytest.mark.parametrize("fault_id", sorted(PROVEN_ELSEWHERE))
def test_faults_that_do_not_fit_the_chat_app_say_why(fault_id: str) -> None:
    result = rehearse(CATALOG.get(fault_id), CHAT_APP, apply_patch=apply_patch, with_fixes=False)
    assert not result.breaks and not result.unhealthy
    assert PROVEN_ELSEWHERE[fault_id][1] in result.reason, result.reason


def test_every_app_bug_is_judged_by_behaviour() -> None:
    app_bugs = CATALOG.in_family("app-bug")
    assert len(app_bugs) >= 6
    for fault in app_bugs:
        kinds = {c.check for c in fault.spec.fixed_when}
        assert kinds & {"acceptance", "browser"}, f"{fault.id} judges no behaviour: {kinds}"
        assert all(is_behavioural(c) for c in fault.spec.fixed_when), f"{fault.id} still judges text"
    assert {"acceptance", "browser", "tests"} <= {c.check for f in app_bugs for c in f.spec.fixed_when}


YAML_FILE = re.compile(r"^diff --git a/(\S+\.ya?ml) ", re.MULTILINE)


@pytest.mark.parametrize("fault_id", FAULTS)
def test_fault_diff_is_human_sized_and_keeps_comments(fault_id: str) -> None:
    fault = CATALOG.get(fault_id)
    source = proving_ground(fault_id)
    result = rehearse(fault, source, with_fixes=False, apply_patch=apply_patch)
    added, removed = result.lines_changed
    assert 0 < added + removed <= 40, result.diff
    edits = fault.spec.variant(result.variant).edits
    scalar_only = all(e.op == "yaml.set" and not isinstance(e.value, (dict, list)) for e in edits)
    if scalar_only and result.variant != "no targetPort":  # that variant writes a key the Service did not have
        # One scalar per edit: exactly that many lines change, nothing re-indented.
        assert (added, removed) == (len(edits), len(edits)), result.diff
    removed_lines = [line[1:] for line in result.diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    for path in YAML_FILE.findall(result.diff):
        before = (source / path).read_text(encoding="utf-8") if (source / path).exists() else ""
        comments = [line.strip() for line in before.splitlines() if line.strip().startswith("#")]
        for comment in comments:
            assert comment not in [r.strip() for r in removed_lines], f"{path}: comment {comment!r} lost"


def test_messages_never_give_the_game_away() -> None:
    words = re.compile(r"\b(fault|break|broke|chaos|inject|faultbot|sabotage)", re.IGNORECASE)
    for fault in CATALOG.faults.values():
        for message in fault.spec.commit_messages:
            assert not words.search(message), f"{fault.id}: {message!r}"


# --- malformed fault files ----------------------------------------------------------------

GOOD = """\
id: web-unreachable/demo
title: Demo
family: web-unreachable
severity: high
symptom: The site is down.
commit_messages: ["Tidy up", "Refactor"]
roles: [frontend_service]
edits:
  - op: yaml.set
    role: frontend_service
    path: spec.selector.app
    value: nope
fixed_when:
  - check: service_selects
    role: frontend_service
fixes:
  - {name: revert, kind: revert}
  - name: forward
    kind: forward
    edits:
      - {op: yaml.set, role: frontend_service, path: spec.selector, value: {tier: web}}
"""


def write_fault(tmp_path: Path, text: str, name: str = "demo") -> Path:
    folder = tmp_path / "web-unreachable" / name
    folder.mkdir(parents=True)
    (folder / "fault.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return folder / "fault.yaml"


def test_the_good_example_loads(tmp_path: Path) -> None:
    assert load_fault(write_fault(tmp_path, GOOD)).id == "web-unreachable/demo"


@pytest.mark.parametrize(
    ("what", "change", "expected"),
    [
        ("bad op", ("op: yaml.set\n    role", "op: yaml.frobnicate\n    role"), r"demo/fault.yaml:9: edits\[0\]: unknown op 'yaml.frobnicate'"),
        ("unknown role", ("role: frontend_service\n    path: spec.selector.app", "role: webserver\n    path: spec.selector.app"), r"demo/fault.yaml:10: edits\[0\].role: 'webserver' is not allowed"),
        ("bad regex", ("fixed_when:\n", "fixed_when:\n  - {check: text, path: x, pattern: '(unclosed'}\n"), r"demo/fault.yaml:14: fixed_when\[0\].pattern: bad regular expression"),
        ("unknown check", ("check: service_selects", "check: is_it_fixed"), r"demo/fault.yaml:14: fixed_when\[0\]: unknown check 'is_it_fixed'"),
        ("unknown key", ("severity: high", "severity: high\nowner: me"), r"demo/fault.yaml:\d+: owner: unknown field"),
        ("one commit message", ('commit_messages: ["Tidy up", "Refactor"]', 'commit_messages: ["Tidy up"]'), r"demo/fault.yaml:6: commit_messages: List should have at least 2 items"),
        ("no forward fix", ("  - name: forward\n    kind: forward", "  - name: forward\n    kind: revert"), r"demo/fault.yaml:\d+: fixes\[1\]: a revert fix takes no edits"),
        ("id not matching folder", ("id: web-unreachable/demo", "id: web-unreachable/other"), r"demo/fault.yaml:1: id: id 'web-unreachable/other' must match its folder"),
        ("bad path", ("path: spec.selector.app", "path: 'spec..[[selector'"), r"demo/fault.yaml:11: edits\[0\].path: cannot read path"),
        # Templates are checked at load: an authoring error must not pass for "this variant does not fit".
        ("template syntax", ("value: nope", "value: '{{ current -}'"), r"demo/fault.yaml:9: edits\[0\]: .*template '\{\{ current -\}'"),
        ("misspelt variable", ("value: nope", "value: '{{ curent }}-web'"), r"demo/fault.yaml:9: edits\[0\]: .*names curent, which this edit does not have \(it has current, deployed, ports, resource, roles\)"),
        ("unknown filter", ("value: nope", "value: '{{ current | shout }}'"), r"demo/fault.yaml:9: edits\[0\]: .*No filter named 'shout'"),
        ("another edit's variable", ("  - {op: yaml.set, role: frontend_service, path: spec.selector, value: {tier: web}}",
                                     "  - {op: yaml.delete, role: frontend_service, path: 'spec.ports[port={{ current }}]'}"),
         r"demo/fault.yaml:\d+: fixes\[1\].edits\[0\]: .*names current"),
    ],
)
def test_malformed_fault_gives_one_line(tmp_path: Path, what: str, change: tuple[str, str], expected: str) -> None:
    assert change[0] in GOOD, what
    path = write_fault(tmp_path, GOOD.replace(change[0], change[1], 1))
    with pytest.raises(CatalogError) as caught:
        load_fault(path)
    message = caught.value.message
    assert "\n" not in message
    assert re.match(expected, message), message


def _fault_with_edit(tmp_path: Path, edit: str, name: str = "demo") -> Path:
    text = GOOD.replace(
        "  - op: yaml.set\n    role: frontend_service\n    path: spec.selector.app\n    value: nope\n", edit
    )
    return write_fault(tmp_path, text, name)


@pytest.mark.parametrize(
    ("what", "edit", "expected"),
    [
        ("regex matching 0 times",
         "  - {op: text.replace, role: frontend_source, pattern: 'no such text anywhere', replacement: x}\n",
         "edits[0] (text.replace): pattern 'no such text anywhere' matches 0 time(s)"),
        ("regex matching 2+ times",
         "  - {op: text.replace, role: frontend_source, glob: '*.js', pattern: 'const ', replacement: 'let '}\n",
         "the fault expects exactly 1"),
        ("path escaping the repo",
         "  - {op: file.add, path: ../../outside.txt, content: x}\n",
         "edits[0] (file.add): path '../../outside.txt' leaves the repository"),
        ("patch that does not apply",
         "  - {op: patch, file: change.patch}\n",
         "edits[0] (patch): patch change.patch does not apply"),
        ("yaml path matching nothing",
         "  - {op: yaml.set, role: frontend_service, path: 'spec.ports[name=https].port', value: 1}\n",
         "edits[0] (yaml.set): spec.ports[name=https] does not exist"),
    ],
)
def test_fault_that_does_not_apply_says_why(tmp_path: Path, what: str, edit: str, expected: str) -> None:
    path = _fault_with_edit(tmp_path / "catalog", edit)
    (path.parent / "change.patch").write_text(
        "--- a/README.md\n+++ b/README.md\n@@ -1,1 +1,1 @@\n-this line is not in the file\n+x\n", encoding="utf-8"
    )
    result = rehearse(load_fault(path), CHAT_APP, with_fixes=False, apply_patch=apply_patch)
    assert not result.applicable
    assert expected in result.reason, result.reason
    assert "\n" not in result.reason
    assert not (tmp_path / "outside.txt").exists()


def test_edit_refuses_to_write_through_a_symlink(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    import shutil

    shutil.copytree(CHAT_APP, repo)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (repo / "k8s" / "linked").symlink_to(outside)
    path = _fault_with_edit(tmp_path / "catalog", "  - {op: file.add, path: k8s/linked/x.yaml, content: x}\n")
    result = rehearse(load_fault(path), repo, with_fixes=False, apply_patch=apply_patch)
    assert "goes through a symlink" in result.reason
    assert list(outside.iterdir()) == []


def test_a_file_add_source_template_is_checked_at_load(tmp_path: Path) -> None:
    edit = "  - {op: file.add, path: extra.yaml, source: extra.yaml.j2, kustomize: false}\n"
    path = _fault_with_edit(tmp_path, edit)
    (path.parent / "extra.yaml.j2").write_text("port: {{ prots.frontend_service }}\n", encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        load_fault(path)
    assert caught.value.message.startswith("demo/extra.yaml.j2: template ")
    assert "names prots" in caught.value.message
    (path.parent / "extra.yaml.j2").write_text("port: {{ ports.frontend_service }}\n", encoding="utf-8")
    assert load_fault(path).id == "web-unreachable/demo"


def test_nested_all_and_any_checks_parse_and_judge(tmp_path: Path) -> None:
    """`all`/`any` name the check union before it is defined; the models are built lazily (defer_build),
    so the forward reference must still resolve when a fault first uses them."""
    from bot.catalog.faultspec import AllOf, AnyOf

    source = CHAT_APP.parent.parent / "fault_patches" / "web-unreachable" / "service-selector-typo"
    folder = tmp_path / "web-unreachable" / "service-selector-typo"
    folder.mkdir(parents=True)
    text = (source / "fault.yaml").read_text()
    start, end = text.index("fixed_when:\n"), text.index("hints:\n")
    nested = textwrap.dedent("""\
        fixed_when:
          - check: all
            checks:
              - check: any
                checks:
                  - {check: service_selects, role: frontend_service, workload_role: frontend_workload}
              - {check: service_target_port, role: frontend_service}
        """)
    (folder / "fault.yaml").write_text(text[:start] + nested + text[end:])
    fault = load_fault(folder / "fault.yaml")
    outer = fault.spec.fixed_when[0]
    assert isinstance(outer, AllOf) and isinstance(outer.checks[0], AnyOf)
    result = rehearse(fault, CHAT_APP, apply_patch=apply_patch, with_fixes=False)
    assert result.healthy_before and result.broken_after, result.reason
