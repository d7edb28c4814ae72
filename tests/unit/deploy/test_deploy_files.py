"""deploy/ cannot be run here (no Docker, no cluster), so these tests check its files: they
parse; every ``tocsin`` command they run exists; every ``TOCSIN_*`` variable they set is a
real setting with a valid value; the dashboard uses only declared metrics; the Kafka
cluster is consistent; no secret value is committed. Each checker is also shown failing on
a deliberately bad example.
"""

from __future__ import annotations

import contextlib
import copy
import fnmatch
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from pydantic import BaseModel

from services.cli.app import app
from services.registry import SERVICES
from services.runtime import metrics as m
from services.runtime.settings import ConfigError, Settings, WebSubSettings, load_settings

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
CONFIG = DEPLOY / "config" / "tocsin.yaml"
COMPOSE_FILES = sorted(DEPLOY.glob("compose.*.yaml"))
HEALTHCHECK_IN_IMAGE = "/usr/local/bin/tocsin-healthcheck"
#: TOCSIN_* variables read by the process outside ``Settings`` (each checked to be read in services/)
PROCESS_VARIABLES = {"TOCSIN_CONFIG", "TOCSIN_LOG_LEVEL"}
PLACEHOLDER = re.compile(r"^(|CHANGE-ME[-a-z0-9]*|\$\{[A-Za-z_][A-Za-z0-9_]*(:[-?][^}]*)?\})$")
SECRET_KEY = re.compile(r"secret|password|passwd|token|api_?key|credential", re.IGNORECASE)


# --- reading the files ------------------------------------------------------------------


