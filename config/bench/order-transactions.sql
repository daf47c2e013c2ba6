-- pgbench script: the database work of one order, transaction by transaction, on tables of the
-- same shape as the services' (scripts/bench-orders.sh creates them in a scratch database).
-- One run of this script is every kind of transaction an order causes, once each (22 commits,
-- 21 of them writes); scripts/bench-orders.sh takes the rate of write transactions it reaches
-- (transaction ids used) and divides it by the write transactions one order really takes
-- (measured in the same run: relays and the MES scheduler batch several orders' rows in one
-- transaction), which gives the orders/s PostgreSQL alone could carry on this machine. The
-- kinds, by service:
--   Shop:  1 order placement read (design version)                                   1
--   CRM:   create (customer upsert, order, history, outbox) + relay mark sent          2
--   MES:   intake (job, event) + verify + start print + 4 phase ends, each with its
--          outbox row, and the relay marking them sent                               1+1+5+6
--   CRM:   6 status events applied (inbox row, order update, history)                 6
-- 22 commits per order (21 writes); scripts/bench-orders.sh prints the measured writes beside it.
-- The relay marks a row by the id its insert returned (`\gset`), through the primary key, as the
-- services' relays do. (Until 2026-12-02 the marks said `WHERE id = currval(...)`: currval is
-- volatile, so PostgreSQL could not use the index and every mark scanned the whole outbox; the
-- bound came out at less than half of what PostgreSQL can do.)
\set oid random(1, 1000000000)
\set cust random(1, 1000)
-- Shop: the design version read before placing.
SELECT count(*) FROM bench_orders WHERE customer = :cust;
-- CRM: the order, its history and its outbox row, in one transaction.
BEGIN;
INSERT INTO bench_customers (id, email) VALUES (:cust, 'c' || :cust) ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email;
INSERT INTO bench_orders (id, customer, status, version, payload) VALUES (:oid, :cust, 'NEW', 1, '{"model_sha256":"x","quantity":1}') ON CONFLICT (id) DO NOTHING;
INSERT INTO bench_history (order_id, version, status) VALUES (:oid, 1, 'NEW');
INSERT INTO bench_outbox (payload) VALUES ('{"type":"order.created"}') RETURNING id AS ob1 \gset
COMMIT;
-- CRM relay: the row sent.
UPDATE bench_outbox SET sent_at = now() WHERE id = :ob1;
-- MES intake: the job and its first event.
BEGIN;
INSERT INTO bench_jobs (order_id, status, seq) VALUES (:oid, 'ACCEPTED', 1) ON CONFLICT (order_id) DO NOTHING;
INSERT INTO bench_job_events (order_id, seq, status) VALUES (:oid, 1, 'ACCEPTED');
INSERT INTO bench_outbox (payload) VALUES ('{"type":"order.status_changed"}') RETURNING id AS ob2 \gset
COMMIT;
-- MES model check.
UPDATE bench_jobs SET verified = true WHERE order_id = :oid;
-- MES: PRINTING, POST_PROCESSING, QUALITY_CHECK, READY, SHIPPED, each a transaction with its
-- event and outbox row; the relay marks each sent; CRM applies each (inbox, order, history).
BEGIN;
UPDATE bench_jobs SET status = 'PRINTING', seq = seq + 1 WHERE order_id = :oid;
INSERT INTO bench_job_events (order_id, seq, status) VALUES (:oid, 2, 'PRINTING');
INSERT INTO bench_outbox (payload) VALUES ('{"type":"order.status_changed"}') RETURNING id AS ob3 \gset
COMMIT;
BEGIN;
UPDATE bench_jobs SET status = 'POST_PROCESSING', seq = seq + 1 WHERE order_id = :oid;
INSERT INTO bench_job_events (order_id, seq, status) VALUES (:oid, 3, 'POST_PROCESSING');
INSERT INTO bench_outbox (payload) VALUES ('{"type":"order.status_changed"}') RETURNING id AS ob4 \gset
COMMIT;
BEGIN;
UPDATE bench_jobs SET status = 'QUALITY_CHECK', seq = seq + 1 WHERE order_id = :oid;
INSERT INTO bench_job_events (order_id, seq, status) VALUES (:oid, 4, 'QUALITY_CHECK');
INSERT INTO bench_outbox (payload) VALUES ('{"type":"order.status_changed"}') RETURNING id AS ob5 \gset
COMMIT;
BEGIN;
UPDATE bench_jobs SET status = 'READY', seq = seq + 1 WHERE order_id = :oid;
INSERT INTO bench_job_events (order_id, seq, status) VALUES (:oid, 5, 'READY');
INSERT INTO bench_outbox (payload) VALUES ('{"type":"order.status_changed"}') RETURNING id AS ob6 \gset
COMMIT;
BEGIN;
UPDATE bench_jobs SET status = 'SHIPPED', seq = seq + 1 WHERE order_id = :oid;
INSERT INTO bench_job_events (order_id, seq, status) VALUES (:oid, 6, 'SHIPPED');
INSERT INTO bench_outbox (payload) VALUES ('{"type":"order.status_changed"}') RETURNING id AS ob7 \gset
COMMIT;
UPDATE bench_outbox SET sent_at = now() WHERE id = :ob2;
UPDATE bench_outbox SET sent_at = now() WHERE id = :ob3;
UPDATE bench_outbox SET sent_at = now() WHERE id = :ob4;
UPDATE bench_outbox SET sent_at = now() WHERE id = :ob5;
UPDATE bench_outbox SET sent_at = now() WHERE id = :ob6;
UPDATE bench_outbox SET sent_at = now() WHERE id = :ob7;
BEGIN;
INSERT INTO bench_inbox (order_id, seq, status) VALUES (:oid, 1, 'ACCEPTED');
UPDATE bench_orders SET status = 'ACCEPTED', version = version + 1 WHERE id = :oid;
INSERT INTO bench_history (order_id, version, status) VALUES (:oid, 2, 'ACCEPTED');
COMMIT;
BEGIN;
INSERT INTO bench_inbox (order_id, seq, status) VALUES (:oid, 2, 'PRINTING');
UPDATE bench_orders SET status = 'PRINTING', version = version + 1 WHERE id = :oid;
INSERT INTO bench_history (order_id, version, status) VALUES (:oid, 3, 'PRINTING');
COMMIT;
BEGIN;
INSERT INTO bench_inbox (order_id, seq, status) VALUES (:oid, 3, 'POST_PROCESSING');
UPDATE bench_orders SET status = 'POST_PROCESSING', version = version + 1 WHERE id = :oid;
INSERT INTO bench_history (order_id, version, status) VALUES (:oid, 4, 'POST_PROCESSING');
COMMIT;
BEGIN;
INSERT INTO bench_inbox (order_id, seq, status) VALUES (:oid, 4, 'QUALITY_CHECK');
UPDATE bench_orders SET status = 'QUALITY_CHECK', version = version + 1 WHERE id = :oid;
INSERT INTO bench_history (order_id, version, status) VALUES (:oid, 5, 'QUALITY_CHECK');
COMMIT;
BEGIN;
INSERT INTO bench_inbox (order_id, seq, status) VALUES (:oid, 5, 'READY');
UPDATE bench_orders SET status = 'READY', version = version + 1 WHERE id = :oid;
INSERT INTO bench_history (order_id, version, status) VALUES (:oid, 6, 'READY');
COMMIT;
BEGIN;
INSERT INTO bench_inbox (order_id, seq, status) VALUES (:oid, 6, 'SHIPPED');
UPDATE bench_orders SET status = 'SHIPPED', version = version + 1 WHERE id = :oid;
INSERT INTO bench_history (order_id, version, status) VALUES (:oid, 7, 'SHIPPED');
COMMIT;
