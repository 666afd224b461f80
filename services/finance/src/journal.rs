//! The journal: balanced entries, stored once, never edited, never in a closed month.
//! Entries from events and from accountants both come through `post`.

use bazaar_schemas::events;
use std::collections::HashMap;

use bazaar_platform::{
    money::checked_sum,
    outbox::{self, OutboxError},
};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{chart::Role, rules::Posting, SERVICE};

/// One line of an entry to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    /// The account's code.
    pub account_code: String,
    /// The store dimension; `None` is the head office.
    pub store: Option<Uuid>,
    /// Minor units debited.
    pub debit: i64,
    /// Minor units credited.
    pub credit: i64,
}

/// An entry to store.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// Its id: derived from the source event, so a replay stores the same entry.
    pub id: Uuid,
    /// Its business day.
    pub date: NaiveDate,
    /// What happened.
    pub narration: String,
    /// The business document.
    pub document: Option<String>,
    /// ISO 4217.
    pub currency: String,
    /// Debits and credits.
    pub lines: Vec<NewLine>,
    /// The event type, or `manual`.
    pub source: String,
    /// The event it comes from.
    pub source_event_id: Option<Uuid>,
    /// The entry it reverses.
    pub reverses: Option<Uuid>,
    /// The accountant, for manual entries.
    pub posted_by: Option<Uuid>,
    /// When it was first posted, for an entry a rebuild restates: it keeps that time and
    /// its date, even in a month closed since. `None` posts it now.
    pub posted_at: Option<DateTime<Utc>>,
}

/// Why an entry was not stored.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Debits and credits differ, or there are fewer than two lines.
    #[error("the entry does not balance: debits {debits}, credits {credits}, {lines} lines")]
    Unbalanced {
        /// Sum of debits.
        debits: i64,
        /// Sum of credits.
        credits: i64,
        /// Lines.
        lines: usize,
    },
    /// A line is both a debit and a credit, neither, or negative.
    #[error("line {0} must be a debit or a credit, positive")]
    OneSided(usize),
    /// The lines' debits or credits add up to more than minor units can hold.
    #[error("the sum of the entry's {0} lines is out of range")]
    OutOfRange(usize),
    /// The posting date's month is closed.
    #[error("the period of {0} is closed")]
    PeriodClosed(NaiveDate),
    /// An account code the tenant does not have.
    #[error("no account {0}")]
    UnknownAccount(String),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The event could not be written.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// Checks that `entry`'s accounts exist and its month is open, then records it: for
/// entries whose accounts and date nobody has checked yet.
pub async fn post(
    tx: &mut PgConnection,
    tenant: Uuid,
    entry: &NewEntry,
) -> Result<(), JournalError> {
    balanced(entry)?;
    let codes: Vec<&str> = entry
        .lines
        .iter()
        .map(|l| l.account_code.as_str())
        .collect();
    let known: Vec<String> =
        sqlx::query_scalar("SELECT code FROM accounts WHERE tenant_id = $1 AND code = ANY($2)")
            .bind(tenant)
            .bind(&codes)
            .fetch_all(&mut *tx)
            .await?;
    if let Some(unknown) = codes.iter().find(|c| !known.iter().any(|k| k == *c)) {
        return Err(JournalError::UnknownAccount((*unknown).to_owned()));
    }
    if entry.posted_at.is_none() && closed(tx, tenant, entry.date).await? {
        return Err(JournalError::PeriodClosed(entry.date));
    }
    write(tx, tenant, entry).await
}

/// Every line a debit or a credit, at least two, debits equal to credits.
fn balanced(entry: &NewEntry) -> Result<(), JournalError> {
    if let Some(bad) = entry
        .lines
        .iter()
        .position(|l| l.debit < 0 || l.credit < 0 || (l.debit > 0) == (l.credit > 0))
    {
        return Err(JournalError::OneSided(bad + 1));
    }
    let debits = checked_sum(entry.lines.iter().map(|l| l.debit))
        .map_err(|_| JournalError::OutOfRange(entry.lines.len()))?;
    let credits = checked_sum(entry.lines.iter().map(|l| l.credit))
        .map_err(|_| JournalError::OutOfRange(entry.lines.len()))?;
    if entry.lines.len() < 2 || debits != credits {
        return Err(JournalError::Unbalanced {
            debits,
            credits,
            lines: entry.lines.len(),
        });
    }
    Ok(())
}

/// Stores a balanced `entry` with `finance.entry.posted`, in `tx`. Its accounts are the
/// tenant's and its month open: the posting rules take both from the books (a missing
/// account still fails, on the lines' foreign key).
pub async fn record(
    tx: &mut PgConnection,
    tenant: Uuid,
    entry: &NewEntry,
) -> Result<(), JournalError> {
    balanced(entry)?;
    write(tx, tenant, entry).await
}

