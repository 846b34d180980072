-- The registry: models registered by hand, the active model per purpose with its whole history, benchmarks.

ALTER TABLE models ADD COLUMN retired_at timestamptz;
-- A model registered by hand (no job) is registered once per provider and provider model id.
CREATE UNIQUE INDEX models_registered_once_idx ON models (provider, provider_model_id) WHERE job_id IS NULL;

-- Append-only: every change of a purpose's active model; the newest row is the active one.
CREATE TABLE active_model_changes (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    purpose            text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 100),
    model_id           bigint NOT NULL REFERENCES models (id),
    previous_model_id  bigint REFERENCES models (id),
    reason             text,
    changed_by         text NOT NULL,
    rollback_of        bigint REFERENCES active_model_changes (id),  -- the change a rollback undid
    at                 timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX active_model_changes_purpose_idx ON active_model_changes (purpose, id DESC);
CREATE INDEX active_model_changes_model_idx ON active_model_changes (model_id);

-- The latest benchmark of each model on each dataset version.
CREATE TABLE benchmark_results (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id        bigint NOT NULL REFERENCES models (id),
    dataset_id      bigint NOT NULL REFERENCES datasets (id),
    job_id          bigint NOT NULL REFERENCES jobs (id),
    example_count   integer NOT NULL,
    failures        integer NOT NULL,
    json_valid_rate double precision NOT NULL,
    plan_exact_match double precision NOT NULL,
    step_f1         double precision NOT NULL,
    latency_p50_ms  double precision NOT NULL,
    latency_p95_ms  double precision NOT NULL,
    input_tokens    bigint NOT NULL,
    output_tokens   bigint NOT NULL,
    cost_usd        double precision,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (model_id, dataset_id)
);
