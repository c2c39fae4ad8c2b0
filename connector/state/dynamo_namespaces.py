"""The DynamoDB store's small namespaces: alerts (partition `A`), detection values (`D`),
detection marks (`DM`) and the watchlist (`W`). Each has a partition of its own so that
reading the open alerts never reads the others; keys an earlier release kept among the
alerts move to their own partition the first time they are read."""

from __future__ import annotations

from typing import Any

from connector.state.dynamo_items import item_value, num, value_item
from connector.state.sqlite_schema import V3_MARKS
from connector.state.table import Item, Table, key


class Namespaces:
    """Mixed into `DynamoStore`, which sets `table`."""

    table: Table

    def alert(self, key_: str) -> dict[str, Any] | None:
        return item_value(self.table.get("A", key_))

    def set_alert(self, key_: str, value: dict[str, Any]) -> None:
        self.table.put({**key("A", key_), **value_item(value)})

    def detection_value(self, key_: str) -> dict[str, Any] | None:
        """Partition `D`; a key an earlier release kept among the alerts moves here the
        first time it is read, as the watchlist's did."""
        return item_value(self._moved("D", key_, "detections:"))

    def set_detection_value(self, key_: str, value: dict[str, Any]) -> None:
        self.table.put({**key("D", key_), **value_item(value)})

    def mark_detection(self, key_: str, value: dict[str, Any], *, time: int | None = None) -> bool:
        """Partition `DM`, a conditional put. A mark an earlier release set among the
        alerts counts as set: it moves here (keeping its `at` as its time) and loses."""
        legacy = self.table.get("A", key_) if key_.startswith(V3_MARKS) else None
        if legacy is not None:
            at = (item_value(legacy) or {}).get("at") if key_.startswith(V3_MARKS[0]) else None
            self._put_mark(key_, legacy["value"], at if isinstance(at, int) else None)
            self.table.delete("A", key_, size=len(legacy["value"]["B"]))
            return False
        return self._put_mark(key_, value_item(value)["value"], time)

    def _put_mark(self, key_: str, encoded: dict[str, Any], time: int | None) -> bool:
        item = {**key("DM", key_), "value": encoded}
        if time is not None:
            item["t"] = num(time)
        return self.table.conditional(
            "put_item", Item=item, ConditionExpression="attribute_not_exists(pk)"
        )

    def detection_mark(self, key_: str) -> dict[str, Any] | None:
        return item_value(self.table.get("DM", key_))

    def prune_detection_marks(self, before: int) -> int:
        """Reads the marks' partition, which pruning keeps to a retention's anomalies.
        First moves whatever an earlier release left among the alerts (a key range of
        partition `A`, empty once moved), so marks never read again do not stay there."""
        for item in list(
            self.table.query(
                "A",
                condition="pk = :pk AND begins_with(sk, :p)",
                values={":p": {"S": "detections:"}},
            )
        ):
            key_ = item["sk"]["S"]
            if key_.startswith(V3_MARKS):
                self.mark_detection(key_, {})
            elif self._moved("D", key_, "detections:") is not None:
                self.table.delete("A", key_, size=len(item["value"]["B"]))  # D's is newer
        doomed = list(self.table.query("DM", FilterExpression="t < :b", values={":b": num(before)}))
        for item in doomed:
            self.table.delete("DM", item["sk"]["S"], size=len(item["value"]["B"]))
        return len(doomed)

    def watchlist_value(self, key_: str) -> dict[str, Any] | None:
        """Partition `W`, and a key an earlier release kept among the alerts moves here the
        first time it is read."""
        return item_value(self._moved("W", key_, "watchlist:"))

    def _moved(self, pk: str, key_: str, legacy_prefix: str) -> Item | None:
        """The item of `key_` in its own partition. One an earlier release kept among the
        alerts (partition `A`) is copied there unless a replica wrote it meanwhile, then
        deleted from the alerts."""
        found = self.table.get(pk, key_)
        if found is None and key_.startswith(legacy_prefix):
            legacy = self.table.get("A", key_)
            if legacy is not None:
                self.table.conditional(
                    "put_item",
                    Item={**key(pk, key_), "value": legacy["value"]},
                    ConditionExpression="attribute_not_exists(pk)",
                )
                self.table.delete("A", key_, size=len(legacy["value"]["B"]))
                found = self.table.get(pk, key_)
        return found

    def set_watchlist_value(self, key_: str, value: dict[str, Any]) -> None:
        self.table.put({**key("W", key_), **value_item(value)})

    def open_alerts(self) -> dict[str, dict[str, Any]]:
        alerts = {i["sk"]["S"]: item_value(i) for i in self.table.query("A", consistent=False)}
        return {k: v for k, v in alerts.items() if v and v.get("open")}