/// Writes the entry, its lines and `finance.entry.posted`.
async fn write(tx: &mut PgConnection, tenant: Uuid, entry: &NewEntry) -> Result<(), JournalError> {
    let codes: Vec<&str> = entry
        .lines
        .iter()
        .map(|l| l.account_code.as_str())
        .collect();
    let numbers: Vec<i32> = (1..=entry.lines.len() as i32).collect();
    let stores: Vec<Option<Uuid>> = entry.lines.iter().map(|l| l.store).collect();
    let debit: Vec<i64> = entry.lines.iter().map(|l| l.debit).collect();
    let credit: Vec<i64> = entry.lines.iter().map(|l| l.credit).collect();
    // The entry and its lines in one statement; the balance is checked at commit.
    sqlx::query(
        "WITH entry AS ( \
           INSERT INTO journal_entries (id, tenant_id, posting_date, narration, source, source_event_id, \
           document, currency, reverses, posted_by, posted_at) \
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, coalesce($11, now())) RETURNING id) \
         INSERT INTO journal_lines (entry_id, tenant_id, line_no, account_code, store_id, debit_minor, \
           credit_minor) \
         SELECT entry.id, $2, l.* FROM entry, \
           UNNEST($12::int4[], $13::text[], $14::uuid[], $15::int8[], $16::int8[]) AS l",
    )
    .bind(entry.id)
    .bind(tenant)
    .bind(entry.date)
    .bind(&entry.narration)
    .bind(&entry.source)
    .bind(entry.source_event_id)
    .bind(&entry.document)
    .bind(&entry.currency)
    .bind(entry.reverses)
    .bind(entry.posted_by)
    .bind(entry.posted_at)
    .bind(&numbers)
    .bind(&codes)
    .bind(&stores)
    .bind(&debit)
    .bind(&credit)
    .execute(&mut *tx)
    .await?;
    let posted = events::finance::EntryPosted {
        tenant_id: tenant,
        entry_id: entry.id,
        posting_date: entry.date.to_string(),
        narration: entry.narration.clone(),
        source: entry.source.clone(),
        source_event_id: entry.source_event_id,
        document: entry.document.clone(),
        currency: entry.currency.clone(),
        reverses: entry.reverses,
        lines: entry
            .lines
            .iter()
            .map(|l| events::finance::EntryPostedJournalLine {
                account_code: l.account_code.clone(),
                store_id: l.store,
                debit_minor: l.debit,
                credit_minor: l.credit,
            })
            .collect(),
        posted_by: entry.posted_by,
        posted_at: bazaar_schemas::now_millis(),
    };
    outbox::append_event(tx, SERVICE, tenant, &entry.id.to_string(), &posted).await?;
    Ok(())
}

/// The date and time the live journal (`public`, also while a rebuild writes elsewhere)
/// posted entry `id` on, if it did.
pub async fn posted_before(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<(NaiveDate, DateTime<Utc>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT posting_date, posted_at FROM public.journal_entries WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(tx)
    .await
}

/// Whether `date`'s month is closed.
async fn closed(tx: &mut PgConnection, tenant: Uuid, date: NaiveDate) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM closed_periods WHERE tenant_id = $1 AND month = $2)",
    )
    .bind(tenant)
    .bind(month_of(date))
    .fetch_one(tx)
    .await
}

/// The first day of `date`'s month.
pub fn month_of(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// Where the posting rules' entry `id` goes: the date and time the live journal posted it
/// on, if it did (a rebuild restates it there); else `date`, or the first day of the first
/// open month after it, so an event that arrives after its month was closed is posted in
/// the open period, never into the closed one.
pub async fn placement(
    tx: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
    date: NaiveDate,
) -> Result<(NaiveDate, Option<DateTime<Utc>>), sqlx::Error> {
    let (posted_on, posted_at, closed): (Option<NaiveDate>, Option<DateTime<Utc>>, Vec<NaiveDate>) =
        sqlx::query_as(
            "SELECT e.posting_date, e.posted_at, ARRAY(SELECT month FROM closed_periods \
             WHERE tenant_id = $1 AND month >= $3 ORDER BY month) \
             FROM (SELECT) AS one LEFT JOIN public.journal_entries e ON e.tenant_id = $1 AND e.id = $2",
        )
        .bind(tenant)
        .bind(id)
        .bind(month_of(date))
        .fetch_one(tx)
        .await?;
    if let (Some(on), Some(at)) = (posted_on, posted_at) {
        return Ok((on, Some(at)));
    }
    let mut day = date;
    while closed.contains(&month_of(day)) {
        day = month_of(day)
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(day);
    }
    Ok((day, None))
}

/// A rule's posting with the tenant's account codes.
pub fn lines_of(posting: &Posting, codes: &HashMap<Role, String>) -> Vec<NewLine> {
    posting
        .lines
        .iter()
        .map(|l| NewLine {
            account_code: codes
                .get(&l.role)
                .cloned()
                .unwrap_or_else(|| l.role.template().0.to_owned()),
            store: l.store,
            debit: l.debit,
            credit: l.credit,
        })
        .collect()
}
