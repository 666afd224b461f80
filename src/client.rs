//! A client of a running Bazaar's HTTP API, for the commands that drive it
//! (`bazaar catalog import|export`, `bazaar bench barcode|catalog-import`).

use anyhow::Context;
use serde_json::{json, Value};

/// Where to reach Bazaar and whom to log in as (the demo's owner by default).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Login {
    /// The running API.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub(crate) url: String,
    /// The tenant's slug.
    #[arg(long, default_value = crate::demo::TENANT)]
    pub(crate) tenant: String,
    /// The user's email.
    #[arg(long, default_value = crate::demo::OWNER_EMAIL)]
    pub(crate) email: String,
    /// The user's password.
    #[arg(long, env = "BAZAAR_PASSWORD", default_value = crate::demo::OWNER_PASSWORD, hide_default_value = true)]
    pub(crate) password: String,
}

/// A logged-in client.
#[derive(Clone)]
pub(crate) struct Client {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) token: String,
}

impl Client {
    /// Logs in.
    pub(crate) async fn login(login: &Login, connections: usize) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .build()?;
        let base = login.url.trim_end_matches('/').to_owned();
        let body =
            json!({"tenant": login.tenant, "email": login.email, "password": login.password});
        let response = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("is Bazaar running at {base}? (./dev up)"))?;
        let tokens: Value = problem(response)
            .await
            .context("login refused")?
            .json()
            .await?;
        let token = tokens["access_token"]
            .as_str()
            .context("no access_token in the login answer")?
            .to_owned();
        Ok(Self { http, base, token })
    }

    /// A request to `path` with the token.
    pub(crate) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }
}

/// The response, or its problem+json as an error: the code, the detail and each
/// offending field.
pub(crate) async fn problem(response: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let mut text = format!(
        "{status}: {}: {}",
        body["code"].as_str().unwrap_or("?"),
        body["detail"].as_str().unwrap_or("")
    );
    for error in body["errors"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "\n  {}: {}",
            error["field"].as_str().unwrap_or(""),
            error["message"].as_str().unwrap_or("")
        ));
    }
    anyhow::bail!(text)
}
