-- The transactional outbox (see `printflow_messaging::outbox`), shared by every service that
-- publishes. Its version sorts after any service migration (services number theirs 0001, 0002,
-- ... or by timestamp) and lives in a range no service uses, so one combined migrator can run
-- both sets. `IF NOT EXISTS` because databases created before this was a migration already have
-- the table (it used to be created by hand-run SQL); they migrate cleanly.
CREATE TABLE IF NOT EXISTS outbox (
    id           BIGSERIAL PRIMARY KEY,
    message_id   UUID        NOT NULL UNIQUE,
    exchange     TEXT        NOT NULL,
    routing_key  TEXT        NOT NULL,
    payload      JSONB       NOT NULL,
    headers      JSONB       NOT NULL DEFAULT '{}'::jsonb,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at      TIMESTAMPTZ,
    attempts     INT         NOT NULL DEFAULT 0,
    last_error   TEXT
);
CREATE INDEX IF NOT EXISTS outbox_pending_idx ON outbox (id) WHERE sent_at IS NULL;
