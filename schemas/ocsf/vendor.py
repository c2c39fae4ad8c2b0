"""Vendor the compiled OCSF schema for the classes the Slack mapper uses.

Run where the OCSF schema repository is checked out at the pinned tag and `ocsf-lib`
(PyPI, the OCSF project's own tools) is installed; the tests read only the JSON this writes
and never reach the network:

    git clone --branch v1.1.0 https://github.com/ocsf/ocsf-schema /tmp/ocsf-1.1.0
    python -m venv /tmp/ocsfvenv && /tmp/ocsfvenv/bin/pip install ocsf-lib==0.10.4
    /tmp/ocsfvenv/bin/python schemas/ocsf/vendor.py /tmp/ocsf-1.1.0 > schemas/ocsf/1.1.0.json

The schema is compiled with the `host` profile only (it adds `actor` to the classes that
lack it, e.g. User Access Management, and requires nothing; an event using it claims it in
`metadata.profiles`) and without extensions. ocsf-lib 0.10.4 gives every object the constraints of
the base it extends (e.g. `network_endpoint` gets `_entity`'s name-or-uid instead of its
own ip-or-uid-or-name list), so the constraints are read again from the source files,
the nearest definition along `extends` winning. Only the classes below and the objects
they reach are kept.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

CLASSES = [
    "base_event",
    "account_change",
    "authentication",
    "entity_management",
    "user_access",
    "group_management",
    "file_hosting",
    "detection_finding",
]
PROFILES = [
    "cloud",
    "container",
    "datetime",
    "linux_users",
    "load_balancer",
    "network_proxy",
    "security_control",
]


def sources(root: Path, folder: str) -> dict[str, dict[str, Any]]:
    found = {}
    for path in (root / folder).rglob("*.json"):
        item = json.loads(path.read_text())
        if "name" in item:
            found[item["name"]] = item
    return found


def constraints(name: str, defined: dict[str, dict[str, Any]]) -> Any:
    while name in defined:
        item = defined[name]
        if "constraints" in item:
            return item["constraints"] or None
        name = item.get("extends", "")
    return None


def main(root: Path) -> None:
    compiled = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ocsf.compile",
                str(root),
                "--ignore-profile",
                *PROFILES,
                "--ignore-extension",
                "linux",
                "win",
            ],
            check=True,
            capture_output=True,
        ).stdout
    )
    objects, events = sources(root, "objects"), sources(root, "events")
    keep: dict[str, Any] = {}
    todo = [a for c in CLASSES for a in compiled["classes"][c]["attributes"].values()]
    while todo:
        attribute = todo.pop()
        name = attribute.get("type")
        if name in compiled["objects"] and name not in keep:
            keep[name] = compiled["objects"][name]
            keep[name]["constraints"] = constraints(name, objects)
            todo += keep[name]["attributes"].values()
    classes = {}
    for name in CLASSES:
        item = compiled["classes"][name]
        item["constraints"] = constraints(name, events)
        classes[name] = item
    out = {
        "version": json.loads((root / "version.json").read_text())["version"],
        "classes": classes,
        "objects": dict(sorted(keep.items())),
        "types": compiled["types"],
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