def _yaml_docs(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def _compose(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def _k8s_objects() -> list[dict[str, Any]]:
    return [
        d
        for p in sorted(K8S.glob("*.yaml"))
        for d in _yaml_docs(p)
        if "kind" in d and "metadata" in d
    ]


def _deployments() -> list[dict[str, Any]]:
    return [o for o in _k8s_objects() if o["kind"] == "Deployment"]


def _is_tocsin_image(image: str) -> bool:
    return image.rsplit("/", maxsplit=1)[-1].split(":", maxsplit=1)[0] == "tocsin"


def _healthcheck_args(command: list[str]) -> list[str] | None:
    """The tocsin arguments given to the image's healthcheck script, if ``command`` runs it."""
    if HEALTHCHECK_IN_IMAGE in command:
        return command[command.index(HEALTHCHECK_IN_IMAGE) + 1 :]
    return None


def _dockerfile_lines() -> list[str]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def tocsin_commands() -> list[tuple[str, list[str]]]:
    """(where, args) for every tocsin invocation in the Dockerfile, compose files and manifests."""
    found: list[tuple[str, list[str]]] = []
    for line in _dockerfile_lines():
        if line.startswith("CMD "):
            found.append(("Dockerfile CMD", json.loads(line[4:])))
    for path in COMPOSE_FILES:
        for name, svc in _compose(path)["services"].items():
            if not _is_tocsin_image(svc.get("image", "")):
                continue
            found.append((f"{path.name}:{name}", list(svc.get("command", ["run"]))))
            args = _healthcheck_args(list(svc.get("healthcheck", {}).get("test", [])))
            if args is not None:
                found.append((f"{path.name}:{name} healthcheck", args))
    for dep in _deployments():
        for c in dep["spec"]["template"]["spec"]["containers"]:
            where = f"k8s {dep['metadata']['name']}/{c['name']}"
            found.append((where, list(c.get("args", ["run"]))))
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                command = c.get(probe, {}).get("exec", {}).get("command")
                if command and (args := _healthcheck_args(list(command))) is not None:
                    found.append((f"{where} {probe}", args))
    return found


def tocsin_environments() -> list[tuple[str, dict[str, str]]]:
    """(where, variables) for every environment the deploy files give a Tocsin process."""
    envs: list[tuple[str, dict[str, str]]] = []
    image_env: dict[str, str] = {}
    for line in _dockerfile_lines():
        if line.startswith("ENV "):
            for key, value in re.findall(r"(\w+)=(\S+)", line[4:]):
                image_env[key] = value
    envs.append(("Dockerfile", image_env))
    for path in COMPOSE_FILES:
        for name, svc in _compose(path)["services"].items():
            if _is_tocsin_image(svc.get("image", "")):
                env = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
                envs.append((f"{path.name}:{name}", env))
    objects = {(o["kind"], o["metadata"]["name"]): o for o in _k8s_objects()}
    for dep in _deployments():
        for c in dep["spec"]["template"]["spec"]["containers"]:
            env: dict[str, str] = {}
            for ref in c.get("envFrom", []):
                if "configMapRef" in ref:
                    env.update(objects[("ConfigMap", ref["configMapRef"]["name"])]["data"])
                if "secretRef" in ref:
                    env.update(objects[("Secret", ref["secretRef"]["name"])]["stringData"])
            env.update({e["name"]: str(e.get("value", "")) for e in c.get("env", [])})
            envs.append((f"k8s {dep['metadata']['name']}/{c['name']}", env))
    return envs


# --- the checkers -------------------------------------------------------------------------


def command_problems(args: list[str]) -> list[str]:
    """What is wrong with running ``tocsin ARGS`` (empty: it would start)."""
    # Typer vendors its own click: go by the objects' shape, not click's classes.
    command: Any = typer.main.get_command(app)
    words = list(args)
    path: list[str] = []
    while hasattr(command, "commands") and words and not words[0].startswith("-"):
        sub = command.commands.get(words[0])
        if sub is None:
            return [f"tocsin {' '.join(path)} has no command {words[0]!r}".replace("  ", " ")]
        path.append(words.pop(0))
        command = sub
    if hasattr(command, "commands"):
        return [f"tocsin {' '.join(path)} needs a sub-command"]
    options = {o: p for p in command.params if p.param_type_name == "option" for o in p.opts}
    positional: list[str] = []
    problems: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            if name not in options:
                problems.append(f"tocsin {' '.join(path)} has no option {name}")
            elif not options[name].is_flag and "=" not in word:
                index += 1
        else:
            positional.append(word)
        index += 1
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    if len(positional) > len(arguments):
        problems.append(f"tocsin {' '.join(path)} takes {len(arguments)} argument(s): {positional}")
    if path == ["serve"] and positional and positional[0] not in SERVICES:
        problems.append(f"tocsin serve: no service {positional[0]!r}; known: {sorted(SERVICES)}")
    return problems


def _model(annotation: Any) -> type[BaseModel] | None:
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def variable_problem(name: str) -> str | None:
    """Why ``name`` is not a Tocsin setting (walking Settings with the ``__`` delimiter)."""
    if not name.startswith("TOCSIN_") or name in PROCESS_VARIABLES:
        return None
    model: type[BaseModel] | None = Settings
    parts = name.removeprefix("TOCSIN_").lower().split("__")
    for depth, part in enumerate(parts):
        if model is None:
            return f"{name}: {'.'.join(parts[:depth])} has no nested settings"
        field = model.model_fields.get(part)
        if field is None:
            known = ", ".join(sorted(model.model_fields))
            return f"{name}: no setting {'.'.join(parts[: depth + 1])!r} (known here: {known})"
        model = _model(field.annotation)
    return None


def metric_problems(dashboard: dict[str, Any]) -> list[str]:
    declared = {d.name: d for d in m.ALL}
    problems = []
    for name in sorted(set(re.findall(r"\btocsin_[a-z0-9_]+", json.dumps(dashboard)))):
        if name in declared:
            continue
        base, _, suffix = name.rpartition("_")
        d = declared.get(base)
        if d is not None and d.kind == "histogram" and suffix in ("bucket", "count", "sum"):
            continue
        problems.append(f"{name} is not declared in services/runtime/metrics.py")
    return problems


def kafka_cluster_problems(compose: dict[str, Any]) -> list[str]:
    """Three KRaft nodes with consistent ids, voters, listeners, cluster id and replication."""
    services = compose["services"]
    brokers = {n: s for n, s in services.items() if s.get("image", "").startswith("apache/kafka:")}
    problems = []
    if len(brokers) != 3:
        problems.append(f"{len(brokers)} apache/kafka brokers, not 3")
    ids: dict[int, str] = {}
    voters_seen: set[str] = set()
    expected_voters = set()
    cluster_ids = set()
    for name, svc in brokers.items():
        env = {k: str(v) for k, v in svc["environment"].items()}
        node = int(env["KAFKA_NODE_ID"])
        if node in ids:
            problems.append(f"{name}: node id {node} also used by {ids[node]}")
        ids[node] = name
        listeners = dict(
            (item.split("://")[0], item.split("://")[1])
            for item in env["KAFKA_LISTENERS"].split(",")
        )
        controller_port = listeners.get("CONTROLLER", ":?").rsplit(":", 1)[1]
        host = svc.get("hostname", name)
        expected_voters.add(f"{node}@{host}:{controller_port}")
        voters_seen.add(env["KAFKA_CONTROLLER_QUORUM_VOTERS"])
        if "controller" not in env["KAFKA_PROCESS_ROLES"].split(","):
            problems.append(f"{name}: not a controller, but listed as a voter")
        advertised = env["KAFKA_ADVERTISED_LISTENERS"]
        if f"PLAINTEXT://{host}:" not in advertised:
            problems.append(f"{name}: advertises {advertised}, not its hostname {host}")
        cluster_ids.add(env.get("CLUSTER_ID"))
        for key, want in (
            ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "3"),
            ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "3"),
            ("KAFKA_DEFAULT_REPLICATION_FACTOR", "3"),
            ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "2"),
            ("KAFKA_MIN_INSYNC_REPLICAS", "2"),
        ):
            if env.get(key) != want:
                problems.append(f"{name}: {key}={env.get(key)}, want {want}")
    if len(voters_seen) != 1:
        problems.append(f"brokers disagree on the quorum voters: {sorted(voters_seen)}")
    elif set(next(iter(voters_seen)).split(",")) != expected_voters:
        problems.append(f"quorum voters {voters_seen} are not the nodes {sorted(expected_voters)}")
    if len(cluster_ids) != 1 or None in cluster_ids:
        problems.append(f"CLUSTER_ID differs or is missing: {cluster_ids}")
    return problems


