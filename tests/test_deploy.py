"""deploy/kubernetes/, docker-compose.yaml and the Dockerfile, as an organizer runs them (no Docker and
no cluster here: the files are checked against the published schemas, then against each other).

Kubernetes: kubernetes-validate's strict schemas (an unknown or misspelt field is an error). Compose:
the Compose spec's JSON schema as check-jsonschema ships it, run through its own command. Dockerfile:
read by Docker's own parser (the `dockerfile` package)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import dockerfile
import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from bot.app.cli import main
from tests.conftest import ROOT

KUBERNETES = ROOT / "deploy" / "kubernetes"
COMPOSE = ROOT / "docker-compose.yaml"
# The oldest Kubernetes still common on managed clusters, and the newest the validator knows.
K8S_VERSIONS = ["1.29", kubernetes_validate.latest_version()]
RUN_ARGS = ["run", "--config", "/config/repos.yaml"]


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in YAML(typ="safe").load_all(path.read_text(encoding="utf-8")) if doc]


def manifests() -> dict[str, dict[str, Any]]:
    """Every object in deploy/kubernetes/, by kind (one of each)."""
    objects: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for doc in load_all(path):
            assert doc["kind"] not in objects, f"{path.name}: a second {doc['kind']}"
            objects[doc["kind"]] = doc
    return objects


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = manifests()["Deployment"]["spec"]["template"]["spec"]
    return spec


def container() -> dict[str, Any]:
    containers = pod_spec()["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def carried_config() -> dict[str, Any]:
    """The repos.yaml inside the ConfigMap, as YAML."""
    config: dict[str, Any] = YAML(typ="safe").load(manifests()["ConfigMap"]["data"]["repos.yaml"])
    return config


def image() -> dict[str, list[tuple[str, ...]]]:
    """The Dockerfile's instructions, by name, in order."""
    found: dict[str, list[tuple[str, ...]]] = {}
    for command in dockerfile.parse_file(str(ROOT / "Dockerfile")):
        found.setdefault(command.cmd.upper(), []).append(tuple(command.value))
    return found


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_manifests_match_the_kubernetes_api(version: str) -> None:
    kinds = manifests()
    assert set(kinds) == {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget"}
    for obj in kinds.values():
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("spoil", ["misspelt field", "wrong type"])
def test_the_manifest_check_refuses_what_the_api_server_would(spoil: str) -> None:
    deployment = copy.deepcopy(manifests()["Deployment"])
    if spoil == "misspelt field":
        deployment["spec"]["replica"] = deployment["spec"].pop("replicas")
    else:
        deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)


def test_two_locked_down_replicas_keep_nothing_on_the_pod() -> None:
    deployment, pod, main_container = manifests()["Deployment"], pod_spec(), container()
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert all(set(v) - {"name"} <= {"configMap", "emptyDir"} for v in volumes.values()), "no volume claim"
    mounts = {m["mountPath"]: m for m in main_container["volumeMounts"]}
    assert set(mounts) == {"/config", "/state", "/tmp"}
    assert mounts["/config"]["readOnly"] is True
    assert volumes[mounts["/config"]["name"]]["configMap"]["name"] == manifests()["ConfigMap"]["metadata"]["name"]
    assert "emptyDir" in volumes[mounts["/state"]["name"]] and "emptyDir" in volumes[mounts["/tmp"]["name"]]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    locked = main_container["securityContext"]
    assert locked["readOnlyRootFilesystem"] is True and locked["allowPrivilegeEscalation"] is False
    assert locked["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(main_container["resources"]["requests"])
    assert "memory" in main_container["resources"]["limits"]


def test_the_pods_run_the_image_as_its_own_user_with_the_config_they_mount() -> None:
    pod, main_container, config = pod_spec(), container(), carried_config()
    user = image()["USER"][-1][0]
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == tuple(
        int(part) for part in user.split(":"))
    assert main_container["args"] == RUN_ARGS
    # The daemon writes only under /state: the caches go to the emptyDir, not beside the read-only config.
    assert Path(config["event"]["workdir"]).is_relative_to("/state")
    port = next(p for p in main_container["ports"] if p["name"] == "http")
    assert port["containerPort"] == config["web"]["port"] and config["web"]["host"] == "0.0.0.0"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert main_container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe


def test_every_secret_the_config_names_comes_from_the_secret() -> None:
    config, env = carried_config(), container()["env"]
    from_secret = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in env if "secretKeyRef" in e.get("valueFrom", {})}
    named = {config["github"]["token_env"], config["argocd"]["token_env"], config["web"]["webhook_secret_env"],
             config["event"]["state_env"]}
    assert named == set(from_secret), "each env var the config names, and no other, comes from the Secret"
    assert {ref["name"] for ref in from_secret.values()} == {"faultbot"}
    required = {name for name, ref in from_secret.items() if not ref.get("optional")}
    assert required == {config["github"]["token_env"], config["event"]["state_env"]}
    assert not [e for e in env if "value" in e], "no literal values: secrets stay in the Secret"


