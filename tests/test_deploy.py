"""Static checks of deploy/: manifests, IAM policy, systemd unit, Dockerfile, Athena DDL.

No Docker, kubectl or network: every artifact is parsed as text and checked against what the
connector really is (its config loader, its schemas, its S3 layout).
"""

from __future__ import annotations

import configparser
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector.config.errors import ConfigError
from connector.config.load import load
from connector.logtypes import REGISTRY
from tests.fakes.slack_server import drift_records

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
SCHEMAS = ROOT / "schemas"

HEALTH_PORT = 9108
STATE_DIR = "/var/lib/slack-connector"
CONFIG_PATH = "/etc/slack-connector/config.toml"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def _manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object in deploy/kubernetes, by kind (one object of each kind)."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in _docs(path):
            assert doc["kind"] not in out, f"{path.name}: second {doc['kind']}"
            out[doc["kind"]] = doc
    return out


def _pod_spec(kind: str) -> dict[str, Any]:
    obj = _manifests()[kind]
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def _container(kind: str) -> dict[str, Any]:
    containers = _pod_spec(kind)["containers"]
    assert len(containers) == 1
    return containers[0]


# ---- Kubernetes ------------------------------------------------------------------------


def test_every_yaml_file_parses_and_names_its_objects() -> None:
    files = sorted(DEPLOY.rglob("*.yaml")) + sorted(DEPLOY.rglob("*.yml"))
    assert {p.name for p in files} >= {
        "deployment.yaml",
        "configmap.yaml",
        "secret.yaml",
        "pvc.yaml",
        "cronjob.yaml",
        "serviceaccount.yaml",
    }
    for path in files:
        docs = _docs(path)
        assert docs, f"{path.name}: empty"
        for doc in docs:
            assert isinstance(doc, dict), path.name
            assert doc.get("apiVersion"), f"{path.name}: apiVersion"
            assert doc.get("kind"), f"{path.name}: kind"
            assert doc.get("metadata", {}).get("name"), f"{path.name}: metadata.name"
            assert "namespace" not in doc["metadata"], f"{path.name}: namespace is set with -n"


