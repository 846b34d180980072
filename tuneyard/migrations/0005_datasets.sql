-- Dataset versions: immutable, frozen selections of examples with a train/validation split.
CREATE TABLE datasets (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 200 AND btrim(name) = name AND name <> ''),
    version              integer NOT NULL CHECK (version >= 1),
    description          text,
    filter               jsonb NOT NULL,
    validation_fraction  double precision NOT NULL CHECK (validation_fraction >= 0 AND validation_fraction <= 0.5),
    seed                 bigint NOT NULL,
    example_count        integer NOT NULL DEFAULT 0,
    train_count          integer NOT NULL DEFAULT 0,
    validation_count     integer NOT NULL DEFAULT 0,
    avg_quality_score    double precision,
    content_hash         text NOT NULL DEFAULT '',
    is_current           boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    deleted_at           timestamptz,
    UNIQUE (name, version)
);

-- Exactly one current version per name (rollback moves the flag).
CREATE UNIQUE INDEX datasets_current_idx ON datasets (name) WHERE is_current;

-- The frozen content of every member, copied at creation: later re-recording, tagging or archiving of the
-- example never reaches it. No foreign key to examples: a version stands on its own rows.
CREATE TABLE dataset_examples (
    dataset_id               bigint NOT NULL REFERENCES datasets (id),
    example_id               bigint NOT NULL,
    split                    text NOT NULL CHECK (split IN ('TRAIN', 'VALIDATION')),
    -- sha256 of the member's content (not its split): tells "same example, changed content" apart in diffs.
    content_sha              bytea NOT NULL,
    execution_id             text NOT NULL,
    user_request             text NOT NULL,
    intent                   text,
    platform                 text,
    business_state           jsonb,
    execution_plan           jsonb,
    execution_result         jsonb,
    quality_score            double precision,
    success                  boolean,
    tags                     text[] NOT NULL,
    post_publication_metrics jsonb,
    patterns_discovered      text[],
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    PRIMARY KEY (dataset_id, example_id)
);

-- One row per written file; a job that runs twice finds the files of its first run by job_id.
CREATE TABLE dataset_exports (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dataset_id  bigint NOT NULL REFERENCES datasets (id),
    format      text NOT NULL,
    split       text CHECK (split IN ('TRAIN', 'VALIDATION')),
    job_id      text,
    file_name   text NOT NULL UNIQUE CHECK (file_name !~ '[/\\]' AND file_name NOT LIKE '.%'),
    line_count  integer NOT NULL,
    size_bytes  bigint NOT NULL,
    sha256      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX dataset_exports_dataset_idx ON dataset_exports (dataset_id, id);
CREATE UNIQUE INDEX dataset_exports_job_idx ON dataset_exports (job_id, coalesce(split, '')) WHERE job_id IS NOT NULL;
