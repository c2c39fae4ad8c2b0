"""Networks an organisation trusts (`[detections.anomaly] trusted_cidrs`/`trusted_asns`):
an anomaly whose only reasons are a new IP address or ASN, from one of them, is not worth
an alert (an office egress, a VPN, a cloud provider everyone uses). It still lands in the
logs; only the alert is held back, and counted."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from connector.detections.anomaly import Anomaly
from connector.detections.reasons import NETWORK_ONLY


class TrustedNetworks:
    def __init__(self, cidrs: Iterable[str] = (), asns: Iterable[int] = ()) -> None:
        self.networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]
        self.asns = frozenset(asns)

    def __bool__(self) -> bool:
        return bool(self.networks or self.asns)

    def excuses(self, anomaly: Anomaly) -> bool:
        """True for an `ip_address`/`asn`-only anomaly from a trusted network."""
        if not anomaly.reasons or not set(anomaly.reasons) <= NETWORK_ONLY:
            return False
        if anomaly.asn is not None and anomaly.asn in self.asns:
            return True
        try:
            ip = ipaddress.ip_address(anomaly.ip_address.strip())
        except ValueError:
            return False
        return any(ip.version == n.version and ip in n for n in self.networks)
