//! Partner rules without I/O: GSTINs and state codes (the platform's checks), phone
//! numbers, addresses, bank details, payment modes, and the ageing of a ledger.

use bazaar_platform::http::Invalid;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Code;
pub use bazaar_platform::gst::{gstin, state_code};

/// A phone number as stored and looked up: E.164. A bare 10-digit Indian mobile number
/// gets +91; spaces, dashes and brackets are ignored.
pub fn phone(field: &str, raw: &str) -> Result<String, Invalid> {
    let digits: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    let e164 = match digits.strip_prefix('+') {
        Some(rest) => rest.to_owned(),
        None if digits.len() == 10 && digits.starts_with(['6', '7', '8', '9']) => {
            format!("91{digits}")
        }
        None if digits.len() == 11 && digits.starts_with('0') => format!("91{}", &digits[1..]),
        None => digits.clone(),
    };
    if (8..=15).contains(&e164.len())
        && e164.bytes().all(|b| b.is_ascii_digit())
        && !e164.starts_with('0')
    {
        Ok(format!("+{e164}"))
    } else {
        Err(Invalid::new(
            field,
            Code::InvalidPhone,
            format!("{raw:?}: a 10-digit mobile number or +<country code><number>"),
        ))
    }
}

/// An email address, lowercased: one `@`, something either side, a dot in the domain.
pub fn email(field: &str, raw: &str) -> Result<String, Invalid> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.contains(char::is_whitespace);
    if valid {
        Ok(email)
    } else {
        Err(Invalid::new(
            field,
            Code::InvalidEmail,
            format!("{raw:?} is not an email address"),
        ))
    }
}

/// A postal address; the state code decides intra-state (CGST + SGST) or inter-state
/// (IGST) supply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// First line.
    pub line1: String,
    /// Second line.
    #[serde(default)]
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// GST state code.
    pub state_code: String,
    /// PIN code (6 digits).
    pub pincode: String,
}

impl Address {
    /// Checks and normalizes; `field` names the address in errors.
    pub fn checked(mut self, field: &str) -> Result<Self, Invalid> {
        self.line1 = text(&format!("{field}.line1"), &self.line1, 200)?;
        self.city = text(&format!("{field}.city"), &self.city, 100)?;
        self.line2 = self
            .line2
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty());
        self.state_code = state_code(&format!("{field}.state_code"), &self.state_code)?;
        let pincode = self.pincode.trim();
        if pincode.len() != 6
            || !pincode.bytes().all(|b| b.is_ascii_digit())
            || pincode.starts_with('0')
        {
            return Err(Invalid::new(
                format!("{field}.pincode"),
                Code::InvalidPincode,
                "6 digits",
            ));
        }
        self.pincode = pincode.to_owned();
        Ok(self)
    }
}

/// Trimmed text of 1 to `max` characters.
pub fn text(field: &str, raw: &str, max: usize) -> Result<String, Invalid> {
    let text = raw.trim();
    if text.is_empty() || text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(Invalid::new(
            field,
            Code::InvalidText,
            format!("1 to {max} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// Payment terms: 0 (cash) to 365 days.
pub fn payment_terms(field: &str, days: i32) -> Result<i32, Invalid> {
    if (0..=365).contains(&days) {
        Ok(days)
    } else {
        Err(Invalid::new(
            field,
            Code::InvalidPaymentTerms,
            "0 to 365 days",
        ))
    }
}

/// An Indian bank account: number (9 to 18 digits) and IFSC (4 letters, 0, 6 characters).
pub fn bank_account(number: &str, ifsc: &str) -> Result<(String, String), Invalid> {
    let number = number.trim();
    if !(9..=18).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid::new(
            "bank.account_number",
            Code::InvalidAccountNumber,
            "9 to 18 digits",
        ));
    }
    let ifsc = ifsc.trim().to_ascii_uppercase();
    let b = ifsc.as_bytes();
    let valid = b.len() == 11
        && b[..4].iter().all(u8::is_ascii_uppercase)
        && b[4] == b'0'
        && b[5..].iter().all(u8::is_ascii_alphanumeric);
    if !valid {
        return Err(Invalid::new(
            "bank.ifsc",
            Code::InvalidIfsc,
            "4 letters, 0, then 6 letters or digits",
        ));
    }
    Ok((number.to_owned(), ifsc))
}

/// An account number as responses show it: all but the last four digits hidden.
pub fn masked(number: &str) -> String {
    let keep = number.len().saturating_sub(4);
    format!("{}{}", "X".repeat(keep), &number[keep..])
}

/// How a payment was made.
pub fn payment_mode(raw: &str) -> Result<&'static str, Invalid> {
    ["cash", "card", "upi", "bank_transfer", "cheque"]
        .into_iter()
        .find(|m| *m == raw)
        .ok_or_else(|| {
            Invalid::new(
                "mode",
                Code::UnknownPaymentMode,
                "cash, card, upi, bank_transfer or cheque",
            )
        })
}

/// One ledger document still (partly) unpaid, and its age bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Ageing {
    /// Outstanding 0 to 30 days past the document date.
    pub days_0_30: i64,
    /// 31 to 60 days.
    pub days_31_60: i64,
    /// 61 to 90 days.
    pub days_61_90: i64,
    /// Over 90 days.
    pub days_over_90: i64,
}

