-- Designs and orders belong to the customer who created them: the `sub` of their access token
-- (docs/security.md). Designs created before authentication have no owner; only staff see them.
ALTER TABLE designs ADD COLUMN IF NOT EXISTS owner_subject TEXT;
CREATE INDEX IF NOT EXISTS designs_owner_subject ON designs (owner_subject);

-- Which customer placed which order through the Shop, written before CRM is asked to record it,
-- so a customer's look-ups are answered for their own orders only.
CREATE TABLE IF NOT EXISTS order_owners (
    order_id      UUID PRIMARY KEY,
    owner_subject TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