def secret_problems(data: Any, where: str) -> list[str]:
    """Keys that look secret and hold something other than a placeholder or ${VAR} reference."""
    problems = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if {"name", "value"} <= set(node) and isinstance(node["name"], str):
                walk({node["name"]: node["value"]}, path)
            for key, value in node.items():
                here = f"{path}.{key}"
                if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
                    try:  # a JSON setting such as TOCSIN_API__TOKENS: check what it holds
                        walk(json.loads(value), here)
                        continue
                    except ValueError:
                        pass
                if isinstance(value, str) and SECRET_KEY.search(str(key)):
                    text = str(value)
                    # a key naming a Secret object (secretName / secretRef) is not a secret
                    if not PLACEHOLDER.match(text) and not str(key).lower().startswith(
                        ("secretname", "secretref")
                    ):
                        problems.append(f"{where}{here}: looks like a committed secret")
                walk(value, here)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]")
        elif isinstance(node, str) and "\n" in node and ":" in node:
            with contextlib.suppress(yaml.YAMLError):
                walk(yaml.safe_load(node), path)  # an embedded file (a ConfigMap's tocsin.yaml)

    walk(data, "")
    return problems


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matches a path or a parent."""
    excluded = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        regex = re.compile(
            "^" + fnmatch.translate(pattern).replace(".*", "[^/]*").replace("[^/]*[^/]*", ".*")
        )
        bare = pattern.removeprefix("**/")
        if any(
            regex.match(p)
            or (pattern.startswith("**/") and fnmatch.fnmatchcase(p.rsplit("/", 1)[-1], bare))
            for p in prefixes
        ):
            excluded = not negate
    return excluded


# --- files parse --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml", ".json")),
    ids=lambda p: str(p.relative_to(DEPLOY)),
)
def test_every_yaml_and_json_file_parses(path: Path) -> None:
    if path.suffix == ".json":
        assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
    else:
        assert _yaml_docs(path), f"{path} is empty"


def test_the_file_set_is_complete() -> None:
    for name in ("Dockerfile", "compose.single.yaml", "compose.kafka.yaml", "healthcheck.py"):
        assert (DEPLOY / name).is_file(), name
    assert (DEPLOY / "grafana" / "tocsin-dashboard.json").is_file()
    assert (ROOT / ".dockerignore").is_file()


# --- commands -----------------------------------------------------------------------------


def test_every_tocsin_command_in_the_deploy_files_exists() -> None:
    commands = tocsin_commands()
    assert len(commands) >= 15  # Dockerfile, both compose files, every Deployment, probes
    problems = [f"{where}: {p}" for where, args in commands for p in command_problems(args)]
    assert problems == []


def test_every_registered_service_is_deployed_on_kafka_and_on_kubernetes() -> None:
    kafka = _compose(DEPLOY / "compose.kafka.yaml")["services"]
    served = {tuple(s.get("command", [])) for s in kafka.values()}
    k8s = {
        tuple(c.get("args", []))
        for d in _deployments()
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    for name in SERVICES:
        assert ("serve", name) in served, f"compose.kafka.yaml runs no {name}"
        assert ("serve", name) in k8s, f"deploy/k8s runs no {name}"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["serve", "enricherr"], "no service 'enricherr'"),
        (["lgo", "topics"], "no command 'lgo'"),
        (["log"], "needs a sub-command"),
        (["run", "--until-idel"], "no option --until-idel"),
        (["serve", "poller", "extra"], "takes 1 argument"),
    ],
)
def test_a_command_that_does_not_exist_is_caught(args: list[str], fragment: str) -> None:
    assert any(fragment in p for p in command_problems(args)), command_problems(args)


def test_the_commands_answer_help_through_the_installed_script() -> None:
    script = shutil.which("tocsin", path=str(Path(sys.executable).parent)) or shutil.which("tocsin")
    assert script, "the tocsin script is not installed"
    paths = set()
    for _, args in tocsin_commands():
        words = [w for w in args if not w.startswith("-")]
        paths.add(tuple(words[:1] if words[:1] in (["run"], ["serve"]) else words[:2]))
    assert ("serve",) in paths and ("log", "topics") in paths
    for path in sorted(paths):
        done = subprocess.run(
            [script, *path, "--help"], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, (path, done.stderr)
        assert "Usage" in done.stdout


# --- environment --------------------------------------------------------------------------


def test_every_tocsin_variable_is_a_real_setting() -> None:
    envs = tocsin_environments()
    names = {n for _, env in envs for n in env if n.startswith("TOCSIN_")}
    assert {"TOCSIN_LOG", "TOCSIN_KAFKA__REPLICATION_FACTOR", "TOCSIN_KAFKA__IDEMPOTENT"} <= names
    problems = [p for n in sorted(names) if (p := variable_problem(n))]
    assert problems == []


def test_the_process_variables_are_really_read_by_the_code() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "services").rglob("*.py"))
    for name in PROCESS_VARIABLES:
        assert f'"{name}"' in source, f"{name} is read nowhere in services/"


@pytest.mark.parametrize(
    "name",
    ["TOCSIN_KAFKA__IDEMPOTNET", "TOCSIN_TOPIC_PREFX", "TOCSIN_LOG__LEVEL", "TOCSIN_API__PORTS"],
)
def test_a_misspelt_variable_is_caught(name: str) -> None:
    assert variable_problem(name) is not None


def test_every_environment_loads_into_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The values too: each environment, with the mounted config, validates as Settings."""
    for where, env in tocsin_environments():
        if where == "Dockerfile":
            continue
        with monkeypatch.context() as mp:
            for key in [k for k in os.environ if k.startswith("TOCSIN_")]:
                mp.delenv(key)
            for key, value in env.items():
                if key.startswith("TOCSIN_") and key not in PROCESS_VARIABLES:
                    mp.setenv(key, value)
            mp.setenv("WEBHOOK_SECRET", "placeholder")
            settings = load_settings(CONFIG)
        if "kafka" in where or where.startswith("k8s"):
            assert settings.log.startswith("kafka://"), where
            assert settings.kafka.replication_factor == 3, where
            assert settings.kafka.idempotent is True, where
            assert settings.kafka.acks == "all", where


