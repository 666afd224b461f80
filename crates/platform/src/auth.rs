//! Access-token verification in every service, with no database call.
//!
//! Identity signs access tokens (JWT, EdDSA) with keys it publishes as a JWK set. A
//! service verifies them locally: the algorithm is pinned to EdDSA (so `alg: none` and
//! an HS256 token "signed" with the public key are refused), and `iss`, `aud`, `exp` and
//! `nbf` are all checked. A token whose `kid` is unknown makes the verifier fetch the key
//! set again, at most once per cooldown, so a key rotation needs no restart and a flood
//! of made-up `kid`s cannot turn into a flood of fetches.
//!
//! A route declares the roles it admits with one [`allow`] layer; the handler then
//! receives the verified [`Principal`], by which every query is scoped.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use jsonwebtoken::{jwk::JwkSet, Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};
use uuid::Uuid;

use crate::http::ApiError;
use crate::http::PlatformCode;

/// How often, by default, an unknown `kid` may trigger a fetch of the key set.
const REFRESH_COOLDOWN: Duration = Duration::from_secs(30);

/// What a user may do; a user holds one or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Owns the tenant: everything.
    Owner,
    /// Runs the back office: users, catalog, prices, settings.
    Admin,
    /// Runs one or more stores.
    StoreManager,
    /// Sells at a till.
    Cashier,
    /// Books, GST returns, payments.
    Accountant,
    /// Employees, attendance, payroll.
    Hr,
}

impl Role {
    /// The name a role is stored and sent under, as its JSON spells it.
    pub fn code(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::StoreManager => "store_manager",
            Role::Cashier => "cashier",
            Role::Accountant => "accountant",
            Role::Hr => "hr",
        }
    }

    /// Every role: for routes any signed-in user may call.
    pub const ALL: &'static [Role] = &[
        Role::Owner,
        Role::Admin,
        Role::StoreManager,
        Role::Cashier,
        Role::Accountant,
        Role::Hr,
    ];
}

/// The stores a token reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stores {
    /// Every store of the tenant: the claim is the string `"all"`.
    All(AllStores),
    /// Only these.
    Only(Vec<Uuid>),
}

impl utoipa::PartialSchema for Stores {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, SchemaType, Type,
        };
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .enum_values(Some(["all"]))
                    .description(Some("every store of the tenant")),
            )
            .item(
                ArrayBuilder::new().items(
                    ObjectBuilder::new()
                        .schema_type(SchemaType::Type(Type::String))
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
                ),
            )
            .description(Some("`\"all\"` or a list of store ids"))
            .into()
    }
}

impl utoipa::ToSchema for Stores {}

/// The literal `"all"`; spelled out so a missing claim can never mean every store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllStores {
    /// Every store.
    All,
}

/// The claims of a Bazaar access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    /// The tenant (retail chain).
    pub tenant: Uuid,
    /// The stores the user's roles apply to.
    pub stores: Stores,
    /// The user's roles.
    pub roles: Vec<Role>,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Not before, seconds since the epoch.
    pub nbf: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Token id.
    pub jti: Uuid,
}

/// The verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user: Uuid,
    /// The tenant every query is scoped to.
    pub tenant: Uuid,
    /// The stores the user reaches.
    pub stores: Stores,
    /// The user's roles.
    pub roles: Vec<Role>,
}

impl Principal {
    /// True when the user holds one of `roles`.
    pub fn has_any(&self, roles: &[Role]) -> bool {
        self.roles.iter().any(|role| roles.contains(role))
    }

    /// True when the user reaches `store`.
    pub fn reaches_store(&self, store: Uuid) -> bool {
        match &self.stores {
            Stores::All(_) => true,
            Stores::Only(stores) => stores.contains(&store),
        }
    }
}

/// Where the verifier gets the key set: identity's `/.well-known/jwks.json`, or a fixed
/// set (tests, or a single-process deployment).
pub trait KeySource: Send + Sync + 'static {
    /// Fetches the current key set.
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<JwkSet, String>> + Send + '_>>;
}

impl KeySource for JwkSet {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<JwkSet, String>> + Send + '_>> {
        let keys = self.clone();
        Box::pin(async move { Ok(keys) })
    }
}

/// Identity's `/.well-known/jwks.json`, fetched over HTTP.
pub struct JwksUrl {
    url: String,
    client: reqwest::Client,
}

impl JwksUrl {
    /// The key set at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
        }
    }
}

impl KeySource for JwksUrl {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<JwkSet, String>> + Send + '_>> {
        Box::pin(async move {
            let response = self
                .client
                .get(&self.url)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|err| format!("GET {}: {err}", self.url))?;
            response
                .json::<JwkSet>()
                .await
                .map_err(|err| format!("GET {}: not a JWK set: {err}", self.url))
        })
    }
}

