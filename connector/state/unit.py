"""The write-intent protocol as one object: a unit of work opened per batch of one stream.

The order of state calls is what makes a crash lose nothing and double nothing, so it is
kept here and nowhere else:

1. `writing(key, size, row_keys)` records the object as a write intent (it survives a
   crash), then asks whether this process still holds the stream's lease; only then does
   the caller upload. An object whose upload returned is settled into the unit.
2. `commit(checkpoint)` moves the settled objects' keys, the checkpoint and the removal of
   their intents in one atomic commit, which a shared store fences by the lease epoch.
3. `settle(exists, restore)` is the same commit for the intents a crash left behind: an
   object the sink holds makes its keys seen (after `restore` made any of its derived
   objects that is missing, see `connector.ingest.derived`), one that was never written
   leaves nothing. Given the sink's `settle` as `exists`, a fencing sink also makes sure
   the object can no longer land, so a replica paused before its upload cannot write
   those rows after the new holder has.

Derived objects are uploaded inside their data object's `writing`, each after
`check_lease`, so the data object's intent covers them.

Both stores implement the calls it makes (`begin_write`, `owns`, `intents`, `commit`); the
contract test (`tests/test_state_contract.py`) runs a unit against each. `Pipeline` opens a
unit per batch it writes and one per poll to settle, and `backfill` polls through
`Pipeline`, so the daemon, `once` and a backfill share the protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from connector.state.base import Keys, StateStore


class UnitOfWork:
    """What one batch (or one recovery) changes in the state of one stream."""

    def __init__(
        self, store: StateStore, source_id: str, log_type: str, checkpoint_key: str | None = None
    ) -> None:
        self.store = store
        self.source_id = source_id
        self.log_type = log_type
        self.checkpoint_key = checkpoint_key
        self.keys: list[bytes] = []
        self.objects: list[str] = []
        self.bytes = 0

    @contextmanager
    def writing(self, object_key: str, size: int, row_keys: Keys) -> Iterator[None]:
        """Around one upload: the intent is recorded and the lease checked before it (a
        replica paused past its lease must not put what the new holder settled); the
        object counts as written only when the body returns."""
        self.store.begin_write(self.source_id, self.log_type, {object_key: (size, row_keys)})
        self.check_lease()
        yield
        self.keys.extend(row_keys)
        self.objects.append(object_key)
        self.bytes += size

    def check_lease(self) -> None:
        """Before every upload: raises `LeaseLost` once this process no longer holds the
        stream (a private store holds every stream). A fencing sink also asks it before
        it replaces a tombstone that recovery left (`Sink.settle`)."""
        if not self.store.owns(self.source_id, self.log_type):
            raise self.store.lease_lost(self.source_id, self.log_type)

    def commit(
        self, checkpoint: dict[str, Any] | None = None, prune_before: int | None = None
    ) -> bool:
        """Keys, checkpoint and intent cleanup together; False when there was nothing."""
        if not self.objects and checkpoint is None:
            return False
        self.store.commit(
            self.source_id,
            self.log_type,
            keys=self.keys,
            checkpoint=checkpoint,
            checkpoint_key=self.checkpoint_key,
            done_intents=self.objects,
            prune_before=prune_before,
        )
        return True

    def settle(
        self,
        exists: Callable[[str, int | None], bool],
        restore: Callable[[str], None] | None = None,
    ) -> int:
        """Settle the writes a crash interrupted, by asking the sink which objects exist
        and restoring the derived objects of those that do, before the commit; the number
        of intents there were."""
        intents = self.store.intents(self.source_id, self.log_type)
        if not intents:
            return 0
        landed = [i for i in intents if exists(i.object_key, i.size)]
        if restore is not None:
            for intent in landed:
                restore(intent.object_key)
        self.keys = [k for i in landed for k in i.row_keys]
        self.objects = [i.object_key for i in intents]
        self.store.commit(self.source_id, self.log_type, keys=self.keys, done_intents=self.objects)
        return len(intents)
