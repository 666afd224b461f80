-- Held-bill lines are now bounded (SKU and barcode 64 characters, quantity 24). A bill
-- held before that with a longer one could not be read back (resumed or listed); it is
-- expired, as the day's close would have done, instead of failing every listing. Every
-- tenant's rows: row-level security is lifted for the owner for this one statement.
ALTER TABLE held_bills NO FORCE ROW LEVEL SECURITY;
UPDATE held_bills SET status = 'expired'
WHERE status = 'held' AND EXISTS (
    SELECT FROM jsonb_array_elements(lines) AS line
    WHERE length(line->>'sku') > 64
       OR length(line->>'barcode') > 64
       OR length(line->>'quantity') > 24
);
ALTER TABLE held_bills FORCE ROW LEVEL SECURITY;
