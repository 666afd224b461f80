-- What the invoiced goods cost when they were received (the order's price on the goods
-- receipt): finance clears goods received not invoiced at this value and books the
-- difference from the vendor's price as purchase price variance.
ALTER TABLE invoice_lines ADD COLUMN received_value_minor BIGINT;
