//! Every problem `code` a service's OpenAPI document promises on an error response is one
//! its code can answer: the codes are written by hand in the route attributes, and a code
//! renamed in a handler and not in its documentation would send clients looking for an
//! answer that never comes.

use std::{collections::BTreeSet, fs, path::Path};

use bazaar_platform::service::Service;

const SERVICES: &[Service] = &[
    bazaar_identity::DESCRIPTOR,
    bazaar_catalog::DESCRIPTOR,
    bazaar_inventory::DESCRIPTOR,
    bazaar_partners::DESCRIPTOR,
    bazaar_purchase::DESCRIPTOR,
    bazaar_sales::DESCRIPTOR,
    bazaar_finance::DESCRIPTOR,
];

/// Every string literal of the Rust files below `dir` that could be a code.
fn literals(dir: &Path, found: &mut BTreeSet<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            literals(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).unwrap();
            for piece in text.split('"').skip(1).step_by(2) {
                if !piece.is_empty()
                    && piece
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    found.insert(piece.to_owned());
                }
            }
        }
    }
}

/// The backquoted words of the descriptions of `document`'s 4xx and 5xx responses.
fn documented(document: &serde_json::Value) -> BTreeSet<(String, String)> {
    let mut codes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(responses) = operation["responses"].as_object() else {
                continue;
            };
            for (status, response) in responses {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let description = response["description"].as_str().unwrap_or_default();
                for (n, word) in description.split('`').enumerate() {
                    let code_like = !word.is_empty()
                        && word
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                    if n % 2 == 1 && code_like {
                        codes.insert((format!("{method} {path}"), word.to_owned()));
                    }
                }
            }
        }
    }
    codes
}

#[test]
fn every_documented_error_code_is_one_the_service_answers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut platform = BTreeSet::new();
    literals(&root.join("crates/platform/src"), &mut platform);
    literals(&root.join("crates/gst/src"), &mut platform);
    let mut missing = Vec::new();
    let mut checked = 0;
    for service in SERVICES {
        let mut answered = platform.clone();
        literals(
            &root.join("services").join(service.name).join("src"),
            &mut answered,
        );
        let document = serde_json::to_value((service.openapi)()).unwrap();
        for (operation, code) in documented(&document) {
            checked += 1;
            if !answered.contains(&code) {
                missing.push(format!("{}: {operation} documents `{code}`", service.name));
            }
        }
    }
    assert!(checked > 100, "only {checked} documented codes found");
    assert!(
        missing.is_empty(),
        "documented but never answered:\n{}",
        missing.join("\n")
    );
}
