-- CRM: customers, orders, their status history and the inbox of MES status events.
-- The outbox table is created separately by printflow_messaging::outbox::migrate.

CREATE TABLE customers (
    id          UUID        PRIMARY KEY,
    name        TEXT        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email       TEXT        NOT NULL,
    phone       TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Customers are matched on e-mail regardless of case; the upsert targets this index.
CREATE UNIQUE INDEX customers_email_key ON customers (lower(email));

CREATE TABLE orders (
    -- Chosen by Shop, so a retried POST /orders finds the order it already created.
    id                      UUID        PRIMARY KEY,
    customer_id             UUID        NOT NULL REFERENCES customers (id),
    design_id               UUID        NOT NULL,
    design_version          INT         NOT NULL CHECK (design_version >= 1),
    model_sha256            TEXT        NOT NULL CHECK (model_sha256 ~ '^[0-9a-f]{64}$'),
    model_size_bytes        BIGINT      NOT NULL CHECK (model_size_bytes > 0),
    estimated_print_seconds BIGINT      NOT NULL CHECK (estimated_print_seconds > 0),
    material                TEXT        NOT NULL,
    quantity                INT         NOT NULL CHECK (quantity BETWEEN 1 AND 100),
    shipping                TEXT        NOT NULL CHECK (shipping IN ('standard', 'express', 'pickup')),
    total_price_cents       BIGINT      NOT NULL CHECK (total_price_cents > 0),
    -- The single source of truth for "what status is this order in".
    status                  TEXT        NOT NULL CHECK (status IN ('NEW', 'ACCEPTED', 'PRINTING',
                                'POST_PROCESSING', 'QUALITY_CHECK', 'READY', 'SHIPPED', 'FAILED', 'CANCELLED')),
    -- 1 at creation, +1 per applied change; equals the newest history entry's status_version.
    status_version          BIGINT      NOT NULL DEFAULT 1,
    status_since            TIMESTAMPTZ NOT NULL DEFAULT now(),
    failure_reason          TEXT,
    -- The highest MES sequence processed (applied or rejected); events are applied strictly in
    -- sequence order, so everything at or below it is done.
    last_source_sequence    BIGINT      NOT NULL DEFAULT 0,
    created_at              TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX orders_status_idx ON orders (status, created_at, id);
CREATE INDEX orders_created_idx ON orders (created_at, id);
CREATE INDEX orders_customer_idx ON orders (customer_id);

CREATE TABLE order_status_history (
    order_id        UUID        NOT NULL REFERENCES orders (id),
    from_status     TEXT,
    to_status       TEXT        NOT NULL,
    -- One entry per version: a change can never be recorded twice.
    status_version  BIGINT      NOT NULL,
    source          TEXT        NOT NULL CHECK (source IN ('crm', 'mes')),
    source_sequence BIGINT,
    detail          TEXT,
    changed_at      TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, status_version)
);

-- Inbox: the first receipt of every (order, MES sequence). Events that arrive ahead of a gap
-- wait here as `pending` until the missing sequence arrives.
CREATE TABLE status_events (
    order_id    UUID        NOT NULL REFERENCES orders (id),
    sequence    BIGINT      NOT NULL CHECK (sequence >= 1),
    message_id  UUID        NOT NULL,
    status      TEXT        NOT NULL,
    failure     TEXT,
    detail      TEXT,
    source      TEXT        NOT NULL,
    changed_at  TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    outcome     TEXT        NOT NULL CHECK (outcome IN ('pending', 'applied', 'duplicate', 'stale', 'rejected')),
    reason      TEXT,
    PRIMARY KEY (order_id, sequence)
);
CREATE INDEX status_events_pending_idx ON status_events (order_id, sequence) WHERE outcome = 'pending';

-- Every later delivery of an (order, sequence) the inbox already holds: redeliveries of the same
-- message (`duplicate`) and late messages for an already processed sequence (`stale`). Kept so an
-- operator can see them; they never change an order.
CREATE TABLE status_event_repeats (
    id          BIGSERIAL   PRIMARY KEY,
    order_id    UUID        NOT NULL REFERENCES orders (id),
    sequence    BIGINT      NOT NULL,
    message_id  UUID        NOT NULL,
    status      TEXT        NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    outcome     TEXT        NOT NULL CHECK (outcome IN ('duplicate', 'stale')),
    reason      TEXT        NOT NULL
);
CREATE INDEX status_event_repeats_order_idx ON status_event_repeats (order_id, sequence);
