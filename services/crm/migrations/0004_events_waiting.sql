-- Whether MES events wait in the inbox (`status_events`, outcome `pending`) for an earlier one:
-- kept on the order row, which every event's transaction locks, so the status-event fast path
-- (services/crm/src/status_events/apply.rs) sees it in the row it locks, fresh, rather than in
-- an inbox read whose snapshot may predate a concurrent event's commit. Set when an event is
-- stored to wait; recomputed whenever the general path has run.
ALTER TABLE orders ADD COLUMN events_waiting BOOLEAN NOT NULL DEFAULT false;

UPDATE orders o SET events_waiting = true
WHERE EXISTS (SELECT 1 FROM status_events e WHERE e.order_id = o.id AND e.outcome = 'pending');
