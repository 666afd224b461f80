-- What a tax invoice must print and GST returns need: who supplied (the store's GSTIN and
-- state), the buyer's GSTIN (which makes the sale B2B) and each line's HSN code, frozen
-- as they were at the sale.
ALTER TABLE invoices
    ADD COLUMN supplier_gstin TEXT,
    ADD COLUMN supplier_state TEXT,
    ADD COLUMN customer_gstin TEXT;

UPDATE invoices i SET supplier_gstin = s.gstin, supplier_state = s.state_code
FROM stores s WHERE s.tenant_id = i.tenant_id AND s.id = i.store_id;

UPDATE invoices i SET customer_gstin = c.gstin
FROM customers c WHERE c.tenant_id = i.tenant_id AND c.id = i.customer_id;

ALTER TABLE invoice_lines ADD COLUMN hsn_code TEXT;

UPDATE invoice_lines l SET hsn_code = p.hsn_code
FROM products p WHERE p.tenant_id = l.tenant_id AND p.id = l.product_id;
