-- Identity: tenants (retail chains), their stores and users, roles, login throttling,
-- refresh-token families, and the keys that sign access tokens.

-- Login names the tenant by slug before anyone is authenticated, so this table is
-- readable without a tenant set; it holds no secrets.
CREATE TABLE tenants (
    id         UUID PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE stores (
    id         UUID PRIMARY KEY,
    tenant_id  UUID NOT NULL REFERENCES tenants (id),
    code       TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 32),
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, code)
);

CREATE TABLE users (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL REFERENCES tenants (id),
    email           TEXT NOT NULL CHECK (email = lower(email)),
    name            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    roles           TEXT[] NOT NULL,
    -- NULL: the user's roles apply to every store; otherwise to these only.
    store_ids       UUID[],
    active          BOOLEAN NOT NULL DEFAULT true,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, email)
);

-- Refresh tokens are stored as SHA-256 hashes. Each login starts a family; every use
-- rotates to a new token of the family. A used token presented again means it was
-- copied: the family is revoked.
CREATE TABLE refresh_tokens (
    token_hash  BYTEA PRIMARY KEY,
    tenant_id   UUID NOT NULL REFERENCES tenants (id),
    family_id   UUID NOT NULL,
    user_id     UUID NOT NULL REFERENCES users (id),
    issued_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

SELECT isolate_tenants('stores');
SELECT isolate_tenants('users');
SELECT isolate_tenants('refresh_tokens');

-- Failed logins per client address, across tenants: one address guessing passwords
-- for many users is slowed down even though no single user is locked.
CREATE TABLE login_failures_by_ip (
    ip           TEXT PRIMARY KEY,
    window_start TIMESTAMPTZ NOT NULL,
    failures     INTEGER NOT NULL
);

-- Ed25519 keys signing access tokens. A new key is published in the JWKS at once but
-- signs only from `signs_from`, after every verifier may have refreshed its key set;
-- a superseded key stays published until the tokens it signed have expired.
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    private_pkcs8 BYTEA NOT NULL,
    public_key   BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    signs_from   TIMESTAMPTZ NOT NULL,
    retired_at   TIMESTAMPTZ
);
-- Handlers read signing keys; only the owner role (the CLI) writes them.
REVOKE INSERT, UPDATE, DELETE ON signing_keys FROM bazaar_app;
