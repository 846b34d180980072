-- Fine-tuning: the models it makes (the registry proper comes later), and the token counts estimates read.

CREATE TABLE models (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    provider           text NOT NULL,
    base_model         text NOT NULL,
    provider_model_id  text NOT NULL,  -- what the provider calls it: "ft:gpt-4.1-mini:...", an endpoint
    fine_tuned         boolean NOT NULL,
    dataset_id         bigint REFERENCES datasets (id),
    job_id             bigint UNIQUE REFERENCES jobs (id),  -- one model per FINE_TUNE job, however often it ends
    hyperparameters    jsonb,
    metrics            jsonb,
    status             text NOT NULL DEFAULT 'READY' CHECK (status IN ('READY', 'RETIRED')),
    shutdown_at        date,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX models_provider_idx ON models (provider, id);

-- A version's training-text tokens, counted once (a version never changes): what fineTuneEstimate reads.
-- `largest` keeps the biggest per-example counts (descending, at most 1,000) to tell how many exceed a context.
CREATE TABLE dataset_token_counts (
    dataset_id         bigint PRIMARY KEY REFERENCES datasets (id),
    tokenizer          text NOT NULL,
    train_tokens       bigint NOT NULL,
    validation_tokens  bigint NOT NULL,
    largest            integer[] NOT NULL,
    counted_at         timestamptz NOT NULL DEFAULT now()
);
