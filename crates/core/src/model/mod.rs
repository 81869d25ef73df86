//! The things Onramp talks about: customers, connections, sites, providers.
//!
//! Every type here crosses to the UI; its TypeScript twin is generated into
//! `ui/src/lib/bindings.ts` (see `bindings.rs`). Field names stay snake_case on both sides.
//!
//! One file per concern, every type re-exported here (`model::Connection`, never the file's
//! path):
//!
//! | file | holds |
//! |---|---|
//! | `provider.rs` | [`ProviderId`] (the `providers!` list), [`Category`], the UI's [`ProviderInfo`] and key fields |
//! | `customers.rs` | customers, the customers list, a customer's page |
//! | `connections.rs` | connections, their states, credentials, details and sites (stored and the vendor's) |
//! | `health.rs` | the health board ([`HealthItem`], [`Who`], [`Urgency`]) and the shell's events |
//! | `events.rs` | the activity log: [`EventKind`] and [`Event`] |
//! | `usage.rs` | usage summaries, month by month |
//! | `sign_in.rs` | what a sign-in offers, how it comes back, where it stands |
//! | `settings.rs` | Settings and the app's state: keys, installer accounts, vendor apps, the vault, backups |

mod connections;
mod customers;
mod events;
mod hand_off;
mod health;
mod provider;
mod settings;
mod sign_in;
mod usage;

pub use connections::*;
pub use customers::*;
pub use events::*;
pub use hand_off::*;
pub use health::*;
pub use provider::*;
pub use settings::*;
pub use sign_in::*;
pub use usage::*;

/// Lives with the error it shows (`error` depends on nothing in `model`).
pub use crate::error::ErrorInfo;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_kind_is_listed_once_under_its_stored_name() {
        let mut seen = std::collections::HashSet::new();
        for k in EventKind::ALL {
            // The name written to the store is the one the UI receives.
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert!(seen.insert(k), "{k} listed twice");
        }
        assert_eq!(EventKind::parse("connect_failed"), None);
    }

    #[test]
    fn stored_names_read_back() {
        for p in ProviderId::ALL {
            assert_eq!(ProviderId::parse(p.as_str()), Some(p));
        }
        for k in [
            CredentialKind::InstallerAccount,
            CredentialKind::CustomerKey,
            CredentialKind::Oauth,
        ] {
            assert_eq!(CredentialKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        use ConnectionState::*;
        for s in [Active, Expiring, NeedsReauth, Error, Revoked, Pending] {
            assert_eq!(ConnectionState::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
