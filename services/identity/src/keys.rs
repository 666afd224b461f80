//! The Ed25519 keys that sign access tokens, and their rotation without downtime.
//!
//! A new key is published in the JWKS at once but signs only after `publish_delay`,
//! longer than a verifier's refresh cooldown, so no verifier meets a token whose key it
//! cannot fetch. A superseded key stays published until every token it signed has
//! expired, then it is retired.

use std::{future::Future, pin::Pin, time::Duration};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bazaar_platform::auth::{Claims, KeySource};
use jsonwebtoken::{jwk::JwkSet, Algorithm, EncodingKey, Header};
use ring::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use serde_json::json;
use sqlx::PgPool;

use crate::domain::ACCESS_TOKEN_TTL;

/// How long a new key is published before it signs, by default: twice the verifiers'
/// refresh cooldown.
pub const PUBLISH_DELAY: Duration = Duration::from_secs(60);

/// The key that signs tokens now.
pub struct Signer {
    kid: String,
    key: EncodingKey,
}

impl Signer {
    /// Signs `claims` as a JWT with this key's `kid`.
    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key)
    }
}

/// The newest key whose signing time has come, if any.
pub async fn signer(pool: &PgPool) -> Result<Option<Signer>, sqlx::Error> {
    let row: Option<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT kid, private_pkcs8 FROM signing_keys \
         WHERE retired_at IS NULL AND signs_from <= now() \
         ORDER BY signs_from DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(kid, pkcs8)| Signer {
        kid,
        key: EncodingKey::from_ed_der(&pkcs8),
    }))
}

/// The published public keys, as a JWK set.
pub async fn jwks(pool: &PgPool) -> Result<serde_json::Value, sqlx::Error> {
    let keys: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT kid, public_key FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at",
    )
    .fetch_all(pool)
    .await?;
    let keys: Vec<_> = keys
        .into_iter()
        .map(|(kid, public)| {
            json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                   "kid": kid, "x": URL_SAFE_NO_PAD.encode(public)})
        })
        .collect();
    Ok(json!({ "keys": keys }))
}

/// What a rotation did.
#[derive(Debug)]
pub struct Rotation {
    /// The new key.
    pub kid: String,
    /// When it starts signing.
    pub signs_from: chrono::DateTime<chrono::Utc>,
    /// Keys retired because their tokens have all expired.
    pub retired: Vec<String>,
}

/// Adds a key that signs after `publish_delay` (at once when it is the first), and
/// retires keys superseded longer ago than a token lives. Needs the owning role: the
/// handlers' role cannot write keys.
pub async fn rotate(owner: &PgPool, publish_delay: Duration) -> Result<Rotation, sqlx::Error> {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .expect("the system random source works");
    let public = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .expect("a generated key parses")
        .public_key()
        .as_ref()
        .to_vec();
    let kid = uuid::Uuid::now_v7().simple().to_string();
    let mut tx = owner.begin().await?;
    // One rotation at a time, so "the first key" is decided once.
    sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let signs_from: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "INSERT INTO signing_keys (kid, private_pkcs8, public_key, signs_from) \
         SELECT $1, $2, $3, CASE WHEN EXISTS (SELECT FROM signing_keys WHERE retired_at IS NULL) \
                                 THEN now() + make_interval(secs => $4) ELSE now() END \
         RETURNING signs_from",
    )
    .bind(&kid)
    .bind(pkcs8.as_ref())
    .bind(&public)
    .bind(publish_delay.as_secs_f64())
    .fetch_one(&mut *tx)
    .await?;
    let retired: Vec<String> = sqlx::query_scalar(
        "UPDATE signing_keys old SET retired_at = now() \
         WHERE retired_at IS NULL AND EXISTS ( \
             SELECT FROM signing_keys newer \
             WHERE newer.signs_from > old.signs_from \
               AND newer.signs_from < now() - make_interval(secs => $1)) \
         RETURNING kid",
    )
    .bind((ACCESS_TOKEN_TTL + Duration::from_secs(60)).as_secs_f64())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Rotation {
        kid,
        signs_from,
        retired,
    })
}

/// Creates the first signing key unless one exists.
pub async fn ensure(owner: &PgPool) -> Result<(), sqlx::Error> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT FROM signing_keys WHERE retired_at IS NULL)")
            .fetch_one(owner)
            .await?;
    if !exists {
        rotate(owner, Duration::ZERO).await?;
    }
    Ok(())
}

/// The published keys read straight from identity's database: for a verifier in the
/// same process as identity (and tests), where fetching its own JWKS over HTTP is a
/// detour.
pub struct PublishedKeys(pub PgPool);

impl KeySource for PublishedKeys {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<JwkSet, String>> + Send + '_>> {
        Box::pin(async move {
            let set = jwks(&self.0).await.map_err(|err| err.to_string())?;
            serde_json::from_value(set).map_err(|err| err.to_string())
        })
    }
}
