-- A stand-in service migration for the runtime's tests.
CREATE TABLE ticks (
    id   BIGSERIAL PRIMARY KEY,
    note TEXT NOT NULL
);
