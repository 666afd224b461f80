//! The services this binary can run: each bounded context under `services/` exports its
//! descriptor (database name, migrations, router, OpenAPI document, projections) and
//! adds it here.

pub(crate) use bazaar_platform::service::Service;

/// Every service, in start-up order.
pub(crate) const ALL: &[Service] = &[
    bazaar_identity::DESCRIPTOR,
    bazaar_catalog::DESCRIPTOR,
    bazaar_inventory::DESCRIPTOR,
    bazaar_partners::DESCRIPTOR,
    bazaar_purchase::DESCRIPTOR,
    bazaar_sales::DESCRIPTOR,
    bazaar_finance::DESCRIPTOR,
];

/// The service whose projection is `name`, and the projection.
pub(crate) fn consumer(
    name: &str,
) -> Option<(
    &'static Service,
    &'static bazaar_platform::service::Consumer,
)> {
    ALL.iter()
        .flat_map(|service| service.consumers.iter().map(move |c| (service, c)))
        .find(|(_, consumer)| consumer.name == name)
}

/// Every projection's name, as `bazaar consume` takes it (the analytics ingest too).
pub(crate) fn consumer_names() -> Vec<&'static str> {
    ALL.iter()
        .flat_map(|service| service.consumers.iter().map(|c| c.name))
        .chain([bazaar_analytics::ingest::NAME])
        .collect()
}

/// The services named on the command line, or all of them with `--all`.
pub(crate) fn select(names: &[String], all: bool) -> anyhow::Result<Vec<&'static Service>> {
    if all {
        return Ok(ALL.iter().collect());
    }
    names
        .iter()
        .map(|name| {
            ALL.iter().find(|s| s.name == name).ok_or_else(|| {
                let known: Vec<&str> = ALL.iter().map(|s| s.name).collect();
                anyhow::anyhow!(
                    "unknown service {name:?}; known services: {}",
                    if known.is_empty() {
                        "none yet".to_owned()
                    } else {
                        known.join(", ")
                    }
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::ALL;

    /// `./dev up` starts every projection the services declare, and nothing else.
    #[test]
    fn dev_up_runs_every_projection_once() {
        let dev = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/dev")).unwrap();
        let line = dev
            .lines()
            .find_map(|l| l.strip_prefix("CONSUMERS=("))
            .expect("dev lists its CONSUMERS");
        let mut started: Vec<&str> = line.trim_end_matches(')').split_whitespace().collect();
        let mut declared = super::consumer_names();
        started.sort_unstable();
        declared.sort_unstable();
        assert_eq!(started, declared);
        declared.dedup();
        assert_eq!(
            declared.len(),
            started.len(),
            "two projections share a name"
        );
    }

    /// Merging the services' documents keeps the first schema of a name: two services
    /// naming different shapes alike would document one service's body with the other's.
    #[test]
    fn no_two_services_name_different_schemas_alike() {
        let mut seen: BTreeMap<String, (&str, String)> = BTreeMap::new();
        let mut collisions = Vec::new();
        for service in ALL {
            let document = (service.openapi)();
            for (name, schema) in document.components.map(|c| c.schemas).unwrap_or_default() {
                let shape = serde_json::to_string(&schema).unwrap();
                match seen.get(&name) {
                    Some((other, seen_shape)) if *seen_shape != shape => {
                        collisions.push(format!("{name}: {other} and {}", service.name));
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(name, (service.name, shape));
                    }
                }
            }
        }
        assert!(collisions.is_empty(), "{collisions:#?}");
    }

    /// The backquoted words of `document`'s 4xx and 5xx response descriptions: the codes
    /// an operation promises, with the status it promises them under.
    fn promised(document: &serde_json::Value) -> BTreeSet<(String, u16, String)> {
        let mut codes = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let Some(responses) = operation["responses"].as_object() else {
                    continue;
                };
                for (status, response) in responses {
                    let Ok(status) = status.parse::<u16>() else {
                        continue;
                    };
                    if status < 400 {
                        continue;
                    }
                    let description = response["description"].as_str().unwrap_or_default();
                    for word in description.split('`').skip(1).step_by(2) {
                        codes.insert((format!("{method} {path}"), status, word.to_owned()));
                    }
                }
            }
        }
        codes
    }

    /// The codes in the documentation and the codes in the code are one list: every code
    /// an operation promises is declared (by the service or the platform) with the status
    /// it is promised under, and every code a service declares is promised by one of its
    /// operations. A code renamed in one place and not the other fails here.
    #[test]
    fn documented_problem_codes_are_the_declared_ones() {
        use bazaar_platform::http::{self, PlatformCode};
        let mut wrong = Vec::new();
        let mut checked = 0;
        for service in ALL {
            let declared: BTreeSet<(u16, &str)> = service
                .problems
                .iter()
                .chain(PlatformCode::ALL)
                .map(|c| (c.status().as_u16(), c.as_str()))
                .collect();
            let document = serde_json::to_value(http::openapi([service.document()])).unwrap();
            let promised = promised(&document);
            for (operation, status, code) in &promised {
                checked += 1;
                if !declared.contains(&(*status, code.as_str())) {
                    wrong.push(format!(
                        "{}: {operation} promises `{code}` as {status}, which is not declared",
                        service.name
                    ));
                }
            }
            for code in service.problems {
                let status = code.status().as_u16();
                if !promised
                    .iter()
                    .any(|(_, s, c)| *s == status && c == code.as_str())
                {
                    wrong.push(format!(
                        "{}: `{code}` ({status}) is declared and no operation documents it",
                        service.name
                    ));
                }
            }
        }
        assert!(checked > 100, "only {checked} documented codes found");
        assert!(
            wrong.is_empty(),
            "{} problems:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }
}
