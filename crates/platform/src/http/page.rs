//! `?page=&limit=` of every list, with a hard cap so no request can ask for a table.

use serde::Deserialize;

/// Rows a list returns when `limit` is not given.
const DEFAULT_LIMIT: u32 = 50;
/// The most rows one page may hold.
pub const MAX_LIMIT: u32 = 200;

/// A page of a list: `page` counts from 1, `limit` is 1 to [`MAX_LIMIT`]. Out-of-range
/// values are refused (400 `invalid_query`), never silently clamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[serde(try_from = "RawPage")]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Page number, from 1 (default 1).
    #[param(minimum = 1, default = 1)]
    page: u32,
    /// Rows per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: u32,
}

#[derive(Deserialize)]
struct RawPage {
    page: Option<u32>,
    limit: Option<u32>,
}

impl TryFrom<RawPage> for Page {
    type Error = String;

    fn try_from(raw: RawPage) -> Result<Self, String> {
        let page = raw.page.unwrap_or(1);
        let limit = raw.limit.unwrap_or(DEFAULT_LIMIT);
        if page == 0 {
            return Err("page counts from 1".to_owned());
        }
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(format!("limit must be 1 to {MAX_LIMIT}, not {limit}"));
        }
        Ok(Self { page, limit })
    }
}

impl Default for Page {
    fn default() -> Self {
        Self {
            page: 1,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl Page {
    /// `LIMIT` of the page's query.
    pub fn limit(&self) -> i64 {
        i64::from(self.limit)
    }

    /// `OFFSET` of the page's query.
    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.limit)
    }
}
