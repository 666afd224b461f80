-- A vendor's bank account number never travels on the topics (its events carry it
-- masked), so it cannot be derived from them: it is kept apart from the vendor row,
-- which is exactly what the vendor's events say.
CREATE TABLE vendor_bank_accounts (
    tenant_id      UUID NOT NULL,
    vendor_id      UUID PRIMARY KEY REFERENCES vendors (id),
    account_number TEXT NOT NULL
);

INSERT INTO vendor_bank_accounts (tenant_id, vendor_id, account_number)
SELECT tenant_id, id, bank_account_number FROM vendors WHERE bank_account_number IS NOT NULL;

ALTER TABLE vendors DROP COLUMN bank_account_number;

SELECT isolate_tenants('vendor_bank_accounts');
