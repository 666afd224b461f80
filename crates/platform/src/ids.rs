//! Typed ids: a location id where a product id is wanted does not compile. Each is a
//! UUID to serde and to PostgreSQL, so rows, events and bodies keep their shape.

use std::fmt;

use uuid::Uuid;

macro_rules! ids {
    ($( $(#[$meta:meta])* $name:ident, )*) => {$(
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The UUID, for an event or a column typed as one.
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    )*};
}

ids! {
    /// A tenant: the company whose stores these are.
    TenantId,
    /// A store of a tenant.
    StoreId,
    /// A stock location: a store's stockroom or a warehouse.
    LocationId,
    /// A product of the catalog.
    ProductId,
    /// A customer.
    CustomerId,
    /// A vendor.
    VendorId,
    /// A sales invoice.
    InvoiceId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_uuid_to_serde() {
        let id = ProductId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", id.uuid()));
        assert_eq!(serde_json::from_str::<ProductId>(&json).unwrap(), id);
        assert_eq!(id.to_string(), id.uuid().to_string());
    }
}
