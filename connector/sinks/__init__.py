"""Where landed objects go: S3, a local directory, or stdout, behind one `Sink` interface
(`base`) picked by `[output] type`.

May import: `config`, foundations.
"""

from connector.sinks import local, s3, stdout
from connector.sinks.base import REGISTRY, Sink, SinkError, build

__all__ = ["REGISTRY", "Sink", "SinkError", "build", "local", "s3", "stdout"]
