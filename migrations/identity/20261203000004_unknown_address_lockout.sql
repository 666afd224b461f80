-- Failed logins to addresses no user of the tenant has, counted and locked out exactly
-- like a user's: a locked-out address answers 429 login_locked whether or not someone
-- owns it, so the lockout no longer tells an attacker which addresses are real.
CREATE TABLE unknown_login_failures (
    tenant_id     UUID NOT NULL,
    email         TEXT NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, email)
);
SELECT isolate_tenants('unknown_login_failures');
