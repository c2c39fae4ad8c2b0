"""The stream contract: what one poll of one source and log type reads and what it keeps.

`contract` says what a stream is (`Stream`: pages of raw records, each with the
checkpoint that holds once they are written, read within a `PollContext`); `checkpoint`
is the base of every stream's typed, versioned checkpoint and the one place it is
serialised; `times` reads event times the way the schemas accept them. `paging/`
implements streams on this contract and `logtypes/` declares which stream each log type
uses, so both import it and it imports neither.

May import: `slack`, foundations.
"""

from connector.stream.checkpoint import Checkpoint, CheckpointError
from connector.stream.contract import Page, PollContext, PollStopped, Raw, Stored, Stream

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "Page",
    "PollContext",
    "PollStopped",
    "Raw",
    "Stored",
    "Stream",
]
