//! The chart of accounts: every tenant starts from an Indian retail template and may add
//! accounts. The posting rules name accounts by the role they play, so a tenant can
//! renumber nothing the rules depend on.

use std::collections::HashMap;

use sqlx::PgConnection;
use uuid::Uuid;

/// What an account is, which decides its side of the balance sheet or the P&L.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// What the business owns; a debit balance.
    Asset,
    /// What it owes; a credit balance.
    Liability,
    /// The owners' stake; a credit balance.
    Equity,
    /// Sales and other income; a credit balance.
    Income,
    /// Costs; a debit balance.
    Expense,
}

impl Kind {
    /// The kind's code in the database and the API.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Asset => "asset",
            Kind::Liability => "liability",
            Kind::Equity => "equity",
            Kind::Income => "income",
            Kind::Expense => "expense",
        }
    }

    /// The kind named `code`.
    pub fn parse(code: &str) -> Option<Kind> {
        [
            Kind::Asset,
            Kind::Liability,
            Kind::Equity,
            Kind::Income,
            Kind::Expense,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }

    /// Whether its balance is normally a debit.
    pub fn debit_normal(self) -> bool {
        matches!(self, Kind::Asset | Kind::Expense)
    }
}

/// The role an account plays for the posting rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Cash in the tills and the safe.
    Cash,
    /// Bank accounts: transfers and cheques.
    Bank,
    /// Card payments the acquirer has yet to settle.
    CardClearing,
    /// UPI payments the bank has yet to settle.
    UpiClearing,
    /// What customers owe.
    Receivables,
    /// Stock at cost.
    Inventory,
    /// Stock dispatched between locations and not yet received.
    StockInTransit,
    /// Central GST paid on purchases, claimable.
    InputCgst,
    /// State GST paid on purchases, claimable.
    InputSgst,
    /// Integrated GST paid on purchases, claimable.
    InputIgst,
    /// Cess paid on purchases, claimable.
    InputCess,
    /// What vendors are owed.
    Payables,
    /// Goods received and not yet invoiced by the vendor.
    GoodsReceivedNotInvoiced,
    /// Central GST charged on sales, owed to the government.
    OutputCgst,
    /// State GST charged on sales.
    OutputSgst,
    /// Integrated GST charged on sales.
    OutputIgst,
    /// Cess charged on sales.
    OutputCess,
    /// Salaries earned and not yet paid.
    SalariesPayable,
    /// PF, ESI, professional tax and TDS withheld.
    StatutoryPayables,
    /// Credit notes given as store credit.
    StoreCredit,
    /// Loyalty points customers may spend.
    LoyaltyLiability,
    /// What the owners put in, and opening balances.
    Capital,
    /// Profits kept from earlier years.
    RetainedEarnings,
    /// Taxable value of sales.
    Sales,
    /// Taxable value of goods customers returned.
    SalesReturns,
    /// Invoice totals rounded to the rupee.
    RoundOff,
    /// Cost of the goods sold.
    CostOfGoodsSold,
    /// Stock damaged, stolen, expired or miscounted (less stock found).
    Shrinkage,
    /// The difference between what a vendor invoiced and the receipt's cost.
    PurchasePriceVariance,
    /// Salaries.
    Salaries,
    /// Sales commissions.
    Commissions,
    /// Loyalty points customers spent, at their value.
    LoyaltyCost,
}

