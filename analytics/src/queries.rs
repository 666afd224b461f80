//! The dashboards' queries (`analytics/grafana/dashboards/*.json`), by name, with their
//! macros and variables expanded the way the Grafana ClickHouse plugin expands them, for
//! `bazaar analytics query NAME` and for the tests that run every panel.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

/// Each dashboard: its file stem and JSON.
pub const DASHBOARDS: &[(&str, &str)] = &[
    ("sales", include_str!("../grafana/dashboards/sales.json")),
    (
        "inventory",
        include_str!("../grafana/dashboards/inventory.json"),
    ),
    (
        "purchasing-finance",
        include_str!("../grafana/dashboards/purchasing-finance.json"),
    ),
    (
        "pipeline",
        include_str!("../grafana/dashboards/pipeline.json"),
    ),
];

/// Why a query could not be named, expanded or run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// No panel has that name.
    #[error("no dashboard query {0:?}; `bazaar analytics query --list` names them")]
    Unknown(String),
    /// A dashboard file is not what Grafana reads.
    #[error("dashboard {0}: {1}")]
    Dashboard(String, serde_json::Error),
    /// A macro the plugin does not have, or used without its argument.
    #[error("{0}: not a macro this expansion knows")]
    Macro(String),
    /// ClickHouse refused the query or did not answer.
    #[error("clickhouse: {0}")]
    ClickHouse(String),
}

/// A dashboard panel's query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panel {
    /// `<dashboard>.<panel>`, e.g. `sales.revenue`.
    pub name: String,
    /// The panel's title.
    pub title: String,
    /// Its SQL, macros and variables unexpanded.
    pub sql: String,
}

#[derive(Deserialize)]
struct Dashboard {
    panels: Vec<DashboardPanel>,
}

#[derive(Deserialize)]
struct DashboardPanel {
    title: String,
    targets: Vec<Target>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    raw_sql: String,
}

fn slug(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_owned()
}

/// Every panel of every dashboard, in dashboard order.
pub fn panels() -> Result<Vec<Panel>, QueryError> {
    let mut panels = Vec::new();
    for (stem, json) in DASHBOARDS {
        let dashboard: Dashboard =
            serde_json::from_str(json).map_err(|e| QueryError::Dashboard((*stem).to_owned(), e))?;
        for panel in dashboard.panels {
            for target in panel.targets {
                panels.push(Panel {
                    name: format!("{stem}.{}", slug(&panel.title)),
                    title: panel.title.clone(),
                    sql: target.raw_sql,
                });
            }
        }
    }
    Ok(panels)
}

/// The panel named `name`.
pub fn panel(name: &str) -> Result<Panel, QueryError> {
    panels()?
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| QueryError::Unknown(name.to_owned()))
}

/// What a dashboard is looking at: the time range and the template variables.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// Start of the time picker's range.
    pub from: DateTime<Utc>,
    /// End of the range.
    pub to: DateTime<Utc>,
    /// `$tenant`.
    pub tenant: Uuid,
    /// `$store`; none is every store.
    pub store: Option<Uuid>,
}

/// `sql` with the plugin's macros (`$__timeFilter(c)`, `$__dateFilter(c)`,
/// `$__fromTime`, `$__toTime`) and the variables (`${tenant}`, `${store}`) expanded. The
/// variables are ids, so splicing them cannot change the query's shape.
pub fn expand(sql: &str, view: &View) -> Result<String, QueryError> {
    let datetime = |t: DateTime<Utc>| format!("toDateTime({})", t.timestamp());
    let date = |t: DateTime<Utc>| format!("toDate('{}')", t.format("%Y-%m-%d"));
    let store = view.store.map(|s| s.to_string()).unwrap_or_default();
    let mut out = sql
        .replace("${tenant}", &view.tenant.to_string())
        .replace("$tenant", &view.tenant.to_string())
        .replace("${store}", &store)
        .replace("$store", &store);
    while let Some(start) = out.find("$__") {
        let rest = &out[start + 3..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let after = start + 3 + name.len();
        let (replacement, end) = match name.as_str() {
            "fromTime" => (datetime(view.from), after),
            "toTime" => (datetime(view.to), after),
            "timeFilter" | "dateFilter" => {
                let close = out[after..]
                    .find(')')
                    .filter(|_| out[after..].starts_with('('))
                    .ok_or_else(|| QueryError::Macro(format!("$__{name}")))?;
                let column = out[after + 1..after + close].trim().to_owned();
                let (from, to) = if name == "timeFilter" {
                    (datetime(view.from), datetime(view.to))
                } else {
                    (date(view.from), date(view.to))
                };
                (
                    format!("{column} >= {from} AND {column} <= {to}"),
                    after + close + 1,
                )
            }
            _ => return Err(QueryError::Macro(format!("$__{name}"))),
        };
        out.replace_range(start..end, &replacement);
    }
    Ok(out)
}

/// A query's result: column names, then rows, every value as ClickHouse printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<String>>,
}

