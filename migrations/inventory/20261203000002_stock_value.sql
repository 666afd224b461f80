-- Each item's book value in whole minor units, and each movement's exact share of it.
-- Stock was valued as on hand times the average, which left paise behind when the last
-- unit went out and never posted the revaluation of negative stock a receipt covers;
-- the value is now kept, and every movement carries what it changed, for the books.
ALTER TABLE stock_levels ADD COLUMN value_minor BIGINT NOT NULL DEFAULT 0;
UPDATE stock_levels SET value_minor = round(on_hand * average_cost_minor)::bigint;
ALTER TABLE stock_movements ADD COLUMN value_minor BIGINT;
