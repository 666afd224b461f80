-- A fixture migration: proves prepare() migrates a fresh database exactly once.
CREATE TABLE ledger_note (
    id BIGSERIAL PRIMARY KEY,
    body TEXT NOT NULL
);
