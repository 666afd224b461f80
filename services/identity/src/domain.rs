//! Identity's rules, without I/O: what a valid email, password, role assignment and
//! refresh token are, and how long a user stays locked out.

use std::time::Duration;

use crate::Code;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bazaar_platform::auth::{Principal, Role, Stores};
use ring::rand::{SecureRandom, SystemRandom};
use uuid::Uuid;

/// How long an access token lives.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a refresh token lives after it is issued (each use issues a new one).
pub const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// Consecutive failures a user may have before being locked out.
pub const FREE_FAILURES: i32 = 4;
/// The longest lockout.
const MAX_LOCKOUT: Duration = Duration::from_secs(60 * 60);
/// Failed logins one client address may have per [`IP_WINDOW`].
pub const IP_FAILURE_LIMIT: i32 = 30;
/// The window of [`IP_FAILURE_LIMIT`].
pub const IP_WINDOW: Duration = Duration::from_secs(15 * 60);

/// A rule a request broke; each maps to a stable problem code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The email is not an address.
    #[error("email must look like name@example.com (at most 254 characters)")]
    InvalidEmail,
    /// The password is too short or too long.
    #[error("password must be 10 to 128 characters")]
    WeakPassword,
    /// A user needs at least one role.
    #[error("a user needs at least one role")]
    NoRoles,
    /// A store-limited user needs at least one store.
    #[error("stores must be \"all\" or a non-empty list of store ids")]
    NoStores,
    /// Only an owner may grant, revoke or change the owner role.
    #[error("only an owner may grant or change the owner role")]
    OwnerOnly,
    /// Nobody changes their own roles: no self-escalation, no self-lockout.
    #[error("you cannot change your own roles")]
    OwnRoles,
    /// A store-scoped user granted stores beyond their own, or every store.
    #[error("you can grant only stores you reach yourself")]
    ReachBeyondOwn,
    /// Nobody deactivates or resets their own account (change your password instead).
    #[error("you cannot deactivate, reactivate or reset your own account")]
    OwnAccount,
}

impl Rejection {
    /// The stable problem code.
    pub fn code(&self) -> Code {
        match self {
            Self::InvalidEmail => Code::InvalidEmail,
            Self::WeakPassword => Code::WeakPassword,
            Self::NoRoles => Code::NoRoles,
            Self::NoStores => Code::NoStores,
            Self::OwnerOnly => Code::OwnerRoleReserved,
            Self::OwnRoles => Code::OwnRoles,
            Self::ReachBeyondOwn => Code::ReachBeyondOwn,
            Self::OwnAccount => Code::OwnAccount,
        }
    }
}

/// A lowercased email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses and lowercases `raw`.
    pub fn parse(raw: &str) -> Result<Self, Rejection> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.contains(char::is_whitespace)
            && matches!(email.split_once('@'), Some((local, domain))
                if !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
                    && !domain.ends_with('.') && !domain.contains('@'));
        valid.then_some(Self(email)).ok_or(Rejection::InvalidEmail)
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a new password's length (NIST 800-63B: length, not composition rules).
pub fn check_password(password: &str) -> Result<(), Rejection> {
    (10..=128)
        .contains(&password.chars().count())
        .then_some(())
        .ok_or(Rejection::WeakPassword)
}

/// The roles and stores a user is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// Deduplicated, in a stable order.
    pub roles: Vec<Role>,
    /// `None`: every store.
    pub stores: Option<Vec<Uuid>>,
}

impl Assignment {
    /// Parses what a request asks for.
    pub fn new(mut roles: Vec<Role>, stores: Stores) -> Result<Self, Rejection> {
        roles.sort_by_key(|r| r.code());
        roles.dedup();
        if roles.is_empty() {
            return Err(Rejection::NoRoles);
        }
        let stores = match stores {
            Stores::All(_) => None,
            Stores::Only(mut ids) => {
                ids.sort();
                ids.dedup();
                if ids.is_empty() {
                    return Err(Rejection::NoStores);
                }
                Some(ids)
            }
        };
        Ok(Self { roles, stores })
    }

    /// The token claim.
    pub fn stores_claim(&self) -> Stores {
        match &self.stores {
            None => Stores::All(bazaar_platform::auth::AllStores::All),
            Some(ids) => Stores::Only(ids.clone()),
        }
    }
}