def test_a_bad_value_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_KAFKA__REPLICATION_FACTOR", "three")
    monkeypatch.setenv("WEBHOOK_SECRET", "placeholder")
    with pytest.raises(ConfigError, match=r"kafka\.replication_factor"):
        load_settings(CONFIG)


def test_the_mounted_config_is_valid_for_the_services_that_own_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.alerting.subscriptions import load_subscriptions
    from services.poller.config import load_sources
    from services.rules import load_rules

    monkeypatch.setenv("WEBHOOK_SECRET", "placeholder")
    settings = load_settings(CONFIG)
    assert len(load_sources(settings.section("sources"), origin=CONFIG)) >= 1
    assert load_rules(settings.section("rules")).rules
    (subscription,) = load_subscriptions(settings.section("subscriptions"))
    assert subscription.kind == "webhook"
    configmap = next(o for o in _k8s_objects() if o["metadata"]["name"] == "tocsin-config")
    assert configmap["data"]["tocsin.yaml"] == CONFIG.read_text(encoding="utf-8")


# --- grafana ------------------------------------------------------------------------------


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (DEPLOY / "grafana" / "tocsin-dashboard.json").read_text(encoding="utf-8")
    )
    return data


def test_the_dashboard_uses_only_declared_metrics() -> None:
    assert metric_problems(_dashboard()) == []


