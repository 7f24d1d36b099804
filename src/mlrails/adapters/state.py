"""Small pieces of state in the DynamoDB state table (key ``pk``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from mlrails.adapters.clients import aws_errors, client
from mlrails.errors import AwsError


class StateTable:
    """Policy counters and flags; every write is a single-item atomic update."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    def get(self, pk: str) -> dict[str, Any]:
        """The item's attributes as plain Python values ({} when absent)."""
        with aws_errors(f"reading {pk} in {self.table_name}"):
            item = (
                client("dynamodb")
                .get_item(TableName=self.table_name, Key={"pk": {"S": pk}}, ConsistentRead=True)
                .get("Item", {})
            )
        return {k: _plain(v) for k, v in item.items() if k != "pk"}

    def add(self, pk: str, attribute: str, amount: int) -> int:
        """Atomically add to a counter and return its new value."""
        with aws_errors(f"adding to {attribute} of {pk} in {self.table_name}"):
            response = self._update(
                Key={"pk": {"S": pk}},
                UpdateExpression="ADD #a :n",
                ExpressionAttributeNames={"#a": attribute},
                ExpressionAttributeValues={":n": {"N": str(amount)}},
                ReturnValues="UPDATED_NEW",
            )
        return int(response["Attributes"][attribute]["N"])

    def compare_and_set(
        self, pk: str, *, expected: dict[str, Any], add: dict[str, int] | None = None, **attributes: Any
    ) -> bool:
        """Set ``attributes`` (None: remove) and add to the counters in ``add``, in one update,
        only if each ``expected`` attribute still holds its value (None: absent). False when
        another writer got there first."""
        add = add or {}
        names = (
            {f"#s{i}": k for i, k in enumerate(attributes)}
            | {f"#e{i}": k for i, k in enumerate(expected)}
            | {f"#a{i}": k for i, k in enumerate(add)}
        )
        values = {f":s{i}": _typed(v) for i, v in enumerate(attributes.values()) if v is not None}
        values |= {f":a{i}": _typed(v) for i, v in enumerate(add.values())}
        clauses = [
            "SET " + ", ".join(f"#s{i} = :s{i}" for i, v in enumerate(attributes.values()) if v is not None),
            "REMOVE " + ", ".join(f"#s{i}" for i, v in enumerate(attributes.values()) if v is None),
            "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(add))),
        ]
        conditions = []
        for i, value in enumerate(expected.values()):
            if value is None:
                conditions.append(f"attribute_not_exists(#e{i})")
            else:
                conditions.append(f"#e{i} = :e{i}")
                values[f":e{i}"] = _typed(value)
        try:
            with aws_errors(f"updating {pk} in {self.table_name}"):
                self._update(
                    Key={"pk": {"S": pk}},
                    UpdateExpression=" ".join(clause for clause in clauses if not clause.endswith(" ")),
                    ConditionExpression=" AND ".join(conditions) or "attribute_exists(pk) OR attribute_not_exists(pk)",
                    ExpressionAttributeNames=names,
                    **({"ExpressionAttributeValues": values} if values else {}),
                )
        except AwsError as exc:
            if exc.code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def put(self, pk: str, **attributes: Any) -> None:
        """Set attributes (strings, numbers, datetimes as ISO strings)."""
        names = {f"#{i}": k for i, k in enumerate(attributes)}
        values = {f":{i}": _typed(v) for i, v in enumerate(attributes.values())}
        with aws_errors(f"setting {pk} in {self.table_name}"):
            self._update(
                Key={"pk": {"S": pk}},
                UpdateExpression="SET " + ", ".join(f"#{i} = :{i}" for i in range(len(attributes))),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def _update(self, **request: Any) -> dict[str, Any]:
        return client("dynamodb").update_item(TableName=self.table_name, **request)


def _typed(value: Any) -> dict[str, str]:
    if isinstance(value, datetime):
        return {"S": value.isoformat()}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": str(value)}
    return {"S": str(value)}


def _plain(value: dict[str, Any]) -> Any:
    ((kind, raw),) = value.items()
    if kind == "N":
        number = Decimal(raw)
        return int(number) if number == number.to_integral_value() else float(number)
    return raw
