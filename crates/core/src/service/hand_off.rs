//! The customer's hand-off sheet (model::HandOff): every connection the customer has, today's
//! first, in the customer's words, with how to withdraw each at its vendor.

use super::Onramp;
use crate::error::Result;
use crate::model::{ConnectionState, CredentialKind, HandOff, HandOffItem};
use crate::providers;

impl Onramp {
    /// The hand-off sheet for a customer, as of now.
    pub async fn hand_off(&self, customer_id: &str) -> Result<HandOff> {
        let customer = self.store.customer(customer_id).await?;
        let today = self.now().date().to_string();
        let mut items: Vec<HandOffItem> = self
            .store
            .connections_for(customer_id)
            .await?
            .into_iter()
            // What no longer works gives nothing to withdraw.
            .filter(|c| !matches!(c.state, ConnectionState::Revoked | ConnectionState::Pending))
            .filter(|c| c.sites.iter().any(|s| s.attached) || c.sites.is_empty())
            .map(|c| {
                let vendor = providers::vendor(c.provider);
                let until = match c.kind {
                    CredentialKind::Oauth => {
                        "Until you withdraw it: Onramp keeps the sign-in alive.".to_string()
                    }
                    CredentialKind::CustomerKey => "Until you delete the key.".to_string(),
                    CredentialKind::InstallerAccount => {
                        "Until your installer removes it.".to_string()
                    }
                };
                HandOffItem {
                    provider: c.provider,
                    provider_name: vendor.spec().name.to_string(),
                    kind: c.kind,
                    sites: c
                        .sites
                        .iter()
                        .filter(|s| s.attached)
                        .map(|s| s.name.clone())
                        .collect(),
                    today: c.created_at.get(..10) == Some(today.as_str()),
                    access: vendor.access_words(),
                    scopes: c.scopes.clone(),
                    until,
                    withdraw: vendor.withdraw_words(c.kind),
                    connected_at: c.created_at,
                }
            })
            .collect();
        items.sort_by(|a, b| {
            b.today
                .cmp(&a.today)
                .then(a.connected_at.cmp(&b.connected_at))
        });
        Ok(HandOff {
            customer,
            date: today,
            installer_name: self.store.installer_name(),
            items,
        })
    }
}