/// Whether `actor` may give `user` the assignment `after` (replacing `before`, empty for
/// a new user).
pub fn may_assign(
    actor: &Principal,
    user: Uuid,
    before: &[Role],
    after: &Assignment,
) -> Result<(), Rejection> {
    if actor.user == user {
        return Err(Rejection::OwnRoles);
    }
    let touches_owner = before.contains(&Role::Owner) || after.roles.contains(&Role::Owner);
    if touches_owner && !actor.has_any(&[Role::Owner]) {
        return Err(Rejection::OwnerOnly);
    }
    // Nobody hands out a reach wider than their own: a store-scoped admin cannot make
    // anyone an every-store user, nor add stores they do not run.
    let within_reach = match (&actor.stores, &after.stores) {
        (Stores::All(_), _) => true,
        (Stores::Only(_), None) => false,
        (Stores::Only(own), Some(granted)) => granted.iter().all(|store| own.contains(store)),
    };
    if !within_reach {
        return Err(Rejection::ReachBeyondOwn);
    }
    Ok(())
}

/// Whether `actor` may deactivate, reactivate or set the password of `user`, who holds
/// `current`: only someone who could have granted that access may take it away, so a
/// store manager's admin cannot lock out an owner or a user of another store.
pub fn may_manage(actor: &Principal, user: Uuid, current: &Assignment) -> Result<(), Rejection> {
    if actor.user == user {
        return Err(Rejection::OwnAccount);
    }
    may_assign(actor, user, &current.roles, current)
}

/// Parses a stored role name.
pub fn parse_role(name: &str) -> Option<Role> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

/// How long a user is locked out after `failures` consecutive failed logins: nothing up
/// to [`FREE_FAILURES`], then 1, 2, 4... minutes, at most an hour.
pub fn lockout(failures: i32) -> Option<Duration> {
    let over = failures - FREE_FAILURES;
    if over <= 0 {
        return None;
    }
    let minutes = 1u64 << (over - 1).min(6);
    Some(Duration::from_secs(minutes * 60).min(MAX_LOCKOUT))
}

/// An opaque refresh token: `<tenant>.<32 random bytes>`. The tenant part lets the
/// server look the token up under the tenant's row-level security.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// The tenant the token belongs to.
    pub tenant: Uuid,
    text: String,
}

impl RefreshToken {
    /// A new random token for `tenant`.
    pub fn generate(tenant: Uuid) -> Self {
        let mut secret = [0u8; 32];
        SystemRandom::new()
            .fill(&mut secret)
            .expect("the system random source works");
        Self {
            tenant,
            text: format!("{}.{}", tenant.simple(), URL_SAFE_NO_PAD.encode(secret)),
        }
    }

    /// Parses a token a client sent; `None` when it cannot be one of ours.
    pub fn parse(text: &str) -> Option<Self> {
        let (tenant, secret) = text.split_once('.')?;
        let tenant = Uuid::try_parse(tenant).ok()?;
        let secret = URL_SAFE_NO_PAD.decode(secret).ok()?;
        (secret.len() == 32).then(|| Self {
            tenant,
            text: text.to_owned(),
        })
    }

