"""Log types, registered by name. Importing this package registers all built-in types."""

from connector.logtypes import access, audit, integration
from connector.logtypes.base import REGISTRY, LogType

__all__ = ["REGISTRY", "LogType", "access", "audit", "integration"]
