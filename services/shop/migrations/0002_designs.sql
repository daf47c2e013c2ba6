-- The 3D design editor: a mutable draft per design, a log of every edit operation, a log of
-- every save attempt, and the immutable saved versions (each pointing to one model file).

CREATE TABLE designs (
    id          uuid        PRIMARY KEY,
    product_id  uuid        NOT NULL REFERENCES products (id),
    -- The draft's parameters (shape, dimensions, scale, material, colour, engraving) as JSON.
    parameters  jsonb       NOT NULL,
    -- Bumped by every successful edit request.
    revision    integer     NOT NULL DEFAULT 1 CHECK (revision >= 1),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX designs_product_idx ON designs (product_id);

-- Every edit operation ever sent, accepted or not: the "work on the 3D schema" trail.
CREATE TABLE design_edits (
    id          bigserial   PRIMARY KEY,
    design_id   uuid        NOT NULL REFERENCES designs (id),
    -- One id per edit request, so the operations of a request can be told apart.
    batch_id    uuid        NOT NULL,
    -- Position of the operation in its request (`operations[op_index]`).
    op_index    integer     NOT NULL CHECK (op_index >= 0),
    -- The design revision after the request (accepted) or the unchanged revision (rejected).
    revision    integer     NOT NULL,
    op          jsonb       NOT NULL,
    -- True when the operation was applied to the draft.
    accepted    boolean     NOT NULL,
    reason      text,
    at          timestamptz NOT NULL DEFAULT now(),
    CHECK (accepted OR reason IS NOT NULL)
);

CREATE INDEX design_edits_design_idx ON design_edits (design_id, id);

-- Saved, immutable versions. The model file is written (atomically) BEFORE the row is inserted,
-- so a row never points to a file that was not fully written.
CREATE TABLE design_versions (
    design_id               uuid             NOT NULL REFERENCES designs (id),
    version                 integer          NOT NULL CHECK (version >= 1),
    -- The draft revision this version was saved from.
    design_revision         integer          NOT NULL,
    parameters              jsonb            NOT NULL,
    sha256                  text             NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes              bigint           NOT NULL CHECK (size_bytes > 0),
    triangle_count          integer          NOT NULL CHECK (triangle_count > 0),
    volume_mm3              double precision NOT NULL CHECK (volume_mm3 > 0),
    bbox_x_mm               double precision NOT NULL,
    bbox_y_mm               double precision NOT NULL,
    bbox_z_mm               double precision NOT NULL,
    material_grams          double precision NOT NULL,
    estimated_print_seconds bigint           NOT NULL,
    material_cost_cents     bigint           NOT NULL,
    unit_price_cents        bigint           NOT NULL,
    storage_key             text             NOT NULL,
    created_at              timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (design_id, version)
);

-- A saved version is what an order prints: it must never change or disappear underneath it.
CREATE FUNCTION design_versions_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'design_versions rows are immutable (% rejected)', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER design_versions_no_update_delete
    BEFORE UPDATE OR DELETE ON design_versions
    FOR EACH ROW EXECUTE FUNCTION design_versions_immutable();

CREATE TRIGGER design_versions_no_truncate
    BEFORE TRUNCATE ON design_versions
    FOR EACH STATEMENT EXECUTE FUNCTION design_versions_immutable();

-- Every save attempt and its outcome (the "results of save operations").
CREATE TABLE design_saves (
    id           bigserial   PRIMARY KEY,
    design_id    uuid        NOT NULL REFERENCES designs (id),
    -- The draft revision the attempt tried to save.
    revision     integer     NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    outcome      text        NOT NULL CHECK (outcome IN ('ok', 'failed')),
    reason       text,
    version      integer,
    CHECK ((outcome = 'ok') = (version IS NOT NULL)),
    CHECK (outcome = 'ok' OR reason IS NOT NULL),
    FOREIGN KEY (design_id, version) REFERENCES design_versions (design_id, version)
);

CREATE INDEX design_saves_design_idx ON design_saves (design_id, id);
