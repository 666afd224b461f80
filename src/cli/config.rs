//! `bazaar config`: every variable, its value (passwords hidden) and what it expects.

use bazaar_platform::config::VARIABLES;

pub(super) fn print_config() {
    for (variable, default, expected) in VARIABLES {
        let value = std::env::var(variable).ok().filter(|v| !v.is_empty());
        let shown = match (&value, default) {
            (Some(v), _) => redact(v),
            (None, Some(d)) => format!("{d} (default)"),
            (None, None) => "(unset)".to_owned(),
        };
        out!("{variable:<30} {shown}\n{:<30} {expected}", "");
    }
}

/// Hides the password of a URL.
fn redact(value: &str) -> String {
    match (value.find("://"), value.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &value[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &value[..scheme + 3], &value[at..]),
                None => value.to_owned(),
            }
        }
        _ => value.to_owned(),
    }
}
