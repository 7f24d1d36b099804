"""Batch scoring's pure half: the item list (Parquet split by row group from its footer),
shards with stable ids, and rows read in three formats and validated one row at a time."""

import io
import json
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlrails.batch.items import Item, Shard, plan_items, shards
from mlrails.batch.rows import MALFORMED, parquet_row_groups, read_csv, read_jsonl, read_parquet, validate
from mlrails.serving.protocol import Column

SIGNATURE = [Column("tenure", "numeric"), Column("plan", "categorical"), Column("spend", "numeric", nullable=True)]


def _parquet(rows: int, row_group_size: int) -> bytes:
    table = pa.table(
        {
            "tenure": [float(i) for i in range(rows)],
            "plan": ["basic" if i % 2 else "pro" for i in range(rows)],
            "spend": [None if i == 3 else i * 1.5 for i in range(rows)],
            "customer_id": [f"c{i}" for i in range(rows)],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=row_group_size)
    return buffer.getvalue()


def test_the_plan_reads_parquet_by_row_group_and_skips_what_it_cannot_read_with_a_reason():
    blob = _parquet(25, 10)
    footers = {"s3://b/in/c.parquet": blob}
    objects = [("in/", 0), ("in/a.csv", 10), ("in/b.jsonl", 5), ("in/c.parquet", len(blob))]
    objects += [("in/d.xlsx", 9), ("in/e.csv", 0)]
    plan = plan_items(objects, lambda uri: parquet_row_groups(io.BytesIO(footers[uri])), uri=lambda k: f"s3://b/{k}")
    assert [(i.uri, i.format, i.row_group, i.rows) for i in plan.items] == [
        ("s3://b/in/a.csv", "csv", None, None),
        ("s3://b/in/b.jsonl", "jsonl", None, None),
        ("s3://b/in/c.parquet", "parquet", 0, 10),
        ("s3://b/in/c.parquet", "parquet", 1, 10),
        ("s3://b/in/c.parquet", "parquet", 2, 5),
    ]
    assert [(s.uri, s.reason) for s in plan.skipped] == [
        ("s3://b/in/d.xlsx", "not CSV, JSON Lines or Parquet (suffixes .csv, .jsonl, .ndjson, .parquet)"),
        ("s3://b/in/e.csv", "empty object"),
    ]
    assert [Item.from_dict(d) for d in json.loads(plan.item_list())] == plan.items


def test_shards_batch_items_in_order_with_ids_that_depend_on_their_items_only():
    items = [Item(f"s3://b/{n}.csv", "csv") for n in range(5)]
    batches = shards(items, 2)
    assert [len(s.items) for s in batches] == [2, 2, 1]
    assert [s.id for s in shards(items, 2)] == [s.id for s in batches]  # a rerun: the same keys
    assert len({s.id for s in batches}) == 3
    assert batches[0].part_key("s3://o/out/") == f"s3://o/out/parts/{batches[0].id}.parquet"
    assert Shard((Item("s3://b/x.parquet", "parquet", 0),)).id != Shard((Item("s3://b/x.parquet", "parquet", 1),)).id
    with pytest.raises(ValueError):
        shards(items, 0)


def test_csv_rows_are_validated_per_row_and_a_bad_row_loses_nothing_else():
    body = b"tenure,plan,spend,customer_id\n1,pro,2.5,a\nlots,pro,1,b\n3,basic,,c\n4,basic\n5,,1,e\n"
    rows = read_csv(body)
    assert rows.count == 5
    checked = validate(rows, SIGNATURE)
    assert checked.numbers == [0, 2]
    assert checked.batch.rows == 2 and checked.batch.return_probabilities
    assert checked.batch.columns == {"tenure": [1.0, 3.0], "plan": ["pro", "basic"], "spend": [2.5, None]}
    assert [(r.row, r.reason) for r in checked.rejected] == [
        (1, "tenure: not_a_number"),
        (3, MALFORMED),
        (4, "plan: missing"),
    ]
    assert checked.rejected[0].values["customer_id"] == "b"  # the id rides along with the refusal
    assert checked.extra == {"customer_id": ["a", "c"]}
    assert "must be a number, got 'lots'" in checked.rejected[0].message


def test_json_lines_rows_refuse_missing_keys_non_objects_and_bad_json_row_by_row():
    lines = [
        {"tenure": 1, "plan": "pro"},
        {"plan": "pro"},
        [1, 2],
        {"tenure": 2, "plan": {"a": 1}},
        {"tenure": float("inf"), "plan": "x"},
        {"tenure": True, "plan": "x"},
        {"tenure": "7", "plan": 3, "spend": 1},
    ]
    body = "\n".join(json.dumps(line) if i != 4 else '{"tenure": 1e999, "plan": "x"}' for i, line in enumerate(lines))
    rows = read_jsonl((body + "\n\n{not json\n").encode())
    checked = validate(rows, SIGNATURE)
    assert checked.numbers == [0, 6]
    assert checked.batch.columns == {"tenure": [1.0, 7.0], "plan": ["pro", "3"], "spend": [None, 1.0]}
    assert {r.row: r.reason for r in checked.rejected} == {
        1: "tenure: missing",
        2: MALFORMED,
        3: "plan: not_a_category",
        4: "tenure: not_finite",
        5: "tenure: not_a_number",
        7: MALFORMED,
    }


def test_a_parquet_row_group_is_read_alone_with_row_numbers_from_the_files_first_row():
    blob = _parquet(25, 10)
    assert parquet_row_groups(io.BytesIO(blob)) == [10, 10, 5]
    rows = read_parquet(io.BytesIO(blob), 0)
    checked = validate(rows, SIGNATURE)
    # Typed columns are checked whole: numbers as float64 (a nullable one's null as NaN).
    assert checked.numbers == list(range(10)) and math.isnan(checked.batch.columns["spend"][3])
    assert "customer_id" not in checked.batch.columns  # not the model's: it rides along
    assert list(checked.extra) == ["customer_id"] and checked.extra["customer_id"].to_pylist() == [
        f"c{i}" for i in range(10)
    ]
    last = validate(read_parquet(io.BytesIO(blob), 2), SIGNATURE)
    assert last.numbers == list(range(20, 25)) and last.batch.columns["tenure"].tolist() == [
        20.0,
        21.0,
        22.0,
        23.0,
        24.0,
    ]


def test_a_missing_signature_column_refuses_every_row_with_its_name():
    checked = validate(read_csv(b"tenure,spend\n1,2\n3,4\n"), SIGNATURE)
    assert checked.batch.rows == 0
    assert [(r.row, r.reason) for r in checked.rejected] == [(0, "plan: missing"), (1, "plan: missing")]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"items_per_batch": 0}, "batch.items_per_batch"),
        ({"max_concurrency": 0}, "batch.max_concurrency"),
        ({"tolerated_failure_percentage": 101}, "batch.tolerated_failure_percentage"),
        ({"shards": 3}, "batch.shards"),
    ],
)
def test_the_batch_section_is_validated_naming_the_field(cfg, fields, named):
    from mlrails.config import parse_config
    from mlrails.errors import ConfigError

    document = cfg.model_dump(mode="json")
    assert (document["batch"]["items_per_batch"], document["batch"]["tolerated_failure_percentage"]) == (4, 0.0)
    with pytest.raises(ConfigError, match=named):
        parse_config({**document, "batch": fields})