/// Ages a ledger: amounts that increase what is owed (invoices) are paid off oldest
/// first by amounts that decrease it (payments, returns); what remains of each is
/// bucketed by its age on `today`. A net advance (more paid than owed) ages nothing.
pub fn ageing(entries: &[(NaiveDate, i64)], today: NaiveDate) -> Ageing {
    let mut owed: Vec<(NaiveDate, i64)> = entries.iter().filter(|(_, a)| *a > 0).copied().collect();
    owed.sort_by_key(|(date, _)| *date);
    let mut paid: i64 = entries
        .iter()
        .filter(|(_, a)| *a < 0)
        .map(|(_, a)| -a)
        .sum();
    let mut buckets = Ageing {
        days_0_30: 0,
        days_31_60: 0,
        days_61_90: 0,
        days_over_90: 0,
    };
    for (date, amount) in owed {
        let applied = paid.min(amount);
        paid -= applied;
        let left = amount - applied;
        if left == 0 {
            continue;
        }
        match (today - date).num_days() {
            ..=30 => buckets.days_0_30 += left,
            31..=60 => buckets.days_31_60 += left,
            61..=90 => buckets.days_61_90 += left,
            _ => buckets.days_over_90 += left,
        }
    }
    buckets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_become_e164() {
        assert_eq!(phone("p", "98450 12345").unwrap(), "+919845012345");
        assert_eq!(phone("p", "09845012345").unwrap(), "+919845012345");
        assert_eq!(phone("p", "+65 6123 4567").unwrap(), "+6561234567");
        assert_eq!(phone("p", "12345").unwrap_err().code, "invalid_phone");
        assert_eq!(phone("p", "98450-1234x").unwrap_err().code, "invalid_phone");
    }

    #[test]
    fn addresses_need_a_state_and_a_pincode() {
        let address = Address {
            line1: " 12 MG Road ".into(),
            line2: Some(" ".into()),
            city: "Bengaluru".into(),
            state_code: "29".into(),
            pincode: "560001".into(),
        };
        let checked = address.clone().checked("billing_address").unwrap();
        assert_eq!(
            (checked.line1.as_str(), checked.line2),
            ("12 MG Road", None)
        );
        let bad = Address {
            state_code: "40".into(),
            ..address.clone()
        };
        assert_eq!(
            bad.checked("billing_address").unwrap_err().field,
            "billing_address.state_code"
        );
        let bad = Address {
            pincode: "56001".into(),
            ..address
        };
        assert_eq!(
            bad.checked("shipping_address").unwrap_err().code,
            "invalid_pincode"
        );
    }

    #[test]
    fn bank_accounts_are_checked_and_masked() {
        assert_eq!(
            bank_account("50100123456789", "hdfc0001234").unwrap().1,
            "HDFC0001234"
        );
        assert_eq!(
            bank_account("5010", "HDFC0001234").unwrap_err().code,
            "invalid_account_number"
        );
        assert_eq!(
            bank_account("50100123456789", "HDFC1001234")
                .unwrap_err()
                .code,
            "invalid_ifsc"
        );
        assert_eq!(masked("50100123456789"), "XXXXXXXXXX6789");
    }

    #[test]
    fn ageing_pays_the_oldest_first() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let today = d("2026-11-21");
        let entries = [
            (d("2026-07-01"), 10_000), // 143 days
            (d("2026-09-10"), 20_000), // 72 days
            (d("2026-10-15"), 5_000),  // 37 days
            (d("2026-11-20"), 7_000),  // 1 day
            (d("2026-11-01"), -12_000),
        ];
        assert_eq!(
            ageing(&entries, today),
            Ageing {
                days_0_30: 7_000,
                days_31_60: 5_000,
                days_61_90: 18_000,
                days_over_90: 0
            }
        );
        // Paid in advance: nothing to age.
        assert_eq!(ageing(&[(d("2026-11-01"), -500)], today).days_0_30, 0);
    }
}
