-- The reconciler (services/crm/src/reconcile): what an admin repaired, and the status entries a
-- repair writes (source `reconciliation`).

-- A status set by a repair is recorded like any other change, under its own source.
ALTER TABLE order_status_history DROP CONSTRAINT order_status_history_source_check;
ALTER TABLE order_status_history ADD CONSTRAINT order_status_history_source_check
    CHECK (source IN ('crm', 'mes', 'reconciliation'));

-- Every repair an admin made, shown with the order's history. Never updated or deleted.
CREATE TABLE order_repairs (
    id           BIGSERIAL   PRIMARY KEY,
    order_id     UUID        NOT NULL REFERENCES orders (id),
    -- The disagreement repaired (`order_created_not_in_mes`, `status_events_missing`, ...).
    kind         TEXT        NOT NULL,
    -- `republished`, `reapplied`, `status_set` or `acknowledged`.
    action       TEXT        NOT NULL,
    detail       TEXT        NOT NULL,
    -- The admin's username (or subject).
    repaired_by  TEXT        NOT NULL,
    repaired_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX order_repairs_order_idx ON order_repairs (order_id, id);

-- The reconciler compares orders that reached a final status recently.
CREATE INDEX orders_status_since_idx ON orders (status_since);
