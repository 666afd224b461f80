//! `bazaar demo day`: a cashier's full day at a till of the demo tenant, over the HTTP API
//! of a running mesh (`./dev up`), as a POS would drive it: barcode and phone lookups,
//! cash, split and credit sales, a held bill resumed and one left to expire, a return, an
//! offline batch sent twice, the terminal's invoices, and the day close (Z report).

use anyhow::Context;
use chrono::Utc;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::client::{problem, Client, Login};

/// The demo cashier of the first store. Demo data only: never a real user.
const CASHIER_EMAIL: &str = "cashier@demo.bazaar";
const CASHIER_PASSWORD: &str = "demo-cashier-password";

/// Which till works the day.
#[derive(Debug, clap::Args)]
pub(crate) struct Day {
    /// The till; a day closes once per terminal, so another run on the same day needs
    /// another terminal.
    #[arg(long, default_value = "T1")]
    terminal: String,
    /// The running API.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
}

pub(crate) async fn day(options: Day) -> anyhow::Result<()> {
    let owner = Client::login(
        &Login {
            url: options.url.clone(),
            tenant: crate::demo::TENANT.to_owned(),
            email: crate::demo::OWNER_EMAIL.to_owned(),
            password: crate::demo::OWNER_PASSWORD.to_owned(),
        },
        2,
    )
    .await
    .context("the demo tenant's owner cannot log in: has `bazaar demo` run (./dev up)?")?;
    let stores = call(&owner, Method::GET, "/api/v1/stores", None).await?;
    let store = stores
        .as_array()
        .and_then(|s| s.iter().find(|s| s["code"] == "BLR-01"))
        .context("the demo tenant has no store BLR-01")?;
    let store_id = store["id"].as_str().context("a store id")?.to_owned();
    let cashier = json!({"email": CASHIER_EMAIL, "name": "Deepa (cashier)", "password": CASHIER_PASSWORD,
        "roles": ["cashier"], "stores": [store_id]});
    let created = owner
        .request(Method::POST, "/api/v1/users")
        .json(&cashier)
        .send()
        .await?;
    // Already there from an earlier day is fine.
    if created.status() != reqwest::StatusCode::CONFLICT {
        problem(created).await?;
    }
    let till = Till {
        client: Client::login(
            &Login {
                url: options.url,
                tenant: crate::demo::TENANT.to_owned(),
                email: CASHIER_EMAIL.to_owned(),
                password: CASHIER_PASSWORD.to_owned(),
            },
            2,
        )
        .await?,
        store: store_id,
        terminal: options.terminal,
    };
    out!(
        "{CASHIER_EMAIL} opens terminal {} at {} ({})",
        till.terminal,
        store["name"].as_str().unwrap_or(""),
        store["code"].as_str().unwrap_or("")
    );

    // The shelf: five products the till scans by barcode.
    let products = call(
        &till.client,
        Method::GET,
        "/api/v1/products?limit=5&sort=sku",
        None,
    )
    .await?;
    let barcodes: Vec<String> = products
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["barcodes"][0].as_str().map(str::to_owned))
        .collect();
    anyhow::ensure!(
        barcodes.len() == 5,
        "the demo catalog has no barcoded products: run `bazaar demo`"
    );
    let scanned = call(
        &till.client,
        Method::GET,
        &format!("/api/v1/barcodes/{}", barcodes[0]),
        None,
    )
    .await?;
    out!(
        "scan {}: {} at {}",
        barcodes[0],
        scanned["name"].as_str().unwrap_or(""),
        rupees(&scanned["selling_price"]["amount_minor"])
    );
    let line = |n: usize, quantity: &str| json!({"barcode": barcodes[n], "quantity": quantity});

    // A walk-in paying cash, with change.
    let lines = json!([line(0, "2"), line(1, "1")]);
    let total = till.quote(&lines).await?;
    // Paid with ₹500 notes.
    const NOTE: i64 = 50_000;
    let tendered = (total / NOTE + 1) * NOTE;
    let mut cash_in_drawer = total;
    let cash_sale = till
        .sell(
            lines,
            json!([{"mode": "cash", "amount_minor": total, "tendered_minor": tendered}]),
            None,
        )
        .await?;
    out!(
        "cash sale {}: {}, tendered {}, change {}",
        cash_sale["number"].as_str().unwrap_or(""),
        rupees(&json!(total)),
        rupees(&json!(tendered)),
        rupees(&json!(tendered - total))
    );

    // Card and UPI, split.
    let lines = json!([line(2, "1"), line(3, "3")]);
    let total = till.quote(&lines).await?;
    let split = till
        .sell(
            lines,
            json!([{"mode": "card", "amount_minor": total / 2, "reference": "AUTH-4411"},
            {"mode": "upi", "amount_minor": total - total / 2, "reference": "UTR-5532"}]),
            None,
        )
        .await?;
    out!(
        "split sale {}: {} by card and UPI",
        split["number"].as_str().unwrap_or(""),
        rupees(&json!(total))
    );

    // A bill held while the customer fetches something, resumed and paid; another one
    // nobody comes back for.
    let held = |note: &str| {
        json!({"store_id": till.store, "terminal_id": till.terminal, "note": note,
        "lines": [line(4, "1")]})
    };
    let bill = call(
        &till.client,
        Method::POST,
        "/api/v1/pos/held-bills",
        Some(held("went for milk")),
    )
    .await?;
    call(
        &till.client,
        Method::POST,
        "/api/v1/pos/held-bills",
        Some(held("left the shop")),
    )
    .await?;
    let waiting = call(
        &till.client,
        Method::GET,
        &format!(
            "/api/v1/pos/held-bills?store_id={}&terminal_id={}",
            till.store, till.terminal
        ),
        None,
    )
    .await?;
    let resumed = call(
        &till.client,
        Method::POST,
        &format!(
            "/api/v1/pos/held-bills/{}/resume",
            bill["id"].as_str().unwrap_or("")
        ),
        None,
    )
    .await?;
    let lines = json!([resumed["lines"][0], line(0, "1")]);
    let total = till.quote(&lines).await?;
    let resumed_sale = till
        .sell(
            lines,
            json!([{"mode": "upi", "amount_minor": total, "reference": "UTR-5533"}]),
            None,
        )
        .await?;
    out!(
        "{} bills held; one resumed with a line added and paid by UPI: {} for {}",
        waiting.as_array().map_or(0, Vec::len),
        resumed_sale["number"].as_str().unwrap_or(""),
        rupees(&json!(total))
    );

    // A regular on credit, found by phone.
    let found = call(
        &till.client,
        Method::GET,
        "/api/v1/customers?phone=%2B919845000001",
        None,
    )
    .await?;
    let customer = &found[0];
    let customer_id = customer["id"]
        .as_str()
        .context("demo customer +91 98450 00001")?
        .to_owned();
    let lines = json!([line(1, "2")]);
    let total = till.quote(&lines).await?;
    let credit = till
        .sell(
            lines,
            json!([{"mode": "credit", "amount_minor": total}]),
            Some(&customer_id),
        )
        .await?;
    out!(
        "credit sale {} to {}: {}",
        credit["number"].as_str().unwrap_or(""),
        customer["name"].as_str().unwrap_or(""),
        rupees(&json!(total))
    );

    // One of the cash sale's first line comes back, refunded in cash.
    let credit_note = call(&till.client, Method::POST, "/api/v1/pos/returns", Some(json!({"id": Uuid::new_v4(),
        "invoice_id": cash_sale["id"], "terminal_id": till.terminal, "lines": [{"line_no": 1, "quantity": "1"}],
        "refund_mode": "cash", "reason": "damaged pack"}))).await?;
    let refund = credit_note["total"]["amount_minor"].as_i64().unwrap_or(0);
    cash_in_drawer -= refund;
    out!(
        "return {}: {} refunded in cash",
        credit_note["number"].as_str().unwrap_or(""),
        rupees(&json!(refund))
    );

    // Two sales the till took while the network was down, sent twice.
    let stamp = Utc::now();
    let offline: Vec<Value> = (1..=2)
        .map(|n| {
            let mut sale = till.invoice(json!([line(n, "1")]), json!([]), None);
            sale["offline"] = json!({"number": format!("OFF{}{n:03}", stamp.format("%H%M%S")),
                "issued_at": (stamp - chrono::Duration::minutes(30 - i64::try_from(n).unwrap_or(0))).to_rfc3339()});
            sale
        })
        .collect();
    let mut batch = Vec::new();
    for mut sale in offline {
        let lines = sale["lines"].clone();
        let total = till.quote(&lines).await?;
        sale["payments"] = json!([{"mode": "cash", "amount_minor": total}]);
        cash_in_drawer += total;
        batch.push(sale);
    }
    let batch = json!({"invoices": batch});
    for attempt in ["sent", "sent again"] {
        let answers = call(
            &till.client,
            Method::POST,
            "/api/v1/pos/sync",
            Some(batch.clone()),
        )
        .await?;
        let statuses: Vec<&str> = answers
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["status"].as_str())
            .collect();
        out!("offline batch {attempt}: {}", statuses.join(", "));
    }

    let today = call(
        &till.client,
        Method::GET,
        &format!(
            "/api/v1/pos/invoices?store_id={}&terminal_id={}",
            till.store, till.terminal
        ),
        None,
    )
    .await?;
    out!(
        "terminal {}'s invoices today: {}",
        till.terminal,
        today.as_array().map_or(0, Vec::len)
    );

    // The drawer is counted ₹1 short.
    let z = till.close(cash_in_drawer - 100).await?;
    out!("Z report:\n{}", serde_json::to_string_pretty(&z)?);
    Ok(())
}

