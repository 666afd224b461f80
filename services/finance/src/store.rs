//! Finance's SQL for the books as the API reads them and for what accountants write by
//! hand: accounts, entries with their lines, balances, an account's ledger, closed months.

use bazaar_platform::outbox;
use bazaar_schemas::events;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{chart::Kind, SERVICE};

const ENTRY_COLUMNS: &str =
    "id, posting_date, narration, source, document, currency, reverses, posted_by";

/// An account of the chart.
#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub(crate) struct Account {
    pub(crate) code: String,
    pub(crate) name: String,
    /// asset, liability, equity, income or expense.
    pub(crate) kind: String,
    /// The role the posting rules give it; none for accounts a tenant added.
    pub(crate) role: Option<String>,
}

/// A journal entry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(crate) struct Entry {
    pub(crate) id: Uuid,
    pub(crate) posting_date: NaiveDate,
    pub(crate) narration: String,
    pub(crate) source: String,
    pub(crate) document: Option<String>,
    pub(crate) currency: String,
    pub(crate) reverses: Option<Uuid>,
    pub(crate) posted_by: Option<Uuid>,
    pub(crate) lines: Vec<EntryLine>,
}

/// One line of an entry.
#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub(crate) struct EntryLine {
    pub(crate) account_code: String,
    pub(crate) account_name: String,
    pub(crate) store_id: Option<Uuid>,
    pub(crate) debit_minor: i64,
    pub(crate) credit_minor: i64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct EntryHead {
    pub(crate) id: Uuid,
    pub(crate) posting_date: NaiveDate,
    pub(crate) narration: String,
    pub(crate) source: String,
    pub(crate) document: Option<String>,
    pub(crate) currency: String,
    pub(crate) reverses: Option<Uuid>,
    pub(crate) posted_by: Option<Uuid>,
}

/// An account's totals over a span.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub(crate) struct Balance {
    pub(crate) code: String,
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) debit_minor: i64,
    pub(crate) credit_minor: i64,
    /// On the account's normal side: debits less credits for assets and expenses,
    /// credits less debits otherwise.
    pub(crate) balance_minor: i64,
}

/// One line of an account's ledger.
#[derive(Debug, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub(crate) struct LedgerLine {
    pub(crate) posting_date: NaiveDate,
    pub(crate) entry_id: Uuid,
    pub(crate) narration: String,
    pub(crate) document: Option<String>,
    pub(crate) store_id: Option<Uuid>,
    pub(crate) debit_minor: i64,
    pub(crate) credit_minor: i64,
    /// After this line, on the account's normal side.
    #[sqlx(default)]
    pub(crate) balance_minor: i64,
}

pub(crate) async fn entry(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<Entry>, sqlx::Error> {
    let head: Option<EntryHead> = sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM journal_entries WHERE tenant_id = $1 AND id = $2"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    match head {
        Some(head) => Ok(with_lines(tx, tenant, vec![head], None).await?.pop()),
        None => Ok(None),
    }
}

pub(crate) async fn with_lines(
    tx: &mut PgConnection,
    tenant: Uuid,
    heads: Vec<EntryHead>,
    store: Option<Uuid>,
) -> Result<Vec<Entry>, sqlx::Error> {
    let ids: Vec<Uuid> = heads.iter().map(|h| h.id).collect();
    let lines: Vec<(Uuid, String, String, Option<Uuid>, i64, i64)> = sqlx::query_as(
        "SELECT l.entry_id, l.account_code, a.name, l.store_id, l.debit_minor, l.credit_minor FROM journal_lines l \
         JOIN accounts a ON a.tenant_id = l.tenant_id AND a.code = l.account_code \
         WHERE l.tenant_id = $1 AND l.entry_id = ANY($2) AND ($3::uuid IS NULL OR l.store_id = $3) \
         ORDER BY l.entry_id, l.line_no",
    )
    .bind(tenant)
    .bind(&ids)
    .bind(store)
    .fetch_all(tx)
    .await?;
    Ok(heads
        .into_iter()
        .map(|h| Entry {
            lines: lines
                .iter()
                .filter(|l| l.0 == h.id)
                .map(|l| EntryLine {
                    account_code: l.1.clone(),
                    account_name: l.2.clone(),
                    store_id: l.3,
                    debit_minor: l.4,
                    credit_minor: l.5,
                })
                .collect(),
            id: h.id,
            posting_date: h.posting_date,
            narration: h.narration,
            source: h.source,
            document: h.document,
            currency: h.currency,
            reverses: h.reverses,
            posted_by: h.posted_by,
        })
        .collect())
}

