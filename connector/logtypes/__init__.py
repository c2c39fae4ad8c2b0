"""The three log types (`audit`, `access`, `integration`): each one's schema, natural key,
event time and paging strategy, on the contract in `base` (`LogType`, `Page`,
`PollContext`), with value coercions in `fields`. `REGISTRY` names them.

May import: `paging` (its layer-mate: a log type declares its paging parts, and they read
records through `base`), `indicators`, `slack`, foundations.
"""

from connector.logtypes import access, audit, integration
from connector.logtypes.base import REGISTRY, LogType

__all__ = ["REGISTRY", "LogType", "access", "audit", "integration"]
