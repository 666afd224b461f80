-- Goods sent back to a vendor leave stock as their own kind of movement.
ALTER TABLE stock_movements DROP CONSTRAINT stock_movements_kind_check;
ALTER TABLE stock_movements ADD CONSTRAINT stock_movements_kind_check CHECK (kind IN (
    'receipt', 'sale', 'return', 'adjustment', 'transfer_out', 'transfer_in',
    'count_correction', 'purchase_return'));
