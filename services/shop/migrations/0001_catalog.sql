-- The product catalog: 12,000 printable products, seeded DETERMINISTICALLY (no random()):
-- every attribute is a pure function of the row number g, so every database built from this
-- migration holds exactly the same rows (tests and benchmarks can rely on it).

CREATE TABLE products (
    id               uuid        PRIMARY KEY,
    sku              text        NOT NULL UNIQUE,
    -- Byte-wise collation: `sort=name` orders the same way everywhere, whatever the server locale.
    name             text        COLLATE "C" NOT NULL,
    description      text        NOT NULL,
    category         text        NOT NULL CHECK (category IN (
                         'home', 'kitchen', 'garden', 'toys', 'office', 'tools', 'cosplay',
                         'miniatures', 'replacement-parts', 'jewelry')),
    material         text        NOT NULL CHECK (material IN ('PLA', 'PETG', 'ABS', 'TPU', 'RESIN')),
    shape            text        NOT NULL CHECK (shape IN ('box', 'cylinder')),
    -- Default dimensions in mm: width/depth/height for a box, diameter/height for a cylinder.
    width_mm         double precision,
    depth_mm         double precision,
    height_mm        double precision NOT NULL CHECK (height_mm BETWEEN 10 AND 150),
    diameter_mm      double precision,
    base_price_cents bigint      NOT NULL CHECK (base_price_cents > 0),
    created_at       timestamptz NOT NULL,
    -- Full-text document: the name weighs more than the description in relevance ranking.
    search           tsvector    GENERATED ALWAYS AS (
                         setweight(to_tsvector('english', name), 'A') ||
                         setweight(to_tsvector('english', description), 'B')) STORED,
    CHECK (
        (shape = 'box' AND width_mm BETWEEN 10 AND 150 AND depth_mm BETWEEN 10 AND 150
            AND diameter_mm IS NULL)
        OR (shape = 'cylinder' AND diameter_mm BETWEEN 10 AND 150
            AND width_mm IS NULL AND depth_mm IS NULL)
    )
);

INSERT INTO products (id, sku, name, description, category, material, shape,
                      width_mm, depth_mm, height_mm, diameter_mm, base_price_cents, created_at)
SELECT
    md5('printflow-product-' || g)::uuid,
    'PF-' || lpad(g::text, 5, '0'),
    adj || ' ' || noun || ' Mk ' || mk,
    'A ' || lower(adj) || ' ' || lower(noun) || ' for ' || context || ', ' || feature
        || '. Prints well in ' || material || '.',
    category,
    material,
    shape,
    CASE WHEN shape = 'box' THEN 10 + (g * 37) % 141 END,
    CASE WHEN shape = 'box' THEN 10 + (g * 53) % 141 END,
    10 + (g * 71) % 141,
    CASE WHEN shape = 'cylinder' THEN 10 + (g * 29) % 141 END,
    299 + (g * 7919) % 9701,
    timestamptz '2024-01-01 00:00:00+00' + g * interval '17 minutes'
FROM (
    SELECT
        g,
        adjectives[1 + g % 20] AS adj,
        nouns[1 + (g / 20) % 30] AS noun,
        -- 20 adjectives x 30 nouns x 20 marks: every name is unique.
        1 + g / 600 AS mk,
        categories[1 + ((g / 20) % 30) / 3] AS category,
        contexts[1 + ((g / 20) % 30) / 3] AS context,
        features[1 + (g * 7) % 12] AS feature,
        materials[1 + (g * 3 + g / 60) % 5] AS material,
        shapes[1 + (g / 20) % 30] AS shape
    FROM generate_series(0, 11999) AS g,
    LATERAL (SELECT
        ARRAY['Hexagonal', 'Modular', 'Compact', 'Rugged', 'Slim', 'Stackable', 'Foldable',
              'Twisted', 'Minimal', 'Vintage', 'Geometric', 'Curved', 'Ribbed', 'Lattice',
              'Spiral', 'Chunky', 'Nordic', 'Industrial', 'Classic', 'Sleek'] AS adjectives,
        -- Three nouns per category, in category order.
        ARRAY['Coaster', 'Wall Hook', 'Lamp Shade',
              'Spice Rack', 'Cookie Cutter', 'Bag Clip',
              'Planter', 'Plant Label', 'Hose Guide',
              'Fidget Spinner', 'Puzzle Cube', 'Toy Car',
              'Pen Holder', 'Cable Organizer', 'Desk Tray',
              'Drill Guide', 'Bit Holder', 'Clamp Jaw',
              'Helmet Visor', 'Armor Buckle', 'Prop Dagger',
              'Dragon Figure', 'Terrain Tile', 'Dice Tower',
              'Knob', 'Hinge', 'Bracket',
              'Pendant', 'Ring', 'Earring'] AS nouns,
        ARRAY['cylinder', 'box', 'cylinder',
              'box', 'box', 'box',
              'cylinder', 'box', 'box',
              'cylinder', 'box', 'box',
              'cylinder', 'box', 'box',
              'box', 'box', 'box',
              'box', 'box', 'box',
              'cylinder', 'box', 'box',
              'cylinder', 'box', 'box',
              'box', 'cylinder', 'cylinder'] AS shapes,
        ARRAY['home', 'kitchen', 'garden', 'toys', 'office', 'tools', 'cosplay',
              'miniatures', 'replacement-parts', 'jewelry'] AS categories,
        ARRAY['the living room', 'the kitchen counter', 'the balcony garden', 'playtime',
              'a tidy desk', 'the workshop', 'convention costumes', 'tabletop gaming',
              'fixing household appliances', 'everyday wear'] AS contexts,
        ARRAY['with rounded edges', 'with a snap fit', 'wall mountable', 'easy to clean',
              'with chamfered corners', 'needs no supports', 'with a textured finish',
              'lightweight and sturdy', 'with hidden screw holes', 'with a matte look',
              'fits standard sizes', 'with reinforced walls'] AS features,
        ARRAY['PLA', 'PETG', 'ABS', 'TPU', 'RESIN'] AS materials
    ) AS words
) AS seeded;

-- Built after the seed, in bulk: an index created before a bulk insert would leave every GIN
-- entry in the pending list (fastupdate), which each search then scans linearly. The catalog
-- is read-mostly, so later writes go straight into the index too.
CREATE INDEX products_search_idx ON products USING gin (search) WITH (fastupdate = off);
-- Filters and sorts; every sort ends with id so paging is stable.
CREATE INDEX products_category_idx ON products (category, base_price_cents, id);
CREATE INDEX products_material_idx ON products (material);
CREATE INDEX products_price_idx ON products (base_price_cents, id);
CREATE INDEX products_name_idx ON products (name, id);
CREATE INDEX products_created_idx ON products (created_at DESC, id);

ANALYZE products;
