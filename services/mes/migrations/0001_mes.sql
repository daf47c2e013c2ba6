-- MES schema: the printer farm, production jobs (one per order) and each job's status history.
-- The outbox table is created by printflow_messaging::outbox::migrate, run after these.

CREATE TABLE printers (
    id          SERIAL PRIMARY KEY,
    name        TEXT        NOT NULL UNIQUE,
    -- A paused printer starts nothing new and freezes the job it is printing.
    paused      BOOLEAN     NOT NULL DEFAULT false,
    paused_at   TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
    id                       UUID        PRIMARY KEY,
    -- One job per order: a redelivered order.created hits this constraint and changes nothing.
    order_id                 UUID        NOT NULL UNIQUE,
    design_id                UUID        NOT NULL,
    design_version           INT         NOT NULL,
    -- Lower-case hex SHA-256 of the model file as recorded with the order.
    model_sha256             TEXT        NOT NULL CHECK (model_sha256 ~ '^[0-9a-f]{64}$'),
    model_size_bytes         BIGINT      NOT NULL,
    estimated_print_seconds  BIGINT      NOT NULL CHECK (estimated_print_seconds >= 0),
    material                 TEXT        NOT NULL,
    quantity                 INT         NOT NULL CHECK (quantity >= 1),
    shipping                 TEXT        NOT NULL,
    status                   TEXT        NOT NULL CHECK (status IN (
        'NEW', 'ACCEPTED', 'PRINTING', 'POST_PROCESSING', 'QUALITY_CHECK',
        'READY', 'SHIPPED', 'FAILED', 'CANCELLED')),
    -- The last sequence published for this order (0 before the first event).
    sequence                 BIGINT      NOT NULL DEFAULT 0,
    printer_id               INT         REFERENCES printers (id),
    -- The fetched model file matched model_sha256 and is a plausible binary STL.
    model_verified           BOOLEAN     NOT NULL DEFAULT false,
    -- Earliest time of the next model fetch (back-off after Shop was unreachable, or a lease
    -- while one MES instance is fetching).
    next_check_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Consecutive failed attempts to reach Shop for the model; drives the back-off.
    model_fetch_failures     INT         NOT NULL DEFAULT 0,
    -- Why the last model fetch could not reach Shop (NULL once it succeeded).
    model_fetch_error        TEXT,
    phase_started_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- When the current timed phase is over (NULL for untimed states).
    phase_ends_at            TIMESTAMPTZ,
    failure_reason           TEXT,
    detail                   TEXT,
    -- Production attempts: 1 for the first, +1 for every operator retry.
    attempts                 INT         NOT NULL DEFAULT 1,
    created_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at               TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX jobs_status_idx ON jobs (status, created_at);
CREATE INDEX jobs_printer_status_idx ON jobs (printer_id, status, created_at);
CREATE INDEX jobs_unverified_idx ON jobs (next_check_at)
    WHERE status = 'ACCEPTED' AND NOT model_verified;
CREATE INDEX jobs_phase_end_idx ON jobs (phase_ends_at)
    WHERE status IN ('PRINTING', 'POST_PROCESSING', 'QUALITY_CHECK', 'READY');

CREATE TABLE job_events (
    id              BIGSERIAL   PRIMARY KEY,
    job_id          UUID        NOT NULL REFERENCES jobs (id),
    order_id        UUID        NOT NULL,
    sequence        BIGINT      NOT NULL,
    from_status     TEXT        NOT NULL,
    to_status       TEXT        NOT NULL,
    failure_reason  TEXT,
    detail          TEXT,
    at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The published sequence numbers are unique per order; the database enforces it too.
    UNIQUE (order_id, sequence)
);
