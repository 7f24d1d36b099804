"""Batch scoring: the champion over every row of an S3 prefix, a shard at a time.

``items`` lists what a Distributed Map's ItemReader would read (one item per CSV or JSON Lines
object, one per Parquet row group) and groups items into shards as its ItemBatcher would;
``rows`` reads an item's rows and validates each against the champion's signature; ``shard``
scores one shard through the API's serving code; ``job`` plans, runs the shards (through a
runner it is given: a process pool locally) and writes the summary.
"""