/// Why a token was refused. Clients only ever see 401 `unauthenticated`; the reason is
/// logged.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No `Authorization: Bearer` header.
    #[error("no bearer token")]
    Missing,
    /// Not a JWT, a wrong algorithm, a bad signature or claim.
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    /// The header names no key, or a key the key set does not have.
    #[error("unknown signing key {0:?}")]
    UnknownKey(Option<String>),
}

/// Verifies access tokens against the key set of `source`.
pub struct Verifier {
    source: Box<dyn KeySource>,
    validation: Validation,
    keys: RwLock<HashMap<String, DecodingKey>>,
    /// When the key set was last fetched. Held across a fetch, so fetches are serial
    /// while verifications with known keys go on reading `keys`.
    fetched: Mutex<Option<Instant>>,
    cooldown: Duration,
}

impl Verifier {
    /// A verifier for tokens issued by `issuer` for `audience`.
    pub fn new(issuer: &str, audience: &str, source: impl KeySource) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        Self {
            source: Box::new(source),
            validation,
            keys: RwLock::new(HashMap::new()),
            fetched: Mutex::new(None),
            cooldown: REFRESH_COOLDOWN,
        }
    }

    /// Sets how often an unknown `kid` may trigger a fetch (default 30 s).
    pub fn with_refresh_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// Verifies `token` and returns its caller.
    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let header = jsonwebtoken::decode_header(token)?;
        let kid = header.kid.ok_or(TokenError::UnknownKey(None))?;
        let key = match self.key(&kid).await {
            Some(key) => key,
            None => {
                self.refresh().await;
                self.key(&kid)
                    .await
                    .ok_or(TokenError::UnknownKey(Some(kid)))?
            }
        };
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)?.claims;
        Ok(Principal {
            user: claims.sub,
            tenant: claims.tenant,
            stores: claims.stores,
            roles: claims.roles,
        })
    }

    async fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().await.get(kid).cloned()
    }

    /// Fetches the key set unless it was fetched within the cooldown.
    async fn refresh(&self) {
        let mut fetched = self.fetched.lock().await;
        if fetched.is_some_and(|at| at.elapsed() < self.cooldown) {
            return;
        }
        *fetched = Some(Instant::now());
        match self.source.fetch().await {
            Ok(set) => {
                let by_kid: HashMap<String, DecodingKey> = set
                    .keys
                    .iter()
                    .filter_map(|jwk| {
                        let kid = jwk.common.key_id.clone()?;
                        DecodingKey::from_jwk(jwk).ok().map(|key| (kid, key))
                    })
                    .collect();
                tracing::info!(keys = by_kid.len(), "fetched the token signing keys");
                *self.keys.write().await = by_kid;
            }
            Err(err) => tracing::error!(error = %err, "cannot fetch the token signing keys"),
        }
    }
}

/// The bearer token of a request, verified.
async fn authenticate(verifier: &Verifier, parts: &Parts) -> Result<Principal, ApiError> {
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(TokenError::Missing);
    let result = match token {
        Ok(token) => verifier.verify(token.trim()).await,
        Err(err) => Err(err),
    };
    result.map_err(|err| {
        tracing::info!(reason = %err, "request refused: not authenticated");
        ApiError::new(
            PlatformCode::Unauthenticated,
            "a valid bearer access token is required",
        )
    })
}

/// The roles a route admits, with the verifier that checks the caller.
#[derive(Clone)]
pub struct Gate {
    verifier: Arc<Verifier>,
    roles: &'static [Role],
}

type Admission = Pin<Box<dyn Future<Output = Response> + Send>>;

/// The layer [`allow`] returns.
pub type GateLayer = axum::middleware::FromFnLayer<
    fn(State<Gate>, Request, Next) -> Admission,
    Gate,
    (State<Gate>, Request),
>;

/// A route layer admitting callers with a valid token and one of `roles`:
/// `post(change_price).route_layer(auth::allow(&verifier, &[Role::Owner, Role::Admin]))`.
/// Others get 401 `unauthenticated` or 403 `forbidden`.
pub fn allow(verifier: &Arc<Verifier>, roles: &'static [Role]) -> GateLayer {
    axum::middleware::from_fn_with_state(
        Gate {
            verifier: verifier.clone(),
            roles,
        },
        |State(gate): State<Gate>, request: Request, next: Next| {
            Box::pin(admit(gate, request, next)) as Admission
        },
    )
}

async fn admit(gate: Gate, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let principal = match authenticate(&gate.verifier, &parts).await {
        Ok(principal) => principal,
        Err(err) => return err.into_response(),
    };
    if !principal.has_any(gate.roles) {
        tracing::info!(user = %principal.user, required = ?gate.roles, "request refused: role");
        return ApiError::new(
            PlatformCode::Forbidden,
            "your roles do not allow this action",
        )
        .into_response();
    }
    parts.extensions.insert(principal);
    next.run(Request::from_parts(parts, body)).await
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    /// The caller admitted by the route's [`allow`] layer.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<Principal>().cloned().ok_or_else(|| {
            ApiError::internal("a handler takes a Principal but its route has no auth::allow layer")
        })
    }
}