/// The cashier at the till.
struct Till {
    client: Client,
    store: String,
    terminal: String,
}

impl Till {
    fn invoice(&self, lines: Value, payments: Value, customer: Option<&str>) -> Value {
        json!({"id": Uuid::new_v4(), "store_id": self.store, "terminal_id": self.terminal,
            "customer_id": customer, "lines": lines, "payments": payments})
    }

    /// What `lines` come to, shown before the customer pays.
    async fn quote(&self, lines: &Value) -> anyhow::Result<i64> {
        let basket = json!({"store_id": self.store, "terminal_id": self.terminal, "lines": lines});
        let quote = call(
            &self.client,
            Method::POST,
            "/api/v1/pos/quote",
            Some(basket),
        )
        .await?;
        quote["total_minor"]
            .as_i64()
            .with_context(|| format!("no total in {quote}"))
    }

    async fn sell(
        &self,
        lines: Value,
        payments: Value,
        customer: Option<&str>,
    ) -> anyhow::Result<Value> {
        call(
            &self.client,
            Method::POST,
            "/api/v1/pos/invoices",
            Some(self.invoice(lines, payments, customer)),
        )
        .await
    }

    async fn close(&self, counted: i64) -> anyhow::Result<Value> {
        call(
            &self.client,
            Method::POST,
            "/api/v1/pos/day-close",
            Some(json!({"store_id": self.store,
            "terminal_id": self.terminal, "counted_cash_minor": counted})),
        )
        .await
    }
}

async fn call(
    client: &Client,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut request = client.request(method, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let reply = problem(request.send().await?)
        .await
        .with_context(|| path.to_owned())?;
    if reply.status() == reqwest::StatusCode::NO_CONTENT {
        return Ok(Value::Null);
    }
    Ok(reply.json().await?)
}

fn rupees(minor: &Value) -> String {
    let minor = minor.as_i64().unwrap_or(0);
    format!("₹{}.{:02}", minor / 100, minor % 100)
}
