-- Invoice and return ids are chosen by the terminal. Unique across all tenants, an id one
-- tenant had used was refused to another ("taken": telling it the id exists elsewhere).
-- They are unique per tenant instead, and every reference to them carries the tenant.
ALTER TABLE invoice_lines DROP CONSTRAINT invoice_lines_invoice_id_fkey;
ALTER TABLE invoice_payments DROP CONSTRAINT invoice_payments_invoice_id_fkey;
ALTER TABLE invoice_exceptions DROP CONSTRAINT invoice_exceptions_invoice_id_fkey;
ALTER TABLE sales_returns DROP CONSTRAINT sales_returns_invoice_id_fkey;
ALTER TABLE sales_return_lines DROP CONSTRAINT sales_return_lines_return_id_fkey;

ALTER TABLE invoices DROP CONSTRAINT invoices_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE sales_returns DROP CONSTRAINT sales_returns_pkey, ADD PRIMARY KEY (tenant_id, id);

ALTER TABLE invoice_lines DROP CONSTRAINT invoice_lines_pkey,
    ADD PRIMARY KEY (tenant_id, invoice_id, line_no),
    ADD FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id);
ALTER TABLE invoice_payments DROP CONSTRAINT invoice_payments_pkey,
    ADD PRIMARY KEY (tenant_id, invoice_id, payment_no),
    ADD FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id);
ALTER TABLE invoice_exceptions DROP CONSTRAINT invoice_exceptions_pkey,
    ADD PRIMARY KEY (tenant_id, invoice_id, seq),
    ADD FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id);
ALTER TABLE sales_returns ADD FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id);
ALTER TABLE sales_return_lines DROP CONSTRAINT sales_return_lines_pkey,
    ADD PRIMARY KEY (tenant_id, return_id, line_no),
    ADD FOREIGN KEY (tenant_id, return_id) REFERENCES sales_returns (tenant_id, id);
