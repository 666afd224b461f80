-- Finance: each tenant's chart of accounts, the double-entry journal posted from the
-- topics and by accountants, and closed periods. Money is BIGINT minor units.

CREATE TABLE accounts (
    tenant_id  UUID NOT NULL,
    code       TEXT NOT NULL CHECK (code ~ '^[0-9]{4,6}$'),
    name       TEXT NOT NULL CHECK (length(trim(name)) BETWEEN 1 AND 120),
    kind       TEXT NOT NULL CHECK (kind IN ('asset', 'liability', 'equity', 'income', 'expense')),
    -- The role an account plays for the posting rules (cash, sales, output_cgst, ...);
    -- NULL for accounts a tenant added.
    role       TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, code),
    UNIQUE (tenant_id, role)
);

CREATE TABLE journal_entries (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL,
    posting_date    DATE NOT NULL,
    narration       TEXT NOT NULL CHECK (length(trim(narration)) BETWEEN 1 AND 500),
    -- What it was posted from: an event type, or `manual`.
    source          TEXT NOT NULL,
    -- The event it was posted from: one entry per event, so a redelivery posts nothing.
    source_event_id UUID,
    -- The business document: an invoice, credit note or GRN number.
    document        TEXT,
    currency        TEXT NOT NULL,
    -- The entry this one reverses, for corrections and voids.
    reverses        UUID REFERENCES journal_entries (id),
    posted_by       UUID,
    posted_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, source_event_id),
    UNIQUE (id, tenant_id)
);
CREATE INDEX journal_entries_date ON journal_entries (tenant_id, posting_date);
CREATE INDEX journal_entries_document ON journal_entries (tenant_id, document);

CREATE TABLE journal_lines (
    entry_id     UUID NOT NULL,
    line_no      INTEGER NOT NULL CHECK (line_no > 0),
    tenant_id    UUID NOT NULL,
    account_code TEXT NOT NULL,
    -- The store dimension; NULL is the head office.
    store_id     UUID,
    debit_minor  BIGINT NOT NULL DEFAULT 0 CHECK (debit_minor >= 0),
    credit_minor BIGINT NOT NULL DEFAULT 0 CHECK (credit_minor >= 0),
    PRIMARY KEY (entry_id, line_no),
    -- A line is a debit or a credit, never both and never nothing.
    CHECK ((debit_minor > 0) <> (credit_minor > 0)),
    FOREIGN KEY (entry_id, tenant_id) REFERENCES journal_entries (id, tenant_id),
    FOREIGN KEY (tenant_id, account_code) REFERENCES accounts (tenant_id, code)
);
CREATE INDEX journal_lines_account ON journal_lines (tenant_id, account_code);

-- Every entry balances, checked at commit (the domain checks first; this is the wall an
-- unbalanced entry cannot pass, whoever writes it).
CREATE FUNCTION assert_entry_balances(entry UUID) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    debits BIGINT;
    credits BIGINT;
    lines INTEGER;
BEGIN
    SELECT coalesce(sum(debit_minor), 0), coalesce(sum(credit_minor), 0), count(*)
      INTO debits, credits, lines
      FROM journal_lines WHERE entry_id = entry;
    IF lines < 2 OR debits <> credits THEN
        RAISE EXCEPTION 'journal entry % does not balance: % lines, debits %, credits %',
            entry, lines, debits, credits
            USING ERRCODE = 'check_violation', CONSTRAINT = 'entry_balances';
    END IF;
END
$$;
CREATE FUNCTION check_entry_balances() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM assert_entry_balances(NEW.id);
    RETURN NULL;
END
$$;
CREATE FUNCTION check_entry_lines_balance() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM assert_entry_balances(NEW.entry_id);
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER entry_balances AFTER INSERT ON journal_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_entry_balances();
CREATE CONSTRAINT TRIGGER entry_lines_balance AFTER INSERT ON journal_lines
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_entry_lines_balance();

-- A month whose books are closed: nothing more is posted into it.
CREATE TABLE closed_periods (
    tenant_id UUID NOT NULL,
    -- The first day of the month.
    month     DATE NOT NULL CHECK (extract(day FROM month) = 1),
    closed_by UUID NOT NULL,
    closed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, month)
);

-- Entries are never edited or deleted: corrections are reversing entries.
CREATE FUNCTION journal_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the journal is append-only: post a reversing entry instead'
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER journal_lines_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON journal_lines
    FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only();

-- Nothing is posted into a closed month: the domain checks, and so does the database.
CREATE FUNCTION refuse_closed_period() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM closed_periods
                WHERE tenant_id = NEW.tenant_id
                  AND month = date_trunc('month', NEW.posting_date)::date) THEN
        RAISE EXCEPTION 'the period of % is closed', NEW.posting_date
            USING ERRCODE = 'check_violation', CONSTRAINT = 'period_closed';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER journal_entries_open_period BEFORE INSERT ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION refuse_closed_period();

SELECT isolate_tenants('accounts');
SELECT isolate_tenants('journal_entries');
SELECT isolate_tenants('journal_lines');
SELECT isolate_tenants('closed_periods');
-- The journal is never edited, not even by the handlers' role; closed periods stay closed.
REVOKE UPDATE, DELETE, TRUNCATE ON journal_entries, journal_lines FROM bazaar_app;
REVOKE UPDATE, DELETE, TRUNCATE ON closed_periods FROM bazaar_app;