def test_the_dashboard_shows_every_declared_metric() -> None:
    text = json.dumps(_dashboard())
    missing = [d.name for d in m.ALL if not re.search(rf"\b{d.name}(_bucket|_count|_sum)?\b", text)]
    assert missing == [], "add a panel for each new metric in services/runtime/metrics.py"


def test_the_dashboard_is_well_formed() -> None:
    dash = _dashboard()
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dash["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        assert all(t["expr"] for t in panel["targets"]), panel["title"]
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}"


def test_an_undeclared_metric_in_a_dashboard_is_caught() -> None:
    bad = copy.deepcopy(_dashboard())
    bad["panels"][1]["targets"][0]["expr"] = "rate(tocsin_records_consumd_total[5m])"
    bad["panels"][2]["targets"][0]["expr"] = "tocsin_consumer_lag_bucket"  # a gauge has no buckets
    problems = metric_problems(bad)
    assert len(problems) == 2, problems


# --- kafka compose ------------------------------------------------------------------------


def test_the_kafka_cluster_is_three_consistent_kraft_nodes() -> None:
    assert kafka_cluster_problems(_compose(DEPLOY / "compose.kafka.yaml")) == []


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda s: s["kafka2"]["environment"].update(KAFKA_NODE_ID="1"), "node id 1"),
        (
            lambda s: s["kafka3"]["environment"].update(
                KAFKA_CONTROLLER_QUORUM_VOTERS="1@kafka1:9093,2@kafka2:9093"
            ),
            "disagree",
        ),
        (lambda s: s["kafka1"]["environment"].update(CLUSTER_ID="other"), "CLUSTER_ID"),
        (lambda s: s["kafka1"]["environment"].update(KAFKA_MIN_INSYNC_REPLICAS="1"), "MIN_INSYNC"),
        (lambda s: s.pop("kafka3"), "2 apache/kafka brokers"),
    ],
)
def test_an_inconsistent_cluster_is_caught(mutate: Any, fragment: str) -> None:
    compose = copy.deepcopy(_compose(DEPLOY / "compose.kafka.yaml"))
    for svc in compose["services"].values():
        if "environment" in svc:
            svc["environment"] = dict(svc["environment"])
    mutate(compose["services"])
    problems = kafka_cluster_problems(compose)
    assert any(fragment in p for p in problems), problems


