-- Offboarding: a deactivated user cannot log in or refresh (active = false, with when);
-- a password set by an admin must be changed by its user before any token is issued.
ALTER TABLE users ADD COLUMN deactivated_at TIMESTAMPTZ,
    ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT false;
