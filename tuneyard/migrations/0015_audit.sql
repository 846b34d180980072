-- The audit log: one entry per mutation, written in the transaction of its change (tuneyard/core/audit.py), read by
-- auditLog (ADMIN), newest first. Entries are never updated; token_name is kept as it was, whatever happens to the
-- token since.
CREATE TABLE audit_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),  -- when its transaction began
    token_name      text NOT NULL,
    operation       text NOT NULL,  -- the mutation's field name: recordExamples, createToken...
    summary         jsonb NOT NULL,  -- its arguments, shortened, never a secret
    affected_count  integer
);

-- auditLog(operation: ...) walks one operation's entries newest first (keyset on id); without `operation`, the
-- primary key serves.
CREATE INDEX audit_log_operation_idx ON audit_log (operation, id DESC);
