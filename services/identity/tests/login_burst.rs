//! A burst of failed logins from outside: password hashing is bounded, so memory stays
//! within a stated bound and comes back afterwards. Alone in its test binary, so the
//! process's resident memory is this test's.

mod support;

use std::{sync::Arc, time::Duration};

use axum::http::{header, Method, StatusCode};
use serde_json::json;
use support::{Identity, PASSWORD};

/// Resident memory of this process in MiB.
fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024
}

/// argon2id takes 19 MiB per hash and at most one runs per core; everything else a burst
/// holds (200 requests, their transactions, the allocator's slack) fits in this.
const BURST_MIB: u64 = 96;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_failed_logins_stay_within_a_memory_bound() {
    let id = Arc::new(Identity::start().await);
    // Warm up: one real verification, pools and allocator arenas in use.
    id.login(&id.a.slug, &id.a.owner_email).await;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let bound = 19 * cores + BURST_MIB;
    let baseline = rss_mib();

    let peak = Arc::new(std::sync::atomic::AtomicU64::new(baseline));
    let sampling = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_mib(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let logins = (0..200).map(|i| {
        let id = id.clone();
        tokio::spawn(async move {
            // Unknown tenants (the reported attack), unknown addresses of a real tenant,
            // and wrong passwords of real users, which are the only ones really hashed.
            // Each from its own address, as a botnet's would be, so the per-address
            // throttle does not stop them before the password is looked at.
            let (tenant, email, password) = match i % 4 {
                0 | 1 => (format!("nobody-{i}"), "x@example.com".to_owned(), PASSWORD),
                2 => (id.a.slug.clone(), format!("ghost{i}@example.com"), PASSWORD),
                _ => (
                    id.b.slug.clone(),
                    id.b.owner_email.clone(),
                    "not the password",
                ),
            };
            let peer = format!("10.1.{}.{}", i / 200, i % 200 + 1);
            let reply = id
                .send(
                    Method::POST,
                    "/api/v1/auth/login",
                    None,
                    Some(json!({"tenant": tenant, "email": email, "password": password})),
                    &[("x-test-peer", &peer)],
                )
                .await;
            (
                reply.status,
                reply.code().to_owned(),
                reply.headers.contains_key(header::RETRY_AFTER),
            )
        })
    });
    let mut statuses = Vec::new();
    for login in logins.collect::<Vec<_>>() {
        statuses.push(login.await.unwrap());
    }
    let peak_during = peak.load(std::sync::atomic::Ordering::Relaxed);

    for (status, code, retry_after) in &statuses {
        match (*status, code.as_str()) {
            (StatusCode::UNAUTHORIZED, "invalid_credentials")
            | (StatusCode::TOO_MANY_REQUESTS, "login_locked") => {}
            (StatusCode::SERVICE_UNAVAILABLE, "busy") => {
                assert!(retry_after, "503 busy without Retry-After")
            }
            other => panic!("unexpected answer to a failed login: {other:?}"),
        }
    }
    assert!(
        peak_during <= baseline + bound,
        "resident memory grew from {baseline} MiB to {peak_during} MiB during the burst; bound {bound} MiB"
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = rss_mib();
    sampling.abort();
    eprintln!("resident memory: {baseline} MiB before, {peak_during} MiB at most during, {after} MiB after");
    assert!(
        after <= baseline + bound,
        "resident memory stayed at {after} MiB after the burst (from {baseline} MiB)"
    );

    // Guessing at other addresses of the tenant did not lock its owner out.
    id.login(&id.a.slug, &id.a.owner_email).await;
}
