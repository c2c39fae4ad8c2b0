"""The `[state]` table of each store kind, and how each kind opens its store.

Store modules are imported when a store is opened, not when the config is read, so a
SQLite user never imports boto3.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from connector.state.base import StateStore
    from connector.state.token_store import TokenStorage


class StateOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    shared: ClassVar[bool] = False
    """Whether several replicas share the store (and need the sink to fence late uploads)."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the state is, for messages."""

    @abstractmethod
    def open(self, *, replica: bool = True, read_only: bool = False) -> StateStore:
        """The store. `replica=False` for tools (`state reset`): they never take a lease.
        `read_only` for on-call beside running daemons (`state show`, `check`)."""

    @abstractmethod
    def token_storage(self, source_id: str, path: str | None) -> TokenStorage:
        """Where the OAuth token pair of a source lives; `path` is `oauth.token_store`."""

    def init(self) -> str:
        """Create what the store needs before the first run; a line for the operator."""
        store = self.open(replica=False)
        store.close()
        return "nothing to create: the state file is created on first use"


class SqliteOptions(StateOptions):
    type: Literal["sqlite"] = "sqlite"
    path: str = "./state/connector.db"
    busy_timeout_seconds: float = Field(default=10.0, gt=0)

    @property
    def location(self) -> str:
        return self.path

    def open(self, *, replica: bool = True, read_only: bool = False) -> StateStore:
        from connector.state.sqlite import StateStore as SqliteStore

        return SqliteStore(self.path, timeout=self.busy_timeout_seconds, read_only=read_only)

    def token_storage(self, source_id: str, path: str | None) -> TokenStorage:
        from connector.state.token_store import TokenFile, default_token_path

        return TokenFile(path or default_token_path(self.path, source_id))


class DynamoDBOptions(StateOptions):
    """One table shared by every replica; leases decide which replica polls what."""

    shared: ClassVar[bool] = True

    type: Literal["dynamodb"]
    table: str = Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$")
    region: str | None = None
    endpoint_url: str | None = None
    lease_seconds: float = Field(default=30.0, ge=1.0)
    renew_seconds: float | None = Field(default=None, gt=0)
    replica_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,128}$")
    max_attempts: int = Field(default=5, ge=1)
    dedupe_ttl_seconds: int = Field(default=7 * 86_400, ge=3600)

    @model_validator(mode="after")
    def _renew_inside_lease(self) -> DynamoDBOptions:
        if self.renew_seconds is not None and self.renew_seconds * 2 > self.lease_seconds:
            raise ValueError("renew_seconds: must be at most half of lease_seconds")
        return self

    @property
    def renew_every(self) -> float:
        return self.renew_seconds or self.lease_seconds / 3

    @property
    def location(self) -> str:
        return f"DynamoDB table {self.table}"

    def open(self, *, replica: bool = True, read_only: bool = False) -> StateStore:
        from connector.state.dynamodb import DynamoStore

        return DynamoStore(self, replica=replica and not read_only)

    def token_storage(self, source_id: str, path: str | None) -> TokenStorage:
        from connector.state.tokens import DynamoTokenStorage

        return DynamoTokenStorage(self, source_id)

    def init(self) -> str:
        from connector.state.table import create_table

        return create_table(self)