def test_tocsin_on_kafka_waits_for_healthy_brokers_and_scales_the_enricher() -> None:
    services = _compose(DEPLOY / "compose.kafka.yaml")["services"]
    brokers = {n for n, s in services.items() if s.get("image", "").startswith("apache/kafka:")}
    advertised = {
        re.search(
            r"PLAINTEXT://([^,]+)", str(services[b]["environment"]["KAFKA_ADVERTISED_LISTENERS"])
        )[1]  # type: ignore[index]
        for b in brokers
    }
    for name in SERVICES:
        svc = services[name]
        deps = svc["depends_on"]
        assert all(deps[b]["condition"] == "service_healthy" for b in brokers), name
        assert deps["tocsin-topics"]["condition"] == "service_completed_successfully"
        assert svc["healthcheck"]["test"], name
        log = svc["environment"]["TOCSIN_LOG"]
        assert set(log.removeprefix("kafka://").split(",")) == advertised, name
        assert "/etc/tocsin/tocsin.yaml" in " ".join(svc["volumes"]), name
    assert services["enricher"]["deploy"]["replicas"] >= 2
    for b in brokers:
        assert services[b]["healthcheck"]["test"]


# --- secrets ------------------------------------------------------------------------------


def _deploy_data() -> Iterator[tuple[str, Any]]:
    for path in sorted(DEPLOY.rglob("*")):
        if path.suffix in (".yaml", ".yml"):
            for doc in _yaml_docs(path):
                yield str(path.relative_to(ROOT)), doc
        elif path.suffix == ".json":
            yield str(path.relative_to(ROOT)), json.loads(path.read_text(encoding="utf-8"))


def test_no_secret_value_is_committed() -> None:
    problems = [p for where, doc in _deploy_data() for p in secret_problems(doc, where)]
    assert problems == []
    secrets = [o for o in _k8s_objects() if o["kind"] == "Secret"]
    assert len(secrets) == 3
    for secret in secrets:
        assert "data" not in secret  # base64 would hide a real value from review
        for value in secret["stringData"].values():
            assert "CHANGE-ME" in value


def test_subscription_secrets_go_only_to_the_services_that_read_subscriptions() -> None:
    """The config's ${WEBHOOK_SECRET} is expanded by the notifier and the API alone
    (``Settings.section``): no other service is given it."""
    readers = {"notifier", "api"}
    compose = _compose(DEPLOY / "compose.kafka.yaml")["services"]
    given = {
        name
        for name, service in compose.items()
        if "WEBHOOK_SECRET" in (service.get("environment") or {})
    }
    assert given == readers
    with_secret = set()
    for deployment in _deployments():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        refs = {e["secretRef"]["name"] for e in container.get("envFrom", []) if "secretRef" in e}
        if "tocsin-subscription-secrets" in refs:
            with_secret.add(container["args"][-1])
    assert with_secret == readers


@pytest.mark.parametrize(
    "doc",
    [
        {"environment": {"WEBHOOK_SECRET": "hunter2-real-value"}},
        {"env": [{"name": "TOCSIN_KAFKA__SASL_PLAIN_PASSWORD", "value": "s3cret"}]},
        {"data": {"tocsin.yaml": "subscriptions:\n- channel: {secret: abcdef123}\n"}},
        {"stringData": {"TOCSIN_API__TOKENS": '[{"name": "ops", "token": "0123456789abcdef"}]'}},
        {"environment": {"TOCSIN_KAFKA__SASL_PLAIN_PASSWORD": "CHANGE-ME but real"}},
    ],
)
def test_a_committed_secret_is_caught(doc: dict[str, Any]) -> None:
    assert secret_problems(doc, "example") != []


