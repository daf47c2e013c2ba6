-- Orders CRM cancelled before their order.created reached MES (the two events travel on
-- different queues, so a cancellation can overtake its order). Intake creates such an order's
-- job and cancels it at once, so every order still has exactly one job and one history.
CREATE TABLE cancelled_orders (
    order_id      UUID        PRIMARY KEY,
    cancelled_at  TIMESTAMPTZ NOT NULL,
    received_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
