//! GST identifiers every service checks the same way: state codes and GSTINs.

use crate::http::Invalid;
use crate::http::PlatformCode;

const GSTIN_ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// GST state and union-territory codes (97: other territory).
const STATE_CODES: &[&str] = &[
    "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16",
    "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31", "32",
    "33", "34", "35", "36", "37", "38", "97",
];

/// A GST state code: `29` is Karnataka, `27` Maharashtra.
pub fn state_code(field: &str, raw: &str) -> Result<String, Invalid> {
    let code = raw.trim();
    if STATE_CODES.contains(&code) {
        Ok(code.to_owned())
    } else {
        Err(Invalid::new(
            field,
            PlatformCode::InvalidStateCode,
            format!("{code:?} is not a GST state code (01 to 38, or 97)"),
        ))
    }
}

/// The GSTIN check character of its first 14 characters (GSTN's mod-36 scheme).
pub fn gstin_check_character(first14: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, c) in first14.iter().enumerate() {
        let value = GSTIN_ALPHABET.iter().position(|a| a == c)? as u32;
        let product = value * if i % 2 == 0 { 1 } else { 2 };
        sum += product / 36 + product % 36;
    }
    Some(GSTIN_ALPHABET[((36 - sum % 36) % 36) as usize])
}

/// A GSTIN: state code, PAN (5 letters, 4 digits, a letter), entity number, `Z`, and a
/// check character. Uppercased.
pub fn gstin(field: &str, raw: &str) -> Result<String, Invalid> {
    let gstin = raw.trim().to_ascii_uppercase();
    let bytes = gstin.as_bytes();
    let shape = bytes.len() == 15
        && bytes[..2].iter().all(u8::is_ascii_digit)
        && bytes[2..7].iter().all(u8::is_ascii_uppercase)
        && bytes[7..11].iter().all(u8::is_ascii_digit)
        && bytes[11].is_ascii_uppercase()
        && (bytes[12].is_ascii_uppercase() || (b'1'..=b'9').contains(&bytes[12]))
        && bytes[13] == b'Z'
        && bytes[14].is_ascii_alphanumeric();
    if !shape {
        return Err(Invalid::new(
            field,
            PlatformCode::InvalidGstin,
            "15 characters: state code, PAN, entity number, Z, check character",
        ));
    }
    state_code(field, &gstin[..2]).map_err(|_| {
        Invalid::new(
            field,
            PlatformCode::InvalidGstin,
            format!("{} is not a GST state code", &gstin[..2]),
        )
    })?;
    if gstin_check_character(&bytes[..14]) != Some(bytes[14]) {
        return Err(Invalid::new(
            field,
            PlatformCode::InvalidGstinCheckCharacter,
            "the last character does not match the GSTIN",
        ));
    }
    Ok(gstin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gstins_are_checked_to_the_last_character() {
        // Real-format examples; the check characters are GSTN's.
        assert_eq!(gstin("g", "27aapfu0939f1zv").unwrap(), "27AAPFU0939F1ZV");
        assert_eq!(gstin("g", "29AAGCB7383J1Z4").unwrap(), "29AAGCB7383J1Z4");
        assert_eq!(
            gstin("g", "27AAPFU0939F1ZW").unwrap_err().code,
            "invalid_gstin_check_character"
        );
        assert_eq!(
            gstin("g", "27AAPFU0939F1Z").unwrap_err().code,
            "invalid_gstin"
        );
        assert_eq!(
            gstin("g", "99AAPFU0939F1ZV").unwrap_err().code,
            "invalid_gstin"
        );
        assert_eq!(
            gstin("g", "27AAPF10939F1ZV").unwrap_err().code,
            "invalid_gstin"
        );
    }
}
