"""What a fault's checks read in a tree: the deployed files for certain, any other manifest-named
file only where its text can hold an object, deploy-deciding files anywhere."""

from __future__ import annotations

from bot.catalog.binding import CheckContext
from bot.catalog.faults import Catalog
from bot.catalog.manifests import ManifestIndex
from bot.catalog.readset import ReadSet, could_hold_object, read_set
from bot.catalog.rehearsal import bind_roles
from bot.catalog.roles import Roles
from tests.conftest import CHAT_APP

OBJECT = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
CONFIG = "name: svc\nreplicas: 2\n"


def never() -> list[str | None]:
    raise AssertionError("texts read for a path the read-set decides by name")


def test_the_chat_apps_selector_fault_reads_its_deployed_files_and_objects_anywhere() -> None:
    fault = Catalog.load().get("web-unreachable/service-selector-typo")
    index = ManifestIndex.scan(CHAT_APP)
    binding = bind_roles(fault, Roles(index))
    reads = read_set(fault.spec.fixed_when, CheckContext(CHAT_APP, binding, index))
    assert reads.manifests and "k8s/frontend-service.yaml" in reads.files
    assert reads.needs("k8s/frontend-service.yaml", never)
    assert reads.needs("k8s/kustomization.yaml", never)
    assert reads.needs("elsewhere/kustomization.yml", never)  # a new kustomize root may change what is deployed
    assert reads.needs("charts/app/Chart.yaml", never)
    assert not reads.needs("docs/runbook.md", never)
    assert not reads.needs("services/a/config.yaml", lambda: [CONFIG, CONFIG + "log: debug\n"])
    assert reads.needs("services/a/cm.yaml", lambda: [None, OBJECT])  # a new object
    assert reads.needs("services/a/cm.yaml", lambda: [OBJECT, None])  # an object gone
    assert reads.needs("apps/chat.json", lambda: ['{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application"}'])


def test_checks_that_read_no_manifest_only_need_their_globs() -> None:
    reads = ReadSet(frozenset({"terraform/*", "app/config.py"}), frozenset(), manifests=False)
    assert reads.needs("terraform/main.tf", never) and reads.needs("app/config.py", never)
    assert not reads.needs("k8s/frontend.yaml", never)


def test_only_an_escape_or_both_keys_can_spell_an_object() -> None:
    assert could_hold_object(OBJECT)
    assert could_hold_object('"\\x6bind": ConfigMap\napiVersion: v1\n')
    assert not could_hold_object(CONFIG) and not could_hold_object(None)
