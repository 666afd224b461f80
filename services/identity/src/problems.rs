//! Every problem code Identity answers with besides the platform's.

bazaar_platform::problem_codes! {
    /// Identity's refusals: each a stable code and the status it is answered with.
    pub enum Code {
        /// Not an email address (at most 254 characters, one `@`, a dotted domain).
        InvalidEmail = (UNPROCESSABLE_ENTITY, "invalid_email"),
        /// A password shorter than 10 or longer than 128 characters.
        WeakPassword = (UNPROCESSABLE_ENTITY, "weak_password"),
        /// A user needs at least one role.
        NoRoles = (UNPROCESSABLE_ENTITY, "no_roles"),
        /// Stores must be `"all"` or a non-empty list of store ids.
        NoStores = (UNPROCESSABLE_ENTITY, "no_stores"),
        /// Only an owner grants, revokes or changes the owner role.
        OwnerRoleReserved = (FORBIDDEN, "owner_role_reserved"),
        /// Nobody changes their own roles: no self-escalation, no self-lockout.
        OwnRoles = (FORBIDDEN, "own_roles"),
        /// A store-scoped user grants only stores they reach themselves.
        ReachBeyondOwn = (FORBIDDEN, "reach_beyond_own"),
        /// Nobody deactivates, reactivates or resets their own account.
        OwnAccount = (FORBIDDEN, "own_account"),
        /// Too many passwords are being checked at once; retry in a moment.
        Busy = (SERVICE_UNAVAILABLE, "busy"),
        /// A user with this email exists in the tenant.
        EmailTaken = (CONFLICT, "email_taken"),
        /// The tenant, email or password is wrong.
        InvalidCredentials = (UNAUTHORIZED, "invalid_credentials"),
        /// Name must be 1 to 200 characters.
        InvalidName = (UNPROCESSABLE_ENTITY, "invalid_name"),
        /// The refresh token is unknown, expired or revoked; log in again.
        InvalidRefreshToken = (UNAUTHORIZED, "invalid_refresh_token"),
        /// Code must be 1 to 32 characters and name 1 to 200.
        InvalidStore = (UNPROCESSABLE_ENTITY, "invalid_store"),
        /// Too many failed logins for this user; try again later.
        LoginLocked = (TOO_MANY_REQUESTS, "login_locked"),
        /// Identity has no token signing key yet; an operator runs `bazaar identity rotate-key`.
        NoSigningKey = (SERVICE_UNAVAILABLE, "no_signing_key"),
        /// An admin set this password: choose a new one at POST /api/v1/auth/password.
        PasswordChangeRequired = (FORBIDDEN, "password_change_required"),
        /// This refresh token was already used; every session of this login is revoked.
        RefreshTokenReused = (UNAUTHORIZED, "refresh_token_reused"),
        /// The new password must differ from the current one.
        SamePassword = (UNPROCESSABLE_ENTITY, "same_password"),
        /// A store with this code exists.
        StoreCodeTaken = (CONFLICT, "store_code_taken"),
        /// Too many failed logins from this address; try again later.
        TooManyLoginAttempts = (TOO_MANY_REQUESTS, "too_many_login_attempts"),
        /// A store id outside the tenant.
        UnknownStore = (UNPROCESSABLE_ENTITY, "unknown_store"),
    }
}
