-- The tables config/bench/order-transactions.sql writes: the services' shapes reduced to what
-- the transactions touch, with the same kinds of keys and indexes.
DROP TABLE IF EXISTS bench_customers, bench_orders, bench_history, bench_outbox, bench_jobs,
    bench_job_events, bench_inbox;
CREATE TABLE bench_customers (id BIGINT PRIMARY KEY, email TEXT NOT NULL);
CREATE TABLE bench_orders (id BIGINT PRIMARY KEY, customer BIGINT NOT NULL, status TEXT NOT NULL,
    version BIGINT NOT NULL, payload JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE INDEX ON bench_orders (customer);
CREATE TABLE bench_history (order_id BIGINT NOT NULL, version BIGINT NOT NULL, status TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE INDEX ON bench_history (order_id, version);
CREATE TABLE bench_outbox (id BIGSERIAL PRIMARY KEY, payload JSONB NOT NULL, sent_at TIMESTAMPTZ);
CREATE INDEX ON bench_outbox (id) WHERE sent_at IS NULL;
CREATE TABLE bench_jobs (order_id BIGINT PRIMARY KEY, status TEXT NOT NULL, seq BIGINT NOT NULL,
    verified BOOLEAN NOT NULL DEFAULT false);
CREATE TABLE bench_job_events (id BIGSERIAL PRIMARY KEY, order_id BIGINT NOT NULL, seq BIGINT NOT NULL,
    status TEXT NOT NULL);
CREATE INDEX ON bench_job_events (order_id, seq);
CREATE TABLE bench_inbox (order_id BIGINT NOT NULL, seq BIGINT NOT NULL, status TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE INDEX ON bench_inbox (order_id, seq);