/// The template: code, name, kind, role.
pub const TEMPLATE: &[(&str, &str, Kind, Role)] = &[
    ("1000", "Cash in hand", Kind::Asset, Role::Cash),
    ("1010", "Bank", Kind::Asset, Role::Bank),
    (
        "1020",
        "Card settlements receivable",
        Kind::Asset,
        Role::CardClearing,
    ),
    (
        "1030",
        "UPI settlements receivable",
        Kind::Asset,
        Role::UpiClearing,
    ),
    ("1100", "Trade receivables", Kind::Asset, Role::Receivables),
    ("1200", "Inventory", Kind::Asset, Role::Inventory),
    (
        "1210",
        "Stock in transit",
        Kind::Asset,
        Role::StockInTransit,
    ),
    ("1300", "Input CGST", Kind::Asset, Role::InputCgst),
    ("1310", "Input SGST", Kind::Asset, Role::InputSgst),
    ("1320", "Input IGST", Kind::Asset, Role::InputIgst),
    ("1330", "Input cess", Kind::Asset, Role::InputCess),
    ("2000", "Trade payables", Kind::Liability, Role::Payables),
    (
        "2010",
        "Goods received not invoiced",
        Kind::Liability,
        Role::GoodsReceivedNotInvoiced,
    ),
    ("2100", "Output CGST", Kind::Liability, Role::OutputCgst),
    ("2110", "Output SGST", Kind::Liability, Role::OutputSgst),
    ("2120", "Output IGST", Kind::Liability, Role::OutputIgst),
    ("2130", "Output cess", Kind::Liability, Role::OutputCess),
    (
        "2200",
        "Salaries payable",
        Kind::Liability,
        Role::SalariesPayable,
    ),
    (
        "2210",
        "Statutory payables (PF, ESI, PT, TDS)",
        Kind::Liability,
        Role::StatutoryPayables,
    ),
    ("2300", "Store credit", Kind::Liability, Role::StoreCredit),
    (
        "2310",
        "Loyalty points",
        Kind::Liability,
        Role::LoyaltyLiability,
    ),
    ("3000", "Capital", Kind::Equity, Role::Capital),
    (
        "3100",
        "Retained earnings",
        Kind::Equity,
        Role::RetainedEarnings,
    ),
    ("4000", "Sales", Kind::Income, Role::Sales),
    ("4010", "Sales returns", Kind::Income, Role::SalesReturns),
    ("4900", "Round-off", Kind::Income, Role::RoundOff),
    (
        "5000",
        "Cost of goods sold",
        Kind::Expense,
        Role::CostOfGoodsSold,
    ),
    ("5010", "Shrinkage", Kind::Expense, Role::Shrinkage),
    (
        "5020",
        "Purchase price variance",
        Kind::Expense,
        Role::PurchasePriceVariance,
    ),
    ("5100", "Salaries", Kind::Expense, Role::Salaries),
    ("5110", "Commissions", Kind::Expense, Role::Commissions),
    (
        "5120",
        "Loyalty points redeemed",
        Kind::Expense,
        Role::LoyaltyCost,
    ),
];

impl Role {
    /// The role's code in the database.
    pub fn code(self) -> String {
        format!("{self:?}")
    }

    /// The template's account for the role.
    pub fn template(self) -> (&'static str, &'static str, Kind) {
        let (code, name, kind, _) = TEMPLATE
            .iter()
            .find(|(.., role)| *role == self)
            .expect("every role has a template account");
        (code, name, *kind)
    }
}

/// Gives `tenant` the template chart unless it has its accounts already.
pub async fn ensure(tx: &mut PgConnection, tenant: Uuid) -> Result<(), sqlx::Error> {
    let seeded: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM accounts WHERE tenant_id = $1)")
            .bind(tenant)
            .fetch_one(&mut *tx)
            .await?;
    if !seeded {
        create(tx, tenant).await?;
    }
    Ok(())
}

/// The tenant's account code for each role the rules post to. A tenant without a chart
/// gets the template's, in `tx`: its first posting needs no second look.
pub async fn role_codes(
    tx: &mut PgConnection,
    tenant: Uuid,
) -> Result<HashMap<Role, String>, sqlx::Error> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT role, code FROM accounts WHERE tenant_id = $1 AND role IS NOT NULL")
            .bind(tenant)
            .fetch_all(&mut *tx)
            .await?;
    if rows.is_empty() {
        create(tx, tenant).await?;
    }
    Ok(TEMPLATE
        .iter()
        .map(|(code, .., role)| {
            let code = rows
                .iter()
                .find(|(r, _)| *r == role.code())
                .map_or(*code, |(_, code)| code.as_str());
            (*role, code.to_owned())
        })
        .collect())
}

/// Writes the template chart for `tenant`; accounts it has already are kept.
async fn create(tx: &mut PgConnection, tenant: Uuid) -> Result<(), sqlx::Error> {
    let codes: Vec<&str> = TEMPLATE.iter().map(|a| a.0).collect();
    let names: Vec<&str> = TEMPLATE.iter().map(|a| a.1).collect();
    let kinds: Vec<&str> = TEMPLATE.iter().map(|a| a.2.code()).collect();
    let roles: Vec<String> = TEMPLATE.iter().map(|a| a.3.code()).collect();
    sqlx::query(
        "INSERT INTO accounts (tenant_id, code, name, kind, role) \
         SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[]) ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(&codes)
    .bind(&names)
    .bind(&kinds)
    .bind(&roles)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_has_one_template_account_and_codes_are_unique() {
        let mut codes: Vec<&str> = TEMPLATE.iter().map(|a| a.0).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), TEMPLATE.len());
        let mut roles: Vec<Role> = TEMPLATE.iter().map(|a| a.3).collect();
        roles.sort();
        roles.dedup();
        assert_eq!(roles.len(), TEMPLATE.len());
        assert_eq!(Role::CardClearing.template().0, "1020");
    }
}
