//! The answers a sale cannot wait for: stock reserved in inventory before the invoice
//! commits, and the customer's credit from partners. Both are asked over HTTP with the
//! cashier's own token, so the other service applies its own rules to the same person.

use std::time::Duration;

use crate::Code;
use bazaar_platform::{
    http::{ApiError, Invalid},
    money::Money,
    Settings,
};
use serde_json::{json, Value};
use uuid::Uuid;

/// Inventory's and partners' APIs.
#[derive(Clone)]
pub(crate) struct Mesh {
    client: reqwest::Client,
    inventory: String,
    partners: String,
}

fn unavailable(service: &str, err: impl std::fmt::Display) -> ApiError {
    tracing::warn!(service, error = %err, "a call the sale needs failed");
    ApiError::new(
        Code::DependencyUnavailable,
        format!("{service} did not answer; try again (or sell offline)"),
    )
    .with_retry_after(5)
}

impl Mesh {
    /// A request to another service as the caller (`token`), in the caller's trace: the
    /// current span's `traceparent` goes along, so inventory's and partners' spans join
    /// the checkout's trace.
    fn call(
        &self,
        method: reqwest::Method,
        url: impl reqwest::IntoUrl,
        token: &str,
    ) -> reqwest::RequestBuilder {
        let request = self
            .client
            .request(method, url)
            .header("authorization", token);
        match bazaar_platform::telemetry::traceparent(&tracing::Span::current()) {
            Some(traceparent) => request.header("traceparent", traceparent),
            None => request,
        }
    }

    pub(crate) fn new(settings: &Settings) -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            inventory: settings.inventory_url.trim_end_matches('/').to_owned(),
            partners: settings.partners_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Holds `lines` (product, quantity) at `location` for the sale `reference`; 409
    /// `insufficient_stock` naming the SKU when one does not fit. Every call holds anew,
    /// without an `Idempotency-Key`: a resent sale whose first hold was released must not
    /// get that hold back, and of two sends racing, the one whose invoice loses releases
    /// its own. A hold a crash leaves behind lapses at its TTL.
    pub(crate) async fn reserve(
        &self,
        token: &str,
        location: Uuid,
        reference: Uuid,
        lines: &[(Uuid, String)],
    ) -> Result<Uuid, ApiError> {
        let body = json!({
            "location_id": location,
            "reference": reference.to_string(),
            "ttl_seconds": 300,
            "lines": lines.iter().map(|(product, quantity)| json!({"product_id": product, "quantity": quantity})).collect::<Vec<_>>(),
        });
        let response = self
            .call(
                reqwest::Method::POST,
                format!("{}/api/v1/inventory/reservations", self.inventory),
                token,
            )
            .json(&body)
            .send()
            .await
            .map_err(|e| unavailable("inventory", e))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let detail = answer["detail"].as_str().unwrap_or_default().to_owned();
        match (status.as_u16(), answer["code"].as_str()) {
            (201 | 200, _) => answer["id"]
                .as_str()
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| unavailable("inventory", "a reservation without an id")),
            (409, Some("insufficient_stock")) => {
                Err(ApiError::new(Code::InsufficientStock, detail))
            }
            (409, Some("product_archived")) => Err(ApiError::new(Code::ProductArchived, detail)),
            (404, Some("unknown_location")) => Err(ApiError::new(
                Code::StoreNotConfigured,
                "the store's inventory location is unknown to inventory",
            )),
            (404, _) => Err(ApiError::not_found(detail)),
            (code, _) if code >= 500 => Err(unavailable("inventory", status)),
            _ => Err(ApiError::new(
                Code::InventoryRefused,
                format!("inventory: {status} {detail}"),
            )),
        }
    }

    /// Lets a reservation go when the sale did not happen. Best effort: an unreleased
    /// hold lapses after its TTL anyway.
    pub(crate) async fn release(&self, token: &str, reservation: Uuid) {
        let url = format!(
            "{}/api/v1/inventory/reservations/{reservation}/release",
            self.inventory
        );
        if let Err(err) = self.call(reqwest::Method::POST, url, token).send().await {
            tracing::warn!(%reservation, error = %err, "could not release a reservation; it will lapse");
        }
    }

    /// Spends `points` of the customer's for the sale `reference`, once their value at
    /// the tenant's rule is `amount`: 422 `loyalty_value_mismatch` otherwise, 409
    /// `insufficient_points` when the customer has fewer.
    pub(crate) async fn redeem(
        &self,
        token: &str,
        customer: Uuid,
        points: i64,
        reference: Uuid,
        amount: i64,
    ) -> Result<(), ApiError> {
        let rule: Value = self
            .call(
                reqwest::Method::GET,
                format!("{}/api/v1/loyalty/rule", self.partners),
                token,
            )
            .send()
            .await
            .map_err(|e| unavailable("partners", e))?
            .json()
            .await
            .map_err(|e| unavailable("partners", e))?;
        let value = rule["point_value_minor"]
            .as_i64()
            .ok_or_else(|| unavailable("partners", "no loyalty rule"))?;
        let worth = points.saturating_mul(value);
        if worth != amount {
            return Err(Invalid::new(
                "payments",
                Code::LoyaltyValueMismatch,
                format!("{points} points are worth {worth} (minor units), not {amount}"),
            )
            .into());
        }
        let response = self
            .call(
                reqwest::Method::POST,
                format!(
                    "{}/api/v1/customers/{customer}/loyalty/redeem",
                    self.partners
                ),
                token,
            )
            .header("idempotency-key", format!("sale-points-{reference}"))
            .json(&json!({"points": points, "reference": reference.to_string()}))
            .send()
            .await
            .map_err(|e| unavailable("partners", e))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        match (status.as_u16(), answer["code"].as_str()) {
            (200 | 201, _) => Ok(()),
            (409, Some("insufficient_points")) => Err(ApiError::new(
                Code::InsufficientPoints,
                answer["detail"].as_str().unwrap_or_default().to_owned(),
            )),
            (404, _) => Err(ApiError::new(
                Code::UnknownCustomer,
                format!("no customer {customer}"),
            )),
            (code, _) if code >= 500 => Err(unavailable("partners", status)),
            _ => Err(ApiError::new(
                Code::PartnersRefused,
                format!("partners: {status} {answer}"),
            )),
        }
    }

    /// Whether `amount` fits the customer's credit limit.
    pub(crate) async fn credit_allows(
        &self,
        token: &str,
        customer: Uuid,
        amount: Money,
    ) -> Result<bool, ApiError> {
        let response = self
            .call(
                reqwest::Method::POST,
                format!("{}/api/v1/customers/{customer}/credit-check", self.partners),
                token,
            )
            .json(&json!({"amount": amount}))
            .send()
            .await
            .map_err(|e| unavailable("partners", e))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        match status.as_u16() {
            200 => Ok(answer["allowed"].as_bool().unwrap_or(false)),
            404 => Err(ApiError::new(
                Code::UnknownCustomer,
                format!("no customer {customer}"),
            )),
            code if code >= 500 => Err(unavailable("partners", status)),
            _ => Err(ApiError::new(
                Code::PartnersRefused,
                format!("partners: {status} {answer}"),
            )),
        }
    }
}
