-- What each vendor invoice bills of each receipt line, kept on the invoice's side: an
-- invoice's events are keyed by its vendor and a receipt's by its order, so the invoiced
-- quantity cannot be a counter on the receipt line that both write; it is the sum here.
CREATE TABLE invoice_allocations (
    tenant_id  UUID NOT NULL,
    -- NULL for what was billed before allocations were kept (one row per line, the sum).
    invoice_id UUID REFERENCES purchase_invoices (id),
    grn_id     UUID NOT NULL,
    line_no    INTEGER NOT NULL,
    quantity   NUMERIC(18, 3) NOT NULL CHECK (quantity > 0),
    FOREIGN KEY (grn_id, line_no) REFERENCES grn_lines (grn_id, line_no)
);
CREATE INDEX invoice_allocations_line ON invoice_allocations (tenant_id, grn_id, line_no);
CREATE INDEX invoice_allocations_invoice ON invoice_allocations (tenant_id, invoice_id);

INSERT INTO invoice_allocations (tenant_id, invoice_id, grn_id, line_no, quantity)
SELECT tenant_id, NULL, grn_id, line_no, quantity_invoiced FROM grn_lines WHERE quantity_invoiced > 0;

-- The receipt line's own guard, kept: never more billed than was received.
CREATE FUNCTION invoice_allocations_within_receipt() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT sum(a.quantity) FROM invoice_allocations a
        WHERE a.grn_id = NEW.grn_id AND a.line_no = NEW.line_no)
       > (SELECT l.quantity_received FROM grn_lines l
          WHERE l.grn_id = NEW.grn_id AND l.line_no = NEW.line_no) THEN
        RAISE EXCEPTION 'receipt % line % would be billed beyond what was received',
            NEW.grn_id, NEW.line_no USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER invoice_allocations_within_receipt AFTER INSERT ON invoice_allocations
    FOR EACH ROW EXECUTE FUNCTION invoice_allocations_within_receipt();

ALTER TABLE grn_lines DROP COLUMN quantity_invoiced;

SELECT isolate_tenants('invoice_allocations');
