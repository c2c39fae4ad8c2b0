"""Where batches land. A sink is one small class registered by its `[output] type`."""

from connector.sinks import local, s3, stdout
from connector.sinks.base import REGISTRY, Sink, SinkError, build

__all__ = ["REGISTRY", "Sink", "SinkError", "build", "local", "s3", "stdout"]
