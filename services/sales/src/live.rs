//! Live POS updates: `GET /ws/pos?store_id=` streams a store's invoices as they are
//! issued and its low-stock alerts, as JSON text messages, fed from the topics. Every
//! serving process follows every partition of the topics from the latest offset, in no
//! consumer group (sockets are per process, so each must see every event), and passes
//! each event to the sockets of its tenant and store.

use bazaar_schemas::{events, Event as _};
use std::sync::Arc;

use axum::{
    extract::{
        ws::rejection::WebSocketUpgradeRejection,
        ws::{Message, WebSocket},
        State, WebSocketUpgrade,
    },
    response::Response,
    routing::get,
    Router,
};
use bazaar_platform::{
    auth::{self, Principal, Role, Verifier},
    consumer::{unhandled, ConsumedEvent, ConsumerRunner, Projection, ProjectionError},
    db,
    http::{ApiError, Query},
    Settings,
};
use bazaar_schemas::events::sales::InvoiceIssued;
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgConnection;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::http::{reachable, Sales};
use crate::Code;

/// Who watches a store's tills.
const SELLERS: &[Role] = &[Role::Owner, Role::Admin, Role::StoreManager, Role::Cashier];

/// One update for the sockets of a tenant's store.
#[derive(Debug, Clone)]
pub(crate) struct Update {
    tenant: Uuid,
    store: Uuid,
    message: Value,
}

/// The updates this process passes to its sockets.
#[derive(Clone)]
pub(crate) struct LiveFeed(broadcast::Sender<Arc<Update>>);

impl LiveFeed {
    /// A feed, and the consumer that fills it from the topics until `stop`.
    pub(crate) fn start(settings: &Settings, pool: sqlx::PgPool, stop: CancellationToken) -> Self {
        let (sender, _) = broadcast::channel(1024);
        let feed = LiveFeed(sender);
        let projection = PosLive {
            topics: settings.pos_live_topics.clone(),
            feed: feed.clone(),
        };
        let runner = ConsumerRunner::new(settings, pool, projection);
        tokio::spawn(async move {
            if let Err(err) = runner.run(stop).await {
                tracing::error!(error = %err, "the live POS feed stopped");
            }
        });
        feed
    }
}

/// Passes invoices and low-stock alerts to the feed.
struct PosLive {
    topics: Vec<String>,
    feed: LiveFeed,
}

impl Projection for PosLive {
    /// Also its label in the consumer metrics; it commits nothing under it.
    fn name(&self) -> &str {
        "pos-live"
    }

    fn topics(&self) -> Vec<String> {
        self.topics.clone()
    }

    fn exactly_once(&self) -> bool {
        false
    }

    fn event_types(&self) -> &[&'static str] {
        &[InvoiceIssued::TYPE, events::inventory::LowStock::TYPE]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &ConsumedEvent,
    ) -> Result<(), ProjectionError> {
        let tenant = event.cloud.tenant;
        let update = match event.cloud.event_type.as_str() {
            InvoiceIssued::TYPE => {
                let i: InvoiceIssued = event.payload()?;
                Update {
                    tenant,
                    store: i.store_id,
                    message: json!({"type": "invoice.issued", "invoice_id": i.invoice_id, "number": i.invoice_number,
                        "terminal_id": i.terminal_id, "total": {"amount_minor": i.total_minor, "currency": i.currency},
                        "offline": i.offline}),
                }
            }
            events::inventory::LowStock::TYPE => {
                let low: events::inventory::LowStock = event.payload()?;
                let store = crate::store::store_at(tx, tenant, low.location_id).await?;
                let Some(store) = store else { return Ok(()) }; // a warehouse
                Update {
                    tenant,
                    store,
                    message: json!({"type": "low_stock", "product_id": low.product_id, "sku": low.sku,
                        "available": low.available, "reorder_level": low.reorder_level}),
                }
            }
            _ => return Err(unhandled(self.name(), event)),
        };
        // Nobody listening is fine.
        let _ = self.feed.0.send(Arc::new(update));
        Ok(())
    }
}

/// The socket's route.
pub(crate) fn routes(verifier: &Arc<Verifier>) -> Router<Sales> {
    Router::new().route(
        "/ws/pos",
        get(watch).route_layer(auth::allow(verifier, SELLERS)),
    )
}

/// Which store to watch.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct Watch {
    store_id: Uuid,
}

/// A WebSocket of a store's invoices as they are issued and its low-stock alerts, as
/// JSON text messages (`{"type": "invoice.issued", ...}`, `{"type": "low_stock", ...}`).
#[utoipa::path(get, path = "/ws/pos", tag = "sales", params(Watch), security(("bearer" = [])),
    responses((status = 101, description = "switching to the WebSocket"),
              (status = 404, description = "`not_found` (a store the user does not reach), `unknown_store`"),
              (status = 400, description = "`websocket_required`: not a WebSocket handshake")))]
pub(crate) async fn watch(
    State(sales): State<Sales>,
    principal: Principal,
    Query(watch): Query<Watch>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // Not a WebSocket handshake: problem+json like every other refusal, not axum's text.
    let upgrade = upgrade.map_err(|rejection| {
        ApiError::new(
            Code::WebsocketRequired,
            format!("open this as a WebSocket: {}", rejection.body_text()),
        )
    })?;
    reachable(&principal, watch.store_id)?;
    // A store of the tenant's, not any id an every-store token names.
    let mut tx = db::begin_for_tenant(&sales.pool, principal.tenant).await?;
    crate::http::store(&mut tx, principal.tenant, watch.store_id).await?;
    tx.commit().await?;
    let updates = sales.feed.0.subscribe();
    Ok(upgrade.on_upgrade(move |socket| stream(socket, updates, principal.tenant, watch.store_id)))
}

async fn stream(
    mut socket: WebSocket,
    mut updates: broadcast::Receiver<Arc<Update>>,
    tenant: Uuid,
    store: Uuid,
) {
    loop {
        tokio::select! {
            update = updates.recv() => match update {
                Ok(update) if update.tenant == tenant && update.store == store => {
                    if socket.send(Message::Text(update.message.to_string().into())).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    let note = json!({"type": "lagged", "missed": missed}).to_string();
                    if socket.send(Message::Text(note.into())).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