/// Runs `sql` on `database` over ClickHouse's HTTP interface: dashboards' results have
/// any shape, so they come back as text.
pub async fn run(clickhouse_url: &str, database: &str, sql: &str) -> Result<Table, QueryError> {
    let failed = |e: reqwest::Error| QueryError::ClickHouse(e.to_string());
    let response = reqwest::Client::new()
        .post(clickhouse_url)
        .query(&[("database", database)])
        .body(format!("{sql} FORMAT TabSeparatedWithNames"))
        .send()
        .await
        .map_err(failed)?;
    let status = response.status();
    let text = response.text().await.map_err(failed)?;
    if !status.is_success() {
        return Err(QueryError::ClickHouse(text.trim().to_owned()));
    }
    let mut lines = text.lines();
    let columns = lines
        .next()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .unwrap_or_default();
    let rows = lines
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect();
    Ok(Table { columns, rows })
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.chars().count()).collect();
        for row in &self.rows {
            for (i, value) in row.iter().enumerate() {
                if let Some(width) = widths.get_mut(i) {
                    *width = (*width).max(value.chars().count());
                }
            }
        }
        let line = |f: &mut std::fmt::Formatter<'_>, values: &[String]| {
            let cells: Vec<String> = values
                .iter()
                .zip(&widths)
                .map(|(v, w)| format!("{v:<w$}"))
                .collect();
            writeln!(f, "{}", cells.join("  ").trim_end())
        };
        line(f, &self.columns)?;
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(f, &rule)?;
        for row in &self.rows {
            line(f, row)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> View {
        View {
            from: "2026-11-18T00:00:00Z".parse().unwrap(),
            to: "2026-11-18T23:59:59Z".parse().unwrap(),
            tenant: Uuid::nil(),
            store: None,
        }
    }

    #[test]
    fn macros_expand_as_the_plugin_expands_them() {
        let sql = "SELECT 1 FROM t WHERE tenant_id = '${tenant}' AND ('${store}' = '' OR store_id = '$store') \
                   AND $__timeFilter(issued_at) AND $__dateFilter( day ) AND x BETWEEN $__fromTime AND $__toTime";
        assert_eq!(
            expand(sql, &view()).unwrap(),
            "SELECT 1 FROM t WHERE tenant_id = '00000000-0000-0000-0000-000000000000' AND ('' = '' OR store_id = '') \
             AND issued_at >= toDateTime(1794960000) AND issued_at <= toDateTime(1795046399) \
             AND day >= toDate('2026-11-18') AND day <= toDate('2026-11-18') \
             AND x BETWEEN toDateTime(1794960000) AND toDateTime(1795046399)"
        );
        assert!(matches!(
            expand("SELECT $__timeInterval(t)", &view()),
            Err(QueryError::Macro(_))
        ));
    }

    #[test]
    fn every_panel_has_a_unique_name_and_expands() {
        let panels = panels().unwrap();
        assert!(panels.len() >= 15, "{}", panels.len());
        let mut names: Vec<&str> = panels.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), panels.len());
        for panel in &panels {
            let sql = expand(&panel.sql, &view()).unwrap();
            assert!(!sql.contains('$'), "{}: {sql}", panel.name);
        }
        assert!(panel("sales.revenue").is_ok());
        assert!(matches!(panel("sales.nope"), Err(QueryError::Unknown(_))));
    }
}
