//! `bazaar analytics migrate|query`: the ClickHouse database and the dashboards' queries.

use bazaar_platform::Settings;
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum AnalyticsCommand {
    /// Create the ClickHouse database (BAZAAR_CLICKHOUSE_DATABASE) if missing and apply
    /// the migrations of analytics/clickhouse/ it has not had.
    Migrate,
    /// Run a dashboard panel's query and print its table, for people without Grafana.
    Query {
        /// `<dashboard>.<panel>`, e.g. `sales.revenue`; see --list.
        #[arg(required_unless_present = "list")]
        name: Option<String>,
        /// List the queries and exit.
        #[arg(long)]
        list: bool,
        /// The tenant (`$tenant`).
        #[arg(long, required_unless_present = "list")]
        tenant: Option<uuid::Uuid>,
        /// One store (`$store`); every store when left out.
        #[arg(long)]
        store: Option<uuid::Uuid>,
        /// First day of the range (UTC); default: 7 days before --to.
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last day of the range (UTC); default: today.
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
    },
}

pub(super) async fn run(settings: &Settings, command: AnalyticsCommand) -> anyhow::Result<()> {
    match command {
        AnalyticsCommand::Migrate => {
            let database = &settings.clickhouse_database;
            let applied = bazaar_analytics::migrate::migrate(settings, database).await?;
            out!("analytics: {database} migrated; applied now: {applied:?}");
            Ok(())
        }
        AnalyticsCommand::Query {
            name,
            list,
            tenant,
            store,
            from,
            to,
        } => query(settings, name, list, tenant, store, from, to).await,
    }
}

/// `bazaar analytics query`.
async fn query(
    settings: &Settings,
    name: Option<String>,
    list: bool,
    tenant: Option<uuid::Uuid>,
    store: Option<uuid::Uuid>,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
) -> anyhow::Result<()> {
    use bazaar_analytics::queries;
    if list {
        for panel in queries::panels()? {
            out!("{:<45} {}", panel.name, panel.title);
        }
        return Ok(());
    }
    let (Some(name), Some(tenant)) = (name, tenant) else {
        anyhow::bail!("name a query and --tenant, or ask for --list");
    };
    let to = to.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let from = from.unwrap_or(to - chrono::Duration::days(7));
    anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    let view = queries::View {
        from: from.and_time(chrono::NaiveTime::MIN).and_utc(),
        to: to.and_hms_opt(23, 59, 59).unwrap_or_default().and_utc(),
        tenant,
        store,
    };
    let panel = queries::panel(&name)?;
    let sql = queries::expand(&panel.sql, &view)?;
    let table = queries::run(
        &settings.clickhouse_url,
        &settings.clickhouse_database,
        &sql,
    )
    .await?;
    out!("{} ({from} to {to})\n{table}", panel.title);
    Ok(())
}
