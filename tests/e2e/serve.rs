//! The binary as an operator runs it.

use std::{
    process::Stdio,
    thread::sleep,
    time::{Duration, Instant},
};

use crate::support::{bazaar, free_port, get};

#[test]
fn serve_all_becomes_ready_and_stops_cleanly_on_sigterm() {
    let port = free_port();
    let mut child = bazaar()
        .args(["serve", "--all"])
        .env("BAZAAR_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    let ready = loop {
        match get(port, "/readyz") {
            Some((200, body)) => break body,
            _ if Instant::now() > deadline => panic!("/readyz never answered 200"),
            _ => sleep(Duration::from_millis(200)),
        }
    };
    assert!(ready.contains(r#""ready":true"#), "{ready}");
    let (status, document) = get(port, "/api/v1/openapi.json").unwrap();
    assert_eq!(status, 200);
    assert!(document.contains(r#""openapi":"3.1"#), "{document}");
    let (status, metrics) = get(port, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(metrics.contains(r#"route="/readyz""#), "{metrics}");

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[test]
fn a_malformed_variable_stops_start_up_naming_it() {
    let output = bazaar()
        .args(["serve", "--all"])
        .env("BAZAAR_DB_MAX_CONNECTIONS", "plenty")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(r#"BAZAAR_DB_MAX_CONNECTIONS="plenty" is invalid; expected connections per service pool"#),
        "{stderr}"
    );
}

#[test]
fn an_unknown_service_is_refused() {
    let output = bazaar().args(["serve", "cataloge"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains(r#"unknown service "cataloge""#));
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let mut child = bazaar()
        .arg("config")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before bazaar writes, as `bazaar config | head -0` would.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.status.success());
}
