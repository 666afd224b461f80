//! The services this binary can run. Each bounded context under `services/` adds one
//! entry: its database name, its migrations, its router and its OpenAPI document.

use axum::Router;
use bazaar_platform::ServiceContext;
use sqlx::migrate::Migrator;

/// One bounded context, as `bazaar serve` and `bazaar migrate` see it.
pub(crate) struct Service {
    /// Also the name of its database and of `migrations/<name>/`.
    pub(crate) name: &'static str,
    /// `sqlx::migrate!("../../migrations/<name>")`.
    pub(crate) migrator: fn() -> Migrator,
    pub(crate) router: fn(ServiceContext) -> Router,
    pub(crate) openapi: fn() -> utoipa::openapi::OpenApi,
}

/// Every service, in start-up order.
pub(crate) const ALL: &[Service] = &[
    Service {
        name: bazaar_identity::SERVICE,
        migrator: bazaar_identity::migrator,
        router: bazaar_identity::router,
        openapi: bazaar_identity::openapi,
    },
    Service {
        name: bazaar_catalog::SERVICE,
        migrator: bazaar_catalog::migrator,
        router: bazaar_catalog::router,
        openapi: bazaar_catalog::openapi,
    },
    Service {
        name: bazaar_inventory::SERVICE,
        migrator: bazaar_inventory::migrator,
        router: bazaar_inventory::router,
        openapi: bazaar_inventory::openapi,
    },
    Service {
        name: bazaar_partners::SERVICE,
        migrator: bazaar_partners::migrator,
        router: bazaar_partners::router,
        openapi: bazaar_partners::openapi,
    },
    Service {
        name: bazaar_purchase::SERVICE,
        migrator: bazaar_purchase::migrator,
        router: bazaar_purchase::router,
        openapi: bazaar_purchase::openapi,
    },
    Service {
        name: bazaar_sales::SERVICE,
        migrator: bazaar_sales::migrator,
        router: bazaar_sales::router,
        openapi: bazaar_sales::openapi,
    },
    Service {
        name: bazaar_finance::SERVICE,
        migrator: bazaar_finance::migrator,
        router: bazaar_finance::router,
        openapi: bazaar_finance::openapi,
    },
];

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
    use std::collections::BTreeMap;

    use super::ALL;

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
}
