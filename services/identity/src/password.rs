//! Password hashing with bounded work. argon2id is slow and memory-hard on purpose (19 MiB
//! per hash), so an unbounded burst of logins would take every core and gigabytes of
//! memory: at most one hash per core runs at a time, the rest wait briefly and are then
//! answered 503 with Retry-After. Each running hash works in one of a few buffers kept
//! for the purpose, so a burst leaves no freed-but-kept memory behind in the allocator.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        OnceLock,
    },
    time::{Duration, Instant},
};

use crate::Code;
use argon2::{
    password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString},
    Algorithm, Argon2, Block, Params, Version,
};
use bazaar_platform::http::ApiError;
use tokio::sync::Semaphore;

/// How long a request waits for a free core before it is told to come back.
const QUEUE_WAIT: Duration = Duration::from_secs(3);
/// What the pretended verification takes before any real one has been timed.
const FIRST_GUESS: Duration = Duration::from_millis(40);

/// Working memory for the hashes running now: at most one buffer per permit.
static WORKSPACES: std::sync::Mutex<Vec<Vec<Block>>> = std::sync::Mutex::new(Vec::new());

/// One permit per core, shared by every identity router in the process.
fn permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS
        .get_or_init(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
}

/// A moving average of real verifications, in microseconds, for [`pretend_to_verify`].
static TYPICAL_MICROS: AtomicU64 = AtomicU64::new(0);

/// 503 `busy`: every core is hashing and the queue wait ran out.
fn busy() -> ApiError {
    ApiError::new(
        Code::Busy,
        "too many passwords are being checked at once; retry in a moment",
    )
    .with_retry_after(1)
}

/// Runs `work` with a workspace on a blocking thread once a core is free.
async fn bounded<T: Send + 'static>(
    work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let permit = tokio::time::timeout(QUEUE_WAIT, permits().acquire())
        .await
        .map_err(|_| busy())?
        .map_err(ApiError::internal)?;
    let result = tokio::task::spawn_blocking(move || {
        let taken = WORKSPACES.lock().ok().and_then(|mut pool| pool.pop());
        let mut workspace = taken.unwrap_or_default();
        let result = work(&mut workspace);
        if let Ok(mut pool) = WORKSPACES.lock() {
            pool.push(workspace);
        }
        result
    })
    .await
    .map_err(ApiError::internal);
    drop(permit);
    result
}

/// Runs argon2 in `workspace`, grown to what `params` need.
fn run(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    workspace: &mut Vec<Block>,
) -> argon2::Result<()> {
    if workspace.len() < params.block_count() {
        workspace.resize(params.block_count(), Block::default());
    }
    argon2.hash_password_into_with_memory(
        password,
        salt,
        out,
        &mut workspace[..params.block_count()],
    )
}

/// Hashes a new password with argon2id into a PHC string.
pub(crate) async fn hash(password: String) -> Result<String, ApiError> {
    bounded(move |workspace| {
        let params = Params::default();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let salt = SaltString::generate(&mut OsRng);
        let mut raw_salt = [0_u8; 64];
        let raw_salt = salt
            .as_salt()
            .decode_b64(&mut raw_salt)
            .map_err(ApiError::internal)?;
        let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
            run(
                &argon2,
                &params,
                password.as_bytes(),
                raw_salt,
                out,
                workspace,
            )
            .map_err(|_| argon2::password_hash::Error::Crypto)
        })
        .map_err(ApiError::internal)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(ApiError::internal)?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
    })
    .await?
}

/// Whether `password` matches the stored PHC string; an unparsable hash matches nothing.
pub(crate) async fn verify(password: &str, hash: &str) -> Result<bool, ApiError> {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    bounded(move |workspace| {
        let started = Instant::now();
        let matches = matches(&password, &hash, workspace).unwrap_or(false);
        remember(started.elapsed());
        matches
    })
    .await
}

/// The verification argon2's `PasswordVerifier` does, in a workspace of our own.
fn matches(password: &str, hash: &str, workspace: &mut Vec<Block>) -> Option<bool> {
    let parsed = PasswordHash::new(hash).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = match parsed.version {
        Some(version) => Version::try_from(version).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).ok()?;
    let expected = parsed.hash?;
    let mut raw_salt = [0_u8; 64];
    let raw_salt = parsed.salt?.decode_b64(&mut raw_salt).ok()?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0_u8; expected.len()];
    run(
        &argon2,
        &params,
        password.as_bytes(),
        raw_salt,
        &mut out,
        workspace,
    )
    .ok()?;
    // Output compares in constant time.
    Some(Output::new(&out).ok()? == expected)
}

fn remember(took: Duration) {
    let took = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    let _ = TYPICAL_MICROS.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |typical| {
        Some(if typical == 0 {
            took
        } else {
            (typical.saturating_mul(7).saturating_add(took)) / 8
        })
    });
}

/// Takes as long as a verification does without doing one, so an unknown tenant or
/// address is neither told apart by the response time nor allowed to spend a core.
pub(crate) async fn pretend_to_verify() {
    let typical = TYPICAL_MICROS.load(Ordering::Relaxed);
    let wait = if typical == 0 {
        FIRST_GUESS
    } else {
        Duration::from_micros(typical)
    };
    tokio::time::sleep(wait).await;
}
