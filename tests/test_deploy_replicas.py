"""Static checks of the several-replica deployment: the Kubernetes variant without a
PersistentVolumeClaim, and the IAM statements for the DynamoDB state table, held to the
calls the code really makes."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector.config.load import load
from connector.state import DynamoDBOptions

ROOT = Path(__file__).resolve().parents[1]
VARIANT = ROOT / "deploy" / "kubernetes" / "replicas"
IAM = ROOT / "deploy" / "iam"


def _objects() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(VARIANT.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                out[doc["kind"]] = doc
    return out


def test_the_variant_runs_several_replicas_without_a_volume_claim() -> None:
    objects = _objects()
    deployment = objects["Deployment"]
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    pod = deployment["spec"]["template"]["spec"]
    assert not any("persistentVolumeClaim" in v for v in pod["volumes"])
    assert "PersistentVolumeClaim" not in objects
    (container,) = pod["containers"]
    assert container["args"] == ["run", "--config", "/etc/slack-connector/config.toml"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"/etc/slack-connector", "/tmp"}
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    assert pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"] == labels


def test_the_variant_config_loads_as_a_dynamodb_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _objects()["ConfigMap"]["data"]["config.toml"]
    for name in re.findall(r'token_env = "(\w+)"', text):
        monkeypatch.setenv(name, "xoxp-test")
    for name in [n for n in os.environ if n.startswith("SLACK_CONNECTOR__")]:
        monkeypatch.delenv(name)
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    state = load(path).state
    assert isinstance(state, DynamoDBOptions)
    assert state.table and state.lease_seconds >= 10


BOTO_TO_IAM = {
    "get_item": ["dynamodb:GetItem"],
    "put_item": ["dynamodb:PutItem"],
    "delete_item": ["dynamodb:DeleteItem"],
    "update_item": ["dynamodb:UpdateItem"],
    "query": ["dynamodb:Query"],
    "scan": ["dynamodb:Scan"],
    "describe_table": ["dynamodb:DescribeTable"],
    "batch_write_item": ["dynamodb:BatchWriteItem"],
    "batch_get_item": ["dynamodb:BatchGetItem"],
    # TransactWriteItems has no IAM action: each of its Put, Delete and ConditionCheck is
    # authorized as PutItem, DeleteItem and ConditionCheckItem.
    "transact_write_items": [
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
    ],
    "create_table": ["dynamodb:CreateTable"],
    "update_time_to_live": ["dynamodb:UpdateTimeToLive"],
    "table_exists": ["dynamodb:DescribeTable"],
}
INIT_ONLY = {"create_table", "update_time_to_live", "table_exists"}


def _calls() -> set[str]:
    """Every DynamoDB operation named in connector/state (quoted or called on the client)."""
    names = "|".join(BOTO_TO_IAM)
    found: set[str] = set()
    for path in (ROOT / "connector" / "state").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        found.update(re.findall(rf'"({names})"', text))
        found.update(re.findall(rf"\.({names})\(", text))
    return found


def _actions(path: Path, sid: str | None = None) -> set[str]:
    policy = json.loads(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for statement in policy["Statement"]:
        if sid in (None, statement["Sid"]):
            action = statement["Action"]
            out.update([action] if isinstance(action, str) else action)
    return {a for a in out if a.startswith("dynamodb:")}


def test_the_daemon_policy_grants_exactly_the_dynamodb_calls_it_makes() -> None:
    calls = _calls()
    assert "transact_write_items" in calls and "query" in calls
    daemon = {a for c in calls - INIT_ONLY for a in BOTO_TO_IAM[c]}
    assert _actions(IAM / "policy.json") == daemon
    statement = next(
        s
        for s in json.loads((IAM / "policy.json").read_text())["Statement"]
        if s["Sid"] == "SharedStateTableForReplicas"
    )
    assert statement["Resource"] == "arn:aws:dynamodb:REGION:ACCOUNT_ID:table/STATE_TABLE"


def test_the_init_policy_grants_exactly_what_state_init_calls() -> None:
    init = {a for c in _calls() & INIT_ONLY for a in BOTO_TO_IAM[c]}
    assert _actions(IAM / "state-init-policy.json") == init