def test_the_service_and_the_budget_select_the_pods() -> None:
    objects = manifests()
    labels = objects["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert objects["Deployment"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert objects["Service"]["spec"]["selector"].items() <= labels.items()
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    port_names = {p["name"] for p in container()["ports"]}
    assert {p["targetPort"] for p in objects["Service"]["spec"]["ports"]} <= port_names
    assert objects["PodDisruptionBudget"]["spec"]["minAvailable"] < objects["Deployment"]["spec"]["replicas"]


def _validate_offline(tmp_path: Path, config: dict[str, Any]) -> int:
    path = tmp_path / "repos.yaml"
    with path.open("w", encoding="utf-8") as handle:
        YAML().dump(config, handle)
    return main(["validate", "--offline", "--config", str(path)])


def test_the_configmap_holds_a_valid_config_apart_from_the_state_url(tmp_path: Path) -> None:
    config = carried_config()
    state_env = config["event"].pop("state_env")
    assert state_env == "FAULTBOT_STATE_URL"
    config["event"]["state"] = "postgresql+psycopg://faultbot@db.invalid/faultbot"  # what the Secret would hold
    assert _validate_offline(tmp_path, config) == 0


def test_the_configmap_names_its_state_url_by_environment_variable(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAULTBOT_STATE_URL", "postgresql+psycopg://faultbot:secret@db.invalid/faultbot")
    assert _validate_offline(tmp_path, carried_config()) == 0


def check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                           str(path)], capture_output=True, text=True, timeout=120)


def test_the_compose_file_matches_the_compose_spec(tmp_path: Path) -> None:
    result = check_compose(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr
    spoilt = load_all(COMPOSE)[0]
    spoilt["services"]["faultbot"]["volume"] = spoilt["services"]["faultbot"].pop("volumes")  # misspelt
    with (tmp_path / "docker-compose.yaml").open("w", encoding="utf-8") as handle:
        YAML().dump(spoilt, handle)
    refused = check_compose(tmp_path / "docker-compose.yaml")
    assert refused.returncode != 0 and "volume" in refused.stdout


def test_the_compose_file_runs_the_image_on_its_own_postgres() -> None:
    compose = load_all(COMPOSE)[0]
    bot, db = compose["services"]["faultbot"], compose["services"]["postgres"]
    assert bot["build"] == "." and bot["command"] == RUN_ARGS
    assert bot["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    url = bot["environment"]["FAULTBOT_STATE_URL"]
    user, database = db["environment"]["POSTGRES_USER"], db["environment"]["POSTGRES_DB"]
    assert url == f"postgresql+psycopg://{user}:${{POSTGRES_PASSWORD}}@postgres:5432/{database}"
    assert db["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")  # no default password
    assert "./repos.yaml:/config/repos.yaml:ro" in bot["volumes"]
    assert {v.split(":")[1] for v in bot["volumes"]} == {"/config/repos.yaml", "/state"}
    assert bot["read_only"] is True and bot["tmpfs"] == ["/tmp"]
    assert set(compose["volumes"]) == {v.split(":")[0] for v in bot["volumes"] + db["volumes"] if not v.startswith(".")}


def test_the_image_writes_only_under_state_and_runs_the_daemon() -> None:
    instructions = image()
    uid = instructions["USER"][-1][0].split(":")[0]
    assert uid.isdigit() and int(uid) != 0  # numeric, so runAsNonRoot can check it
    assert instructions["WORKDIR"][-1] == ("/state",)  # the crash log (./.faultbot) lands there
    env = dict(zip(instructions["ENV"][-1][::2], instructions["ENV"][-1][1::2], strict=True))
    assert env["HOME"] == "/state" and env["FAULTBOT_STATE_DIR"] == "/state"
    assert instructions["VOLUME"] == [("/state",)]
    assert instructions["ENTRYPOINT"] == [("faultbot",)] and instructions["CMD"] == [tuple(RUN_ARGS)]
    assert any("'.[postgres]'" in run[0] for run in instructions["RUN"]), "the image can reach PostgreSQL"
