-- LOCAL fine-tunes measured on a machine (load time, pace, memory), so an estimate measures once per setting.
CREATE TABLE local_calibrations (
    base_model         text NOT NULL,
    batch_size         integer NOT NULL,
    max_length         integer NOT NULL,
    lora_rank          integer NOT NULL,
    device             text NOT NULL,
    load_seconds       double precision NOT NULL,
    seconds_per_step   double precision NOT NULL,
    peak_memory_bytes  bigint NOT NULL,
    measured_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (base_model, batch_size, max_length, lora_rank, device)
);
