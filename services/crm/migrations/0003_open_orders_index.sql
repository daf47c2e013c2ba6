-- The reconciler compares every order not yet in a terminal status on each run. Without this
-- index finding them scanned the whole orders table, which only grows; with it a run reads the
-- open orders alone (the predicate is the reconciler's, word for word, so the planner uses it).
CREATE INDEX orders_open_idx ON orders (id) WHERE status NOT IN ('SHIPPED', 'FAILED', 'CANCELLED');
