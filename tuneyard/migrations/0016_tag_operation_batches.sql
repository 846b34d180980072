-- The tag-operation log in batches. One row per changed example meant 100,000 rows, index entries and foreign-key
-- checks to log an operation of that size: a third of the time of tagging 100,000 scattered examples of a million.
-- An operation changes most of its examples the same way (it adds the same tags to every example that lacked them),
-- so the log keeps one row per operation, per way it changed examples (the tags it added to them and the tags it
-- took off), per block of 65,536 example ids, listing those examples: an operation on 100,000 examples writes a few
-- rows, and no array grows past 65,536 ids however large the operation.
CREATE TABLE tag_operation_batches (
    operation_id  bigint NOT NULL REFERENCES tag_operations (id),
    block         bigint NOT NULL,   -- example_id / 65536, the same for every id in example_ids
    added         text[] NOT NULL,   -- tags the operation put on these examples (absent before)
    removed       text[] NOT NULL,   -- tags it took off them (present before)
    example_ids   bigint[] NOT NULL CHECK (cardinality(example_ids) > 0),  -- sorted, no duplicates
    PRIMARY KEY (operation_id, block, added, removed)
);
-- A purge finds the log rows naming the examples it deletes by their blocks.
CREATE INDEX tag_operation_batches_block_idx ON tag_operation_batches (block);

INSERT INTO tag_operation_batches (operation_id, block, added, removed, example_ids)
SELECT operation_id, example_id / 65536, added, removed, array_agg(example_id ORDER BY example_id)
FROM tag_operation_changes
GROUP BY operation_id, example_id / 65536, added, removed;

DROP TABLE tag_operation_changes;