# --- kubernetes ---------------------------------------------------------------------------


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_every_deployment_is_locked_down_and_sized() -> None:
    deployments = {d["metadata"]["name"]: d for d in _deployments()}
    assert set(deployments) == {f"tocsin-{n}" for n in SERVICES}
    assert deployments["tocsin-enricher"]["spec"]["replicas"] == 3
    for name, dep in deployments.items():
        spec = dep["spec"]
        assert (
            spec["selector"]["matchLabels"].items()
            <= spec["template"]["metadata"]["labels"].items()
        )
        pod = spec["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for c in pod["containers"]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, name
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(c["resources"]["limits"]), name
            assert c["readinessProbe"], name
            mounts = {v["name"] for v in c["volumeMounts"]}
            assert mounts <= {v["name"] for v in pod["volumes"]}, name
            assert any(v["mountPath"] == "/tmp" for v in c["volumeMounts"]), name


def test_the_api_has_its_probes_service_and_ingress() -> None:
    objects = _k8s_objects()
    deployments = {d["metadata"]["name"]: d for d in _deployments()}
    api = deployments["tocsin-api"]
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    assert set(services) == {"tocsin-api", "tocsin-poller"}  # the poller's: WebSub callbacks
    for name, service in services.items():
        pod = deployments[name]["spec"]["template"]
        assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
        port_names = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        assert all(p["targetPort"] in port_names for p in service["spec"]["ports"]), name
    ingress = next(o for o in objects if o["kind"] == "Ingress")
    backends = [
        (path["path"], path["backend"]["service"]["name"], path["backend"]["service"]["port"])
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    assert [(p, s) for p, s, _ in backends] == [("/websub/", "tocsin-poller"), ("/", "tocsin-api")]
    for _, name, port in backends:
        assert port["name"] in {p["name"] for p in services[name]["spec"]["ports"]}


def test_the_pollers_callback_url_is_served_behind_the_ingress() -> None:
    """The URL hubs are given must be the ingress's path to the poller's port."""
    poller = next(d for d in _deployments() if d["metadata"]["name"] == "tocsin-poller")
    container = poller["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    callback = urlsplit(env["TOCSIN_WEBSUB__CALLBACK_URL"])
    ingress = next(o for o in _k8s_objects() if o["kind"] == "Ingress")
    rule = next(r for r in ingress["spec"]["rules"] if r["host"] == callback.hostname)
    assert any(
        callback.path.rstrip("/") + "/" == p["path"]
        and p["backend"]["service"]["name"] == "tocsin-poller"
        for p in rule["http"]["paths"]
    )
    settings = WebSubSettings(
        callback_url=env["TOCSIN_WEBSUB__CALLBACK_URL"], host=env["TOCSIN_WEBSUB__HOST"]
    )
    assert settings.port in {p["containerPort"] for p in container["ports"]}


# --- the image ----------------------------------------------------------------------------


def test_the_dockerfile_builds_one_non_root_image_without_test_dependencies() -> None:
    lines = _dockerfile_lines()
    froms = [line for line in lines if line.startswith("FROM ")]
    assert froms[-1] == "FROM python:3.11-slim"
    assert 'ENTRYPOINT ["tocsin"]' in lines
    user = [line for line in lines if line.startswith("USER ")][-1]
    assert user.split()[1].split(":")[0] not in ("root", "0")
    installs = [line for line in lines if "pip install" in line]
    assert installs and all("[test]" not in line and "-e " not in line for line in installs)
    assert any(line.startswith("HEALTHCHECK ") and HEALTHCHECK_IN_IMAGE in line for line in lines)


def test_dockerignore_keeps_what_the_build_copies_and_drops_the_rest() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = [
        line.split()[1]
        for line in _dockerfile_lines()
        if line.startswith("COPY ") and "--from" not in line
    ]
    sources: list[str] = []
    for line in _dockerfile_lines():
        if line.startswith("COPY ") and "--from" not in line:
            sources.extend(line.split()[1:-1])
    assert "services" in sources and "deploy/healthcheck.py" in sources and copied
    for source in sources:
        path = ROOT / source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        kept = [
            f
            for f in files
            if "__pycache__" not in f.parts
            and not dockerignored(str(f.relative_to(ROOT)), patterns)
        ]
        assert kept, f"{source}: everything the Dockerfile copies is ignored"
        data = [f for f in files if f.suffix in (".yaml", ".html", ".css", ".js", ".xml", ".json")]
        assert all(not dockerignored(str(f.relative_to(ROOT)), patterns) for f in data), source
    for dropped in (
        "tests/unit/deploy/test_deploy_files.py",
        ".git/HEAD",
        "bench/api.py",
        "deploy/compose.kafka.yaml",
        "services/x/__pycache__/a.pyc",
        "data/tocsin.db",
    ):
        assert dockerignored(dropped, patterns), dropped


# --- the healthcheck script, for real ------------------------------------------------------


def _healthcheck(
    args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "WEBHOOK_SECRET": "placeholder"}
    return subprocess.run(
        [sys.executable, str(DEPLOY / "healthcheck.py"), *args],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_healthcheck_of_a_worker_follows_its_kafka_broker(tmp_path: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        up = _healthcheck(
            ["serve", "enricher"], {"TOCSIN_LOG": f"kafka://127.0.0.1:1,127.0.0.1:{port}"}, tmp_path
        )
    assert up.returncode == 0, up.stdout + up.stderr
    down = _healthcheck(
        ["serve", "enricher"], {"TOCSIN_LOG": f"kafka://127.0.0.1:{port}"}, tmp_path
    )
    assert down.returncode == 1 and "no Kafka bootstrap server answers" in down.stdout


def test_healthcheck_of_a_worker_on_sqlite_needs_its_folder(tmp_path: Path) -> None:
    env = {"TOCSIN_LOG": "sqlite:///./data/tocsin.db"}
    missing = _healthcheck(["serve", "rules"], env, tmp_path)
    assert missing.returncode == 1 and "does not exist" in missing.stdout
    (tmp_path / "data").mkdir()
    assert _healthcheck(["serve", "rules"], env, tmp_path).returncode == 0


def test_healthcheck_of_the_api_asks_healthz(tmp_path: Path) -> None:
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = str(server.server_address[1])
        for args in (["serve", "api"], ["run", "--status-every", "60"]):
            done = _healthcheck(args, {"TOCSIN_API__PORT": port}, tmp_path)
            assert done.returncode == 0, done.stdout + done.stderr
    finally:
        server.shutdown()
        server.server_close()
    assert seen == ["/healthz", "/healthz"]
    gone = _healthcheck(["serve", "api"], {"TOCSIN_API__PORT": str(_free_port())}, tmp_path)
    assert gone.returncode == 1


def test_healthcheck_reports_a_bad_setting_as_unhealthy(tmp_path: Path) -> None:
    done = _healthcheck(["serve", "poller"], {"TOCSIN_KAFKA__IDEMPOTNET": "true"}, tmp_path)
    assert done.returncode == 1 and "kafka.idempotnet" in done.stdout


def test_healthcheck_reads_the_container_command_line() -> None:
    sys.path.insert(0, str(DEPLOY))
    try:
        import healthcheck
    finally:
        sys.path.remove(str(DEPLOY))
    args = healthcheck.tocsin_args(b"/usr/local/bin/python\0/usr/local/bin/tocsin\0serve\0api\0")
    assert args == ["serve", "api"] and healthcheck.serves_api(args)
    assert healthcheck.serves_api(["--config", "/x.yaml", "run"])
    assert not healthcheck.serves_api(["serve", "--log", "api", "poller"])
