//! `bazaar identity bootstrap|rotate-key`: what an operator does before anyone can log in.

use bazaar_platform::{db, Settings};
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum IdentityCommand {
    /// Create a tenant (a retail chain), its stores and its owner, and the first token
    /// signing key if there is none.
    Bootstrap {
        /// What users type at login: lowercase letters, digits and dashes.
        #[arg(long)]
        slug: String,
        /// The chain's display name.
        #[arg(long)]
        name: String,
        /// The owner's email.
        #[arg(long)]
        email: String,
        /// The owner's password (10 to 128 characters).
        #[arg(long, env = "BAZAAR_BOOTSTRAP_PASSWORD", hide_env_values = true)]
        password: String,
        /// A store to open, as CODE=Name; repeat for more.
        #[arg(long = "store", value_parser = parse_store)]
        stores: Vec<(String, String)>,
    },
    /// Add a token signing key; it signs after --publish-delay-secs, and keys whose
    /// tokens have all expired are retired. Run it on a schedule (e.g. monthly).
    RotateKey {
        /// How long the new key is published before it signs; longer than the
        /// verifiers' key refresh cooldown (30 s).
        #[arg(long, default_value_t = 60)]
        publish_delay_secs: u64,
    },
}

fn parse_store(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((code, name)) if !code.trim().is_empty() && !name.trim().is_empty() => {
            Ok((code.trim().to_owned(), name.trim().to_owned()))
        }
        _ => Err(format!("{value:?} is not CODE=Name")),
    }
}

pub(super) async fn run(settings: &Settings, command: IdentityCommand) -> anyhow::Result<()> {
    let pool = db::prepare(
        settings,
        bazaar_identity::SERVICE,
        bazaar_identity::migrator(),
    )
    .await?;
    match command {
        IdentityCommand::Bootstrap {
            slug,
            name,
            email,
            password,
            stores,
        } => {
            let request = bazaar_identity::Bootstrap {
                slug: slug.clone(),
                name,
                email: email.clone(),
                password,
                stores: stores.clone(),
            };
            let created = bazaar_identity::bootstrap(&pool, request).await?;
            out!("tenant {slug} created: {}", created.tenant);
            out!("owner  {email}: {}", created.owner);
            for ((code, _), id) in stores.iter().zip(&created.stores) {
                out!("store  {code}: {id}");
            }
        }
        IdentityCommand::RotateKey { publish_delay_secs } => {
            let rotation = bazaar_identity::keys::rotate(
                &pool,
                std::time::Duration::from_secs(publish_delay_secs),
            )
            .await?;
            out!(
                "key {} published; it signs from {}",
                rotation.kid,
                rotation.signs_from.to_rfc3339()
            );
            for kid in rotation.retired {
                out!("key {kid} retired");
            }
        }
    }
    pool.close().await;
    Ok(())
}
