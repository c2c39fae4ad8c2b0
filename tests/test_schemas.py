"""The Panther schemas in schemas/ and the pydantic models describe the same fields.

Both sides are flattened to {path: (type, required, indicators, is_event_time)} and the
two dicts must be equal, so a field added, removed, retyped, made (not) required or given
other indicators on either side fails the test with the difference in the message.
"""

from __future__ import annotations

from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
import yaml

from connector.logtypes import REGISTRY, LogType
from connector.logtypes.base import Record, model_of
from connector.logtypes.fields import LooseStr, SchemaType, UnixTime

SCHEMAS = Path(__file__).parents[1] / "schemas"

Path_ = tuple[str, ...]
Facts = tuple[str, bool, tuple[str, ...], bool]  # type, required, indicators, isEventTime


def model_type(annotation: Any, metadata: list[Any]) -> str:
    """The schema type a model annotation stands for ("array<string>" for lists)."""
    markers = [m.name for m in metadata if isinstance(m, SchemaType)]
    if markers:
        return markers[0]
    if get_origin(annotation) is Annotated:
        return model_type(get_args(annotation)[0], [*metadata, *annotation.__metadata__])
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not NoneType]
        assert len(args) == 1, f"unsupported union {annotation!r}"
        return model_type(args[0], metadata)
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "bigint"
    if annotation is Any:
        return "json"
    if get_origin(annotation) is list:
        return f"array<{model_type(get_args(annotation)[0], [])}>"
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return "object"
    return f"unmapped {annotation!r} {metadata!r}"


def yaml_type(field: dict[str, Any]) -> str:
    kind = field["type"]
    if kind == "array":
        return f"array<{yaml_type(field['element'])}>"
    if kind == "timestamp":
        assert field.get("timeFormat") == "unix", f"{field['name']}: not a unix timestamp"
    return str(kind)


def model_facts(model: type[Record], event_time: str, prefix: Path_ = ()) -> dict[Path_, Facts]:
    facts: dict[Path_, Facts] = {}
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        facts[path] = (
            model_type(info.annotation, info.metadata),
            info.is_required(),
            tuple(extra.get("indicators", ())),
            path == (event_time,),
        )
        nested = model_of(info.annotation)
        if nested is not None:
            facts |= model_facts(nested, event_time, path)
    return facts


def yaml_facts(fields: list[dict[str, Any]], prefix: Path_ = ()) -> dict[Path_, Facts]:
    facts: dict[Path_, Facts] = {}
    for field in fields:
        path = (*prefix, field["name"])
        assert path not in facts, f"duplicate field {'.'.join(path)}"
        facts[path] = (
            yaml_type(field),
            field.get("required", False) is True,
            tuple(field.get("indicators", ())),
            field.get("isEventTime", False) is True,
        )
        if field["type"] == "object":
            facts |= yaml_facts(field["fields"], path)
    return facts


def load_schema(log_type: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SCHEMAS / f"{log_type}.yml").read_text())
    return data


def test_schema_files_are_exactly_the_registered_log_types() -> None:
    files = {p.stem for p in SCHEMAS.glob("*.yml")}
    assert files == {cls.log_type for cls in REGISTRY.values()}
    assert set(REGISTRY) == {"audit", "access", "integration"}
    for stem in files:
        schema = load_schema(stem)
        assert schema["schema"] == stem
        assert schema["parser"] == {"native": {"name": stem}}
        assert {"description", "referenceURL", "fields"} <= schema.keys()


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_model_and_schema_agree_field_by_field(name: str) -> None:
    logtype: type[LogType] = REGISTRY[name]
    from_yaml = yaml_facts(load_schema(logtype.log_type)["fields"])
    from_model = model_facts(logtype.model, logtype.event_time_field)

    def show(paths: set[Path_], facts: dict[Path_, Facts]) -> list[str]:
        return sorted(f"{'.'.join(p)}: {facts[p]}" for p in paths)

    only_yaml = show(from_yaml.keys() - from_model.keys(), from_yaml)
    only_model = show(from_model.keys() - from_yaml.keys(), from_model)
    differ = sorted(
        f"{'.'.join(p)}: yaml {from_yaml[p]} != model {from_model[p]}"
        for p in from_yaml.keys() & from_model.keys()
        if from_yaml[p] != from_model[p]
    )
    assert (only_yaml, only_model, differ) == ([], [], [])
    assert sum(facts[3] for facts in from_yaml.values()) == 1, "exactly one isEventTime"


@pytest.mark.parametrize(
    ("annotation", "metadata", "expected"),
    [
        (LooseStr | None, [], "string"),
        (str, [], "unmapped <class 'str'> []"),
        (UnixTime, [], "timestamp"),
        (float, [], "unmapped <class 'float'> []"),
        (list[LooseStr] | None, [], "array<string>"),
        (bool | None, [], "boolean"),
        (int, [], "bigint"),
        (Any, [], "json"),
    ],
)
def test_type_mapping_is_strict(annotation: Any, metadata: list[Any], expected: str) -> None:
    """A plain str or float is not what the schema's string/timestamp mean to the models."""
    assert model_type(annotation, metadata) == expected