def test_objects_reference_each_other_by_the_right_names() -> None:
    m = _manifests()
    names = {kind: obj["metadata"]["name"] for kind, obj in m.items()}
    for kind in ("Deployment", "CronJob"):
        pod = _pod_spec(kind)
        assert pod["serviceAccountName"] == names["ServiceAccount"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert (
            volumes["state"]["persistentVolumeClaim"]["claimName"] == names["PersistentVolumeClaim"]
        )
        assert volumes["config"]["configMap"]["name"] == names["ConfigMap"]
        container = _container(kind)
        refs = [e["secretRef"]["name"] for e in container.get("envFrom", []) if "secretRef" in e]
        assert refs == [names["Secret"]]
        mounts = {v["mountPath"]: v for v in container["volumeMounts"]}
        assert mounts[STATE_DIR]["name"] == "state"
        assert mounts["/etc/slack-connector"]["name"] == "config"
        assert mounts["/etc/slack-connector"].get("readOnly") is True
        assert "/tmp" in mounts  # writable scratch space on a read-only root filesystem


def test_deployment_is_a_single_recreated_writer() -> None:
    deployment = _manifests()["Deployment"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"


def test_deployment_probes_health_endpoints_on_the_metrics_port() -> None:
    container = _container("Deployment")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": HEALTH_PORT}
    liveness = container["livenessProbe"]["httpGet"]
    readiness = container["readinessProbe"]["httpGet"]
    assert liveness["path"] == "/healthz"
    assert readiness["path"] == "/readyz"
    for probe in (liveness, readiness):
        assert probe["port"] in ("metrics", HEALTH_PORT)
    assert container["args"] == ["run", "--config", CONFIG_PATH]


@pytest.mark.parametrize("kind", ["Deployment", "CronJob"])
def test_pods_are_locked_down(kind: str) -> None:
    pod = _pod_spec(kind)
    container = _container(kind)
    pod_sc = pod["securityContext"]
    sc = container["securityContext"]
    assert pod_sc["runAsNonRoot"] is True
    assert sc["runAsNonRoot"] is True
    assert pod_sc["runAsUser"] == sc["runAsUser"] == 10001
    assert pod_sc["fsGroup"] == 10001  # the PVC is writable by the non-root user
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert "add" not in sc["capabilities"]
    assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    resources = container["resources"]
    for section in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[section])


def test_cronjob_runs_once_every_five_minutes_without_overlap() -> None:
    cron = _manifests()["CronJob"]
    assert cron["spec"]["schedule"] == "*/5 * * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    # Shipped suspended: it shares the state PVC with the Deployment.
    assert cron["spec"]["suspend"] is True
    container = _container("CronJob")
    assert container["args"][0] == "once"
    assert container["args"][1:] == ["--config", CONFIG_PATH]
    assert _pod_spec("CronJob")["restartPolicy"] == "Never"


def test_secret_is_a_template_without_a_real_token() -> None:
    secret = _manifests()["Secret"]
    assert "data" not in secret
    for value in secret["stringData"].values():
        assert value == "xoxp-REPLACE-ME"


def test_serviceaccount_has_irsa_placeholder() -> None:
    sa = _manifests()["ServiceAccount"]
    arn = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert re.fullmatch(r"arn:aws:iam::ACCOUNT_ID:role/[\w+=,.@-]+", arn)


def test_configmap_config_loads_with_the_real_config_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = _manifests()
    text = m["ConfigMap"]["data"]["config.toml"]
    token_envs = [s["token_env"] for s in tomllib.loads(text)["sources"]]
    assert token_envs and set(token_envs) <= set(m["Secret"]["stringData"])
    for name in token_envs:
        monkeypatch.setenv(name, "xoxp-test")
    for name in [n for n in os.environ if n.startswith("SLACK_CONNECTOR__")]:
        monkeypatch.delenv(name)
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")

    settings = load(path)

    assert settings.output.type == "s3"
    assert settings.output.bucket
    assert settings.state.path.startswith(STATE_DIR + "/")
    assert (settings.metrics.address, settings.metrics.port) == ("0.0.0.0", HEALTH_PORT)
    # The token really is needed: without the variable the loader refuses the config.
    monkeypatch.delenv(token_envs[0])
    with pytest.raises(ConfigError, match=token_envs[0]):
        load(path)


# ---- IAM -------------------------------------------------------------------------------


def _policy() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DEPLOY / "iam" / "policy.json").read_text("utf-8"))
    return data


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def test_iam_policy_has_no_wildcard_actions_or_resources() -> None:
    policy = _policy()
    assert policy["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in policy["Statement"]]
    assert len(sids) == len(set(sids))
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        for action in _as_list(statement["Action"]):
            assert "*" not in action, f"{statement['Sid']}: {action}"
        # No statement here is one of the few actions AWS only grants on Resource "*".
        for resource in _as_list(statement["Resource"]):
            assert resource != "*", statement["Sid"]


def test_iam_policy_grants_exactly_what_the_s3_sink_calls() -> None:
    by_action: dict[str, list[dict[str, Any]]] = {}
    for statement in _policy()["Statement"]:
        for action in _as_list(statement["Action"]):
            by_action.setdefault(action, []).append(statement)
    s3_actions = {a for a in by_action if a.startswith("s3:")}
    # PutObject (put), GetObject (authorizes HeadObject: exists), ListBucket (HeadBucket: check,
    # and 404 instead of 403 for a missing key), DeleteObject only for check's probes.
    # Nothing else: no ACLs.
    assert s3_actions == {"s3:PutObject", "s3:GetObject", "s3:ListBucket", "s3:DeleteObject"}
    (delete,) = by_action["s3:DeleteObject"]
    assert _as_list(delete["Resource"]) == ["arn:aws:s3:::BUCKET/PREFIX/_check/*"]
    for action in ("s3:PutObject", "s3:GetObject"):
        (statement,) = by_action[action]
        assert _as_list(statement["Resource"]) == ["arn:aws:s3:::BUCKET/PREFIX/*"]
    (listing,) = by_action["s3:ListBucket"]
    assert _as_list(listing["Resource"]) == ["arn:aws:s3:::BUCKET"]
    (kms,) = by_action["kms:GenerateDataKey"]
    assert _as_list(kms["Resource"]) == ["arn:aws:kms:REGION:ACCOUNT_ID:key/KMS_KEY_ID"]
    assert kms["Condition"]["StringEquals"]["kms:ViaService"] == "s3.REGION.amazonaws.com"
    for action in ("secretsmanager:GetSecretValue", "ssm:GetParameter", "sns:Publish"):
        (statement,) = by_action[action]
        for resource in _as_list(statement["Resource"]):
            assert ":REGION:ACCOUNT_ID:" in resource


def _index_policy() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DEPLOY / "iam" / "index-policy.json").read_text("utf-8"))
    return data


