-- Every tagExamples call, and exactly what it changed on each example, so that it can be undone.
CREATE TABLE tag_operations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    added           text[] NOT NULL,
    removed         text[] NOT NULL,
    note            text,
    filter          jsonb NOT NULL,
    affected_count  integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    undone_at       timestamptz
);

CREATE TABLE tag_operation_changes (
    operation_id  bigint NOT NULL REFERENCES tag_operations (id),
    -- No foreign key: examples are never deleted, and checking one per logged change doubled the cost.
    example_id    bigint NOT NULL,
    added         text[] NOT NULL,  -- tags this operation put on the example (absent before)
    removed       text[] NOT NULL,  -- tags it took off (present before)
    PRIMARY KEY (operation_id, example_id)
);
