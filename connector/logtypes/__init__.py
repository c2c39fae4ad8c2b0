"""The three log types (`audit`, `access`, `integration`): each one's schema, natural key,
event time and paging stream, on the contract in `base` (`LogType`; pages, poll context
and checkpoints from `connector.stream`), with value coercions in `fields`. `REGISTRY`
names them.

May import: `paging` (the layer below: a log type declares its paging parts), `stream`,
`indicators`, `slack`, foundations.
"""

from connector.logtypes import access, audit, integration
from connector.logtypes.base import REGISTRY, LogType

__all__ = ["REGISTRY", "LogType", "access", "audit", "integration"]