def test_index_policy_writes_and_deletes_only_index_files() -> None:
    """`index --compact` reads the landed objects, writes day files and deletes the index
    files no search reads: nothing outside `_index/` is ever written or deleted."""
    policy = _index_policy()
    assert policy["Version"] == "2012-10-17"
    by_action: dict[str, list[str]] = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        for action in _as_list(statement["Action"]):
            assert "*" not in action
            by_action.setdefault(action, []).extend(_as_list(statement["Resource"]))
    assert by_action == {
        "s3:GetObject": ["arn:aws:s3:::BUCKET/PREFIX/*"],
        "s3:PutObject": ["arn:aws:s3:::BUCKET/PREFIX/_index/*"],
        "s3:DeleteObject": ["arn:aws:s3:::BUCKET/PREFIX/_index/*"],
        "s3:ListBucket": ["arn:aws:s3:::BUCKET"],
        "kms:GenerateDataKey": ["arn:aws:kms:REGION:ACCOUNT_ID:key/KMS_KEY_ID"],
        "kms:Decrypt": ["arn:aws:kms:REGION:ACCOUNT_ID:key/KMS_KEY_ID"],
    }


def test_index_cronjob_compacts_daily_without_tokens_or_state() -> None:
    from connector.cli.parser import build_parser

    docs = {d["kind"]: d for d in _docs(K8S / "index" / "cronjob.yaml")}
    assert set(docs) == {"ServiceAccount", "CronJob"}
    account, cron = docs["ServiceAccount"], docs["CronJob"]
    arn = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert re.fullmatch(r"arn:aws:iam::ACCOUNT_ID:role/[\w+=,.@-]+", arn)
    assert (
        arn
        != _manifests()["ServiceAccount"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    )
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["timeZone"] == "Etc/UTC"
    minute, hour, *every = cron["spec"]["schedule"].split()
    assert every == ["*", "*", "*"] and minute.isdigit() and hour.isdigit()
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert "envFrom" not in container  # no Slack token
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "persistentVolumeClaim" not in str(volumes)  # the daemon's state stays its own
    assert volumes["config"]["configMap"]["name"] == _manifests()["ConfigMap"]["metadata"]["name"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/etc/slack-connector", "/tmp"} <= mounts
    assert {"name": "HOME", "value": "/tmp"} in container["env"]
    args = build_parser().parse_args(container["args"])
    assert (args.command, args.config, args.compact, args.keep) == (
        "index",
        CONFIG_PATH,
        True,
        False,
    )


# ---- systemd ---------------------------------------------------------------------------


def test_systemd_unit_is_hardened_and_runs_the_daemon() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "systemd" / "slack-connector.service", encoding="utf-8")
    service = unit["Service"]
    exec_start = service["ExecStart"]
    assert re.search(
        r"/slack-connector run --config /etc/slack-connector/config\.toml$", exec_start
    )
    assert "run --config" in exec_start
    expected = {
        "StateDirectory": "slack-connector",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "EnvironmentFile": "-/etc/slack-connector/env",
        "Restart": "on-failure",
        "KillSignal": "SIGTERM",
        "TimeoutStopSec": "60",
    }
    for key, value in expected.items():
        assert service.get(key) == value, key
    assert service.get("DynamicUser") == "yes" or service.get("User") not in (None, "root")
    assert unit["Install"]["WantedBy"] == "multi-user.target"


# ---- Dockerfile ------------------------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_runs_non_root_with_a_healthcheck() -> None:
    instructions = _dockerfile()
    froms = [args for op, args in instructions if op == "FROM"]
    assert len(froms) >= 2, "multi-stage build"
    args = dict(a.split("=", 1) for op, a in instructions if op == "ARG" and "=" in a)
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    final = max(i for i, (op, _) in enumerate(instructions) if op == "FROM")
    runtime = instructions[final:]
    users = [args for op, args in runtime if op == "USER"]
    assert users, "USER in the runtime stage"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user in ("10001", "slack-connector")
    (healthcheck,) = [args for op, args in runtime if op == "HEALTHCHECK"]
    assert "urllib" in healthcheck and f"http://127.0.0.1:{HEALTH_PORT}/healthz" in healthcheck
    entrypoint = [json.loads(a) for op, a in runtime if op == "ENTRYPOINT"]
    cmd = [json.loads(a) for op, a in runtime if op == "CMD"]
    assert entrypoint[-1] == ["slack-connector"]
    assert cmd[-1] == ["run", "--config", CONFIG_PATH]
    volumes = [a for op, a in runtime if op == "VOLUME"]
    assert any(STATE_DIR in v for v in volumes)


# ---- Athena ----------------------------------------------------------------------------

P_FIELDS = {
    "p_log_type": "string",
    "p_event_time": "string",
    "p_parse_time": "string",
    "p_row_id": "string",
    "p_source_id": "string",
    "p_source_label": "string",
    "p_any_ip_addresses": "array<string>",
    "p_any_emails": "array<string>",
    "p_any_usernames": "array<string>",
}
REGISTRY_PER_WORKSPACE = {lt.log_type: lt.per_workspace for lt in REGISTRY.values()}
QUARANTINE_COLUMNS = {
    "p_log_type": "string",
    "p_parse_time": "string",
    "p_row_id": "string",
    "p_source_id": "string",
    "p_source_label": "string",
    "p_slack_team_id": "string",
    "reason": "string",
    "record": "string",
}
# Timestamps are bigint unix seconds, except where Slack sends the number as a string.
STRING_TIMESTAMPS = {("Slack.IntegrationLogs", "date")}
# Identifiers that must be backquoted in Athena DDL (a subset of the reserved words).
RESERVED = {"date", "timestamp", "user", "count", "type", "year", "month", "day", "hour"}


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside <...> or (...)."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return [p.strip() for p in parts]


def _parse_type(text: str) -> Any:
    """`struct<`a`:string, `b`:array<string>>` to {"a": "string", "b": ["string"]}."""
    text = " ".join(text.split())
    if text.startswith("struct<") and text.endswith(">"):
        fields = {}
        for part in _split_top(text[len("struct<") : -1]):
            m = re.fullmatch(r"`?(\w+)`?\s*:\s*(.+)", part)
            assert m, part
            fields[m.group(1)] = _parse_type(m.group(2))
        return fields
    if text.startswith("array<") and text.endswith(">"):
        return [_parse_type(text[len("array<") : -1])]
    return text


def _expected_type(field: dict[str, Any], log_type: str, top: bool = False) -> Any:
    kind = field["type"]
    if kind == "object":
        return {f["name"]: _expected_type(f, log_type) for f in field["fields"]}
    if kind == "array":
        return [_expected_type(field["element"], log_type)]
    if kind == "timestamp":
        return "string" if top and (log_type, field["name"]) in STRING_TIMESTAMPS else "bigint"
    if kind == "json":
        return "string"
    return kind


def _athena_tables() -> dict[str, dict[str, Any]]:
    sql = (DEPLOY / "athena" / "tables.sql").read_text(encoding="utf-8")
    sql = "\n".join(ln for ln in sql.splitlines() if not ln.lstrip().startswith("--"))
    tables = {}
    for m in re.finditer(
        r"CREATE EXTERNAL TABLE IF NOT EXISTS `(\w+)` \((.*?)\n\)\s*(.*?);", sql, re.S
    ):
        name, body, rest = m.groups()
        columns, raw = {}, {}
        for col in _split_top(body):
            cm = re.fullmatch(r"(`?)(\w+)\1\s+(.+)", col, re.S)
            assert cm, col
            raw[cm.group(2)] = cm.group(1)
            columns[cm.group(2)] = _parse_type(cm.group(3))
        pm = re.search(r"PARTITIONED BY \((.*?)\)\s*\n", rest, re.S)
        assert pm, name
        partitions = [p.split()[0].strip("`") for p in _split_top(pm.group(1))]
        props = dict(re.findall(r"'([^']+)'\s*=\s*'([^']*)'", rest))
        location = re.search(r"LOCATION '([^']+)'", rest)
        assert location, name
        tables[name] = {
            "columns": columns,
            "quoted": raw,
            "partitions": partitions,
            "props": props,
            "location": location.group(1),
            "rest": rest,
        }
    return tables


def _schemas() -> dict[str, dict[str, Any]]:
    out = {}
    for path in SCHEMAS.glob("*.yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        out[data["schema"]] = data
    return out


def _table_for(log_type: str) -> dict[str, Any]:
    matches = [
        t for t in _athena_tables().values() if t["location"] == f"s3://BUCKET/PREFIX/{log_type}/"
    ]
    assert len(matches) == 1, log_type
    return matches[0]


def test_athena_has_a_table_per_schema_and_one_for_quarantine() -> None:
    tables = _athena_tables()
    schemas = _schemas()
    assert set(schemas) == {"Slack.AuditLogs", "Slack.AccessLogs", "Slack.IntegrationLogs"}
    assert len(tables) == len(schemas) + 1
    for log_type in schemas:
        _table_for(log_type)


def _contains(declared: Any, expected: Any, where: str) -> None:
    """`declared` (the DDL) has every field of `expected` (the schema) with its type; it
    may declare more: fields Slack sends beyond the schema (test_athena_ddl checks those
    against real output)."""
    if isinstance(expected, dict):
        assert isinstance(declared, dict), where
        for name, kind in expected.items():
            assert name in declared, f"{where}.{name} missing"
            _contains(declared[name], kind, f"{where}.{name}")
    else:
        assert declared == expected, where


@pytest.mark.parametrize(
    "log_type", ["Slack.AuditLogs", "Slack.AccessLogs", "Slack.IntegrationLogs"]
)
def test_athena_columns_match_the_schema_and_standard_fields(log_type: str) -> None:
    schema = _schemas()[log_type]
    table = _table_for(log_type)
    expected = {f["name"]: _expected_type(f, log_type, top=True) for f in schema["fields"]}
    expected.update({k: _parse_type(v) for k, v in P_FIELDS.items()})
    if REGISTRY_PER_WORKSPACE[log_type]:  # Enterprise Grid's workspace (team_ids)
        expected["p_slack_team_id"] = "string"
    kind = {"Slack.AuditLogs": "audit", "Slack.AccessLogs": "access"}.get(log_type, "integration")
    drifted = {k for r in drift_records(0)[kind] for k in r if k not in expected}
    expected.update(dict.fromkeys(drifted, "string"))  # beyond the schema: shape not documented
    assert set(table["columns"]) == set(expected)
    _contains(table["columns"], expected, log_type)
    for name, quote in table["quoted"].items():
        if name in RESERVED:
            assert quote == "`", f"{log_type}.{name} must be backquoted"


def test_athena_quarantine_table_matches_quarantine_rows() -> None:
    (table,) = [t for t in _athena_tables().values() if "_quarantine" in t["location"]]
    assert table["columns"] == QUARANTINE_COLUMNS
    assert table["partitions"] == ["log_type", "year", "month", "day", "hour"]
    assert (
        "PARTITIONED BY (`log_type` string, `year` int, `month` int, `day` int, `hour` int)"
        in (table["rest"])
    )
    props = table["props"]
    assert props["projection.log_type.type"] == "enum"
    assert set(props["projection.log_type.values"].split(",")) == set(_schemas())
    assert props["storage.location.template"] == (
        "s3://BUCKET/PREFIX/_quarantine/${log_type}/year=${year}/month=${month}/day=${day}/hour=${hour}"
    )


@pytest.mark.parametrize(
    "log_type", ["Slack.AuditLogs", "Slack.AccessLogs", "Slack.IntegrationLogs"]
)
def test_athena_partition_projection_matches_the_s3_layout(log_type: str) -> None:
    from connector.ingest.partition import GRANULARITIES
    from connector.logtypes import REGISTRY

    (logtype,) = [lt for lt in REGISTRY.values() if lt.log_type == log_type]
    fields = GRANULARITIES[logtype.partition].fields
    table = _table_for(log_type)
    assert table["partitions"] == list(fields)
    assert "org.openx.data.jsonserde.JsonSerDe" in table["rest"]
    props = table["props"]
    assert props["ignore.malformed.json"] == "true"
    assert props["projection.enabled"] == "true"
    assert props["projection.year.type"] == "integer"
    assert props["projection.year.range"] == "2013,2100"
    bounds = {"month": "1,12", "day": "1,31", "hour": "0,23"}
    for part in fields[1:]:
        assert props[f"projection.{part}.type"] == "integer"
        assert props[f"projection.{part}.range"] == bounds[part]
        assert f"projection.{part}.digits" not in props, "values are written without padding"
    layout = "/".join(f"{p}=${{{p}}}" for p in fields)
    assert props["storage.location.template"] == f"s3://BUCKET/PREFIX/{log_type}/{layout}"


def test_athena_partition_template_matches_the_keys_the_connector_writes() -> None:
    from connector.ingest.batch import Batch
    from connector.ingest.partition import HOUR

    batch = Batch("PREFIX", "acme", granularity={"Slack.AuditLogs": HOUR})
    batch.add("Slack.AuditLogs", {"id": "x"}, bytes(16), 1_699_927_400.0)  # 2023-11-14 02:03:20 UTC
    (obj,) = batch.objects()
    template = _table_for("Slack.AuditLogs")["props"]["storage.location.template"]
    folder = template.replace("s3://BUCKET/", "")
    for part, value in (("year", "2023"), ("month", "11"), ("day", "14"), ("hour", "2")):
        folder = folder.replace("${" + part + "}", value)
    assert obj.key.startswith(folder + "/")
