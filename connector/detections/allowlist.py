"""Slack's own allow-list of trusted networks (`admin.audit.anomaly.allow.getItem` and
`updateItem`, Tier 2, an org-installed token with `admin`): Slack raises no `ip_address`
or `asn` anomaly for them at all, where `[detections.anomaly] trusted_*` only keeps the
connector from alerting on what Slack raised.

`updateItem` replaces the whole list, so a sync is computed as a diff first and refuses to
drop entries someone added in Slack unless told to. Slack's documentation spells the
arguments both `trusted_cidr`/`trusted_asns` and `trusted_cidrs`/`trusted_asn`: answers
are read in either spelling, and a write sends both.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Protocol

GET = "admin.audit.anomaly.allow.getItem"
UPDATE = "admin.audit.anomaly.allow.updateItem"
_CIDRS = ("trusted_cidrs", "trusted_cidr")
_ASNS = ("trusted_asns", "trusted_asn")


class WebClient(Protocol):
    def web(self, method: str, params: dict[str, Any], *, post: bool = False) -> dict[str, Any]: ...


class AllowListError(ValueError):
    """Slack's answer does not hold an allow-list this code can read."""


@dataclass(frozen=True)
class AllowList:
    cidrs: frozenset[str]
    asns: frozenset[int]

    @classmethod
    def of(cls, cidrs: list[str], asns: list[int]) -> AllowList:
        """The configured lists as Slack can hold them: IPv4 networks only."""
        nets = (ipaddress.ip_network(c, strict=False) for c in cidrs)
        return cls(frozenset(str(n) for n in nets if n.version == 4), frozenset(asns))


@dataclass(frozen=True)
class Diff:
    add: list[str]
    remove: list[str]

    @property
    def empty(self) -> bool:
        return not self.add and not self.remove

    def lines(self) -> list[str]:
        return [f"+ {entry}" for entry in self.add] + [f"- {entry}" for entry in self.remove]


def read(client: WebClient) -> AllowList:
    return parse(client.web(GET, {}))


def parse(body: dict[str, Any]) -> AllowList:
    """Top-level lists, or lists under `item`/`allow_list`, in either spelling; a list may
    also come as one comma-separated string."""
    holder = next((body[k] for k in ("item", "allow_list") if isinstance(body.get(k), dict)), body)
    cidrs, asns = _field(holder, _CIDRS), _field(holder, _ASNS)
    try:
        nets = frozenset(str(ipaddress.ip_network(str(c), strict=False)) for c in cidrs)
        numbers = frozenset(_asn(a) for a in asns)
    except ValueError as exc:
        raise AllowListError(
            f"Slack's allow-list holds an entry that is not valid: {exc}"
        ) from None
    return AllowList(nets, numbers)


def diff(current: AllowList, wanted: AllowList) -> Diff:
    def entries(a: AllowList) -> set[str]:
        return set(a.cidrs) | {f"AS{n}" for n in a.asns}

    have, want = entries(current), entries(wanted)
    return Diff(sorted(want - have), sorted(have - want))


def write(client: WebClient, wanted: AllowList) -> None:
    cidrs = ",".join(sorted(wanted.cidrs))
    asns = ",".join(str(n) for n in sorted(wanted.asns))
    params = {name: cidrs for name in _CIDRS} | {name: asns for name in _ASNS}
    client.web(UPDATE, params, post=True)


def _field(holder: dict[str, Any], names: tuple[str, ...]) -> list[Any]:
    for name in names:
        value = holder.get(name)
        if isinstance(value, list):
            return value
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
    return []


def _asn(value: Any) -> int:
    text = str(value).strip().upper().removeprefix("AS")
    if not text.isdigit():
        raise ValueError(f"ASN {value!r}")
    return int(text)
