//! What a service's router is built from.

use std::sync::Arc;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{auth::Verifier, config::Settings};

/// Everything a service needs to serve requests.
#[derive(Clone)]
pub struct ServiceContext {
    /// The service's database, as the role under row-level security.
    pub pool: PgPool,
    /// Verifies the callers' access tokens.
    pub verifier: Arc<Verifier>,
    /// The process's settings.
    pub settings: Settings,
    /// Cancelled when the process stops: what a router starts in the background (the live
    /// POS feed) ends with it.
    pub shutdown: CancellationToken,
}

impl ServiceContext {
    /// A verifier of the tokens identity issues, with keys from `settings.jwks_url`.
    pub fn verifier(settings: &Settings) -> Arc<Verifier> {
        Arc::new(Verifier::new(
            &settings.token_issuer,
            &settings.token_audience,
            crate::auth::JwksUrl::new(&settings.jwks_url),
        ))
    }
}
