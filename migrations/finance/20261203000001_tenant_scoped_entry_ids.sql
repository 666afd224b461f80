-- A manual journal entry's id is chosen by the client: unique per tenant, not across
-- tenants (another tenant's id was a 500), and the entry an entry reverses is the
-- same tenant's.
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_reverses_fkey;
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE journal_entries
    ADD FOREIGN KEY (tenant_id, reverses) REFERENCES journal_entries (tenant_id, id);
ALTER TABLE journal_lines DROP CONSTRAINT journal_lines_pkey,
    ADD PRIMARY KEY (tenant_id, entry_id, line_no);
