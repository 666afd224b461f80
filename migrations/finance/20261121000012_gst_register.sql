-- The GST register: every tax document the tenant issued or received, with its tax by
-- line, kept by finance-ledger in the transaction that posts the same event. GSTR-1 and
-- GSTR-3B are read from it; the journal has the amounts but not the HSN codes, buyers'
-- GSTINs and places of supply the returns are laid out by.
CREATE TABLE gst_documents (
    tenant_id          UUID NOT NULL,
    -- The invoice, return or vendor invoice it records.
    id                 UUID NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('invoice', 'credit_note', 'purchase_invoice', 'debit_note')),
    number             TEXT NOT NULL,
    document_date      DATE NOT NULL,
    -- Our registration: the issuing store's GSTIN (outward); unknown for inward, where
    -- the state below picks the GSTIN.
    gstin              TEXT,
    -- Our state: the issuing store's (outward), where the goods arrived (inward).
    state_code         TEXT,
    -- The buyer's GSTIN on an outward document; present makes it B2B.
    counterparty_gstin TEXT,
    place_of_supply    TEXT,
    -- A credit note's invoice.
    original_id        UUID,
    value_minor        BIGINT NOT NULL,
    cancelled          BOOLEAN NOT NULL DEFAULT false,
    source_event_id    UUID NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX gst_documents_by_month ON gst_documents (tenant_id, document_date);

CREATE TABLE gst_document_lines (
    tenant_id     UUID NOT NULL,
    document_id   UUID NOT NULL,
    line_no       INTEGER NOT NULL,
    hsn_code      TEXT,
    rate_bp       INTEGER NOT NULL,
    quantity      NUMERIC NOT NULL,
    taxable_minor BIGINT NOT NULL,
    cgst_minor    BIGINT NOT NULL,
    sgst_minor    BIGINT NOT NULL,
    igst_minor    BIGINT NOT NULL,
    cess_minor    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, document_id, line_no),
    FOREIGN KEY (tenant_id, document_id) REFERENCES gst_documents (tenant_id, id)
);

SELECT isolate_tenants('gst_documents');
SELECT isolate_tenants('gst_document_lines');