    /// What the client keeps.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// What the server keeps: SHA-256 of the token.
    pub fn hash(&self) -> Vec<u8> {
        ring::digest::digest(&ring::digest::SHA256, self.text.as_bytes())
            .as_ref()
            .to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: Vec<Role>) -> Principal {
        Principal {
            user: Uuid::new_v4(),
            tenant: Uuid::new_v4(),
            stores: Stores::All(bazaar_platform::auth::AllStores::All),
            roles,
        }
    }

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(
            Email::parse(" Asha@Shop.IN ").unwrap().as_str(),
            "asha@shop.in"
        );
        for bad in [
            "",
            "asha",
            "@shop.in",
            "asha@shop",
            "asha@.in",
            "a sha@shop.in",
        ] {
            assert_eq!(Email::parse(bad), Err(Rejection::InvalidEmail), "{bad:?}");
        }
    }

    #[test]
    fn passwords_need_ten_characters() {
        assert_eq!(check_password("short"), Err(Rejection::WeakPassword));
        assert!(check_password("long enough").is_ok());
        assert_eq!(
            check_password(&"x".repeat(129)),
            Err(Rejection::WeakPassword)
        );
    }

    #[test]
    fn assignments_need_roles_and_stores() {
        let all = Stores::All(bazaar_platform::auth::AllStores::All);
        assert_eq!(
            Assignment::new(vec![], all.clone()),
            Err(Rejection::NoRoles)
        );
        assert_eq!(
            Assignment::new(vec![Role::Cashier], Stores::Only(vec![])),
            Err(Rejection::NoStores)
        );
        let store = Uuid::new_v4();
        let assignment = Assignment::new(
            vec![Role::Cashier, Role::Cashier],
            Stores::Only(vec![store, store]),
        )
        .unwrap();
        assert_eq!(assignment.roles, vec![Role::Cashier]);
        assert_eq!(assignment.stores, Some(vec![store]));
    }

    #[test]
    fn only_owners_touch_the_owner_role_and_nobody_their_own() {
        let admin = principal(vec![Role::Admin]);
        let owner = principal(vec![Role::Owner]);
        let all = Stores::All(bazaar_platform::auth::AllStores::All);
        let to_owner = Assignment::new(vec![Role::Owner], all.clone()).unwrap();
        let to_cashier = Assignment::new(vec![Role::Cashier], all).unwrap();
        let someone = Uuid::new_v4();
        assert_eq!(
            may_assign(&admin, someone, &[], &to_owner),
            Err(Rejection::OwnerOnly)
        );
        assert_eq!(
            may_assign(&admin, someone, &[Role::Owner], &to_cashier),
            Err(Rejection::OwnerOnly)
        );
        assert!(may_assign(&admin, someone, &[Role::Cashier], &to_cashier).is_ok());
        assert!(may_assign(&owner, someone, &[], &to_owner).is_ok());
        assert_eq!(
            may_assign(&owner, owner.user, &[Role::Owner], &to_cashier),
            Err(Rejection::OwnRoles)
        );
    }

    #[test]
    fn nobody_grants_a_reach_wider_than_their_own() {
        let (mine, other) = (Uuid::new_v4(), Uuid::new_v4());
        let store_admin = Principal {
            stores: Stores::Only(vec![mine]),
            ..principal(vec![Role::Admin])
        };
        let grant = |stores| Assignment::new(vec![Role::Cashier], stores).unwrap();
        let someone = Uuid::new_v4();
        let all = Stores::All(bazaar_platform::auth::AllStores::All);
        for wider in [grant(all.clone()), grant(Stores::Only(vec![mine, other]))] {
            assert_eq!(
                may_assign(&store_admin, someone, &[Role::Cashier], &wider),
                Err(Rejection::ReachBeyondOwn)
            );
        }
        assert!(may_assign(&store_admin, someone, &[], &grant(Stores::Only(vec![mine]))).is_ok());
        assert!(may_assign(&principal(vec![Role::Admin]), someone, &[], &grant(all)).is_ok());
    }

    #[test]
    fn lockout_doubles_and_is_capped() {
        assert_eq!(lockout(FREE_FAILURES), None);
        assert_eq!(lockout(FREE_FAILURES + 1), Some(Duration::from_secs(60)));
        assert_eq!(lockout(FREE_FAILURES + 2), Some(Duration::from_secs(120)));
        assert_eq!(lockout(FREE_FAILURES + 40), Some(MAX_LOCKOUT));
    }

    #[test]
    fn role_names_round_trip() {
        for &role in Role::ALL {
            assert_eq!(parse_role(role.code()), Some(role));
        }
        assert_eq!(parse_role("superuser"), None);
    }

    #[test]
    fn refresh_tokens_carry_their_tenant() {
        let tenant = Uuid::new_v4();
        let token = RefreshToken::generate(tenant);
        let parsed = RefreshToken::parse(token.as_str()).unwrap();
        assert_eq!(parsed.tenant, tenant);
        assert_eq!(parsed.hash(), token.hash());
        assert_ne!(RefreshToken::generate(tenant).hash(), token.hash());
        for bad in ["", "x.y", &format!("{}.short", tenant.simple())] {
            assert!(RefreshToken::parse(bad).is_none(), "{bad:?}");
        }
    }
}