pub(crate) async fn balances(
    tx: &mut PgConnection,
    tenant: Uuid,
    from: Option<NaiveDate>,
    to: NaiveDate,
    store: Option<Uuid>,
) -> Result<Vec<Balance>, sqlx::Error> {
    let mut rows: Vec<Balance> = sqlx::query_as(
        "SELECT a.code, a.name, a.kind, coalesce(sum(t.debit_minor), 0)::int8 AS debit_minor, \
           coalesce(sum(t.credit_minor), 0)::int8 AS credit_minor, 0::int8 AS balance_minor \
         FROM accounts a LEFT JOIN ( \
           SELECT l.account_code, l.debit_minor, l.credit_minor FROM journal_lines l \
           JOIN journal_entries e ON e.id = l.entry_id \
           WHERE l.tenant_id = $1 AND e.posting_date <= $3 AND ($2::date IS NULL OR e.posting_date >= $2) \
             AND ($4::uuid IS NULL OR l.store_id = $4)) t ON t.account_code = a.code \
         WHERE a.tenant_id = $1 GROUP BY a.code, a.name, a.kind ORDER BY a.code",
    )
    .bind(tenant)
    .bind(from)
    .bind(to)
    .bind(store)
    .fetch_all(tx)
    .await?;
    for row in &mut rows {
        let debit_normal = Kind::parse(&row.kind).is_some_and(Kind::debit_normal);
        row.balance_minor = if debit_normal {
            row.debit_minor - row.credit_minor
        } else {
            row.credit_minor - row.debit_minor
        };
    }
    Ok(rows)
}

/// The tenant's accounts by code, a page of them.
pub(crate) async fn accounts(
    tx: &mut PgConnection,
    tenant: Uuid,
    limit: i64,
    offset: i64,
) -> Result<Vec<Account>, sqlx::Error> {
    sqlx::query_as(
        "SELECT code, name, kind, role FROM accounts WHERE tenant_id = $1 ORDER BY code \
         LIMIT $2 OFFSET $3",
    )
    .bind(tenant)
    .bind(limit)
    .bind(offset)
    .fetch_all(tx)
    .await
}

/// Adds an account; `false` when the code is taken.
pub(crate) async fn add_account(
    tx: &mut PgConnection,
    tenant: Uuid,
    code: &str,
    name: &str,
    kind: Kind,
) -> Result<bool, sqlx::Error> {
    let added = sqlx::query(
        "INSERT INTO accounts (tenant_id, code, name, kind) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(code)
    .bind(name)
    .bind(kind.code())
    .execute(tx)
    .await?
    .rows_affected();
    Ok(added == 1)
}

/// The entries of `date`, in posting order, with their lines (of `store` only, if named).
pub(crate) async fn day_book(
    tx: &mut PgConnection,
    tenant: Uuid,
    date: NaiveDate,
    store: Option<Uuid>,
) -> Result<Vec<Entry>, sqlx::Error> {
    let heads: Vec<EntryHead> = sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM journal_entries WHERE tenant_id = $1 AND posting_date = $2 \
         ORDER BY posted_at, id"
    ))
    .bind(tenant)
    .bind(date)
    .fetch_all(&mut *tx)
    .await?;
    with_lines(tx, tenant, heads, store).await
}

/// The name and kind of account `code`.
pub(crate) async fn account(
    tx: &mut PgConnection,
    tenant: Uuid,
    code: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT name, kind FROM accounts WHERE tenant_id = $1 AND code = $2")
        .bind(tenant)
        .bind(code)
        .fetch_optional(tx)
        .await
}

/// Account `code`'s debits less credits before `from` (of `store` only, if named), and
/// its lines from `from` to `to`, in posting order, without running balances.
pub(crate) async fn ledger(
    tx: &mut PgConnection,
    tenant: Uuid,
    code: &str,
    (from, to): (NaiveDate, NaiveDate),
    store: Option<Uuid>,
) -> Result<(i64, Vec<LedgerLine>), sqlx::Error> {
    let opening: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(l.debit_minor - l.credit_minor), 0)::int8 FROM journal_lines l \
         JOIN journal_entries e ON e.id = l.entry_id \
         WHERE l.tenant_id = $1 AND l.account_code = $2 AND e.posting_date < $3 \
           AND ($4::uuid IS NULL OR l.store_id = $4)",
    )
    .bind(tenant)
    .bind(code)
    .bind(from)
    .bind(store)
    .fetch_one(&mut *tx)
    .await?;
    let lines = sqlx::query_as(
        "SELECT e.posting_date, e.id AS entry_id, e.narration, e.document, l.store_id, \
           l.debit_minor, l.credit_minor \
         FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id \
         WHERE l.tenant_id = $1 AND l.account_code = $2 AND e.posting_date BETWEEN $3 AND $4 \
           AND ($5::uuid IS NULL OR l.store_id = $5) \
         ORDER BY e.posting_date, e.posted_at, e.id, l.line_no",
    )
    .bind(tenant)
    .bind(code)
    .bind(from)
    .bind(to)
    .bind(store)
    .fetch_all(tx)
    .await?;
    Ok((opening, lines))
}

/// Closes `closed.month` (its first day is `first`) and says so on the topic; `false`
/// when it was closed already.
pub(crate) async fn close_period(
    tx: &mut PgConnection,
    first: NaiveDate,
    closed: &events::finance::PeriodClosed,
) -> Result<bool, outbox::OutboxError> {
    let inserted = sqlx::query(
        "INSERT INTO closed_periods (tenant_id, month, closed_by) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(closed.tenant_id)
    .bind(first)
    .bind(closed.closed_by)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    outbox::append_event(tx, SERVICE, closed.tenant_id, &closed.month, closed).await?;
    Ok(true)
}
