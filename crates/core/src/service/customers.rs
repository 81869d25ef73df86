//! Customers: adding one, the list, a customer's page (its connections as they stand now, its
//! events and usage), and the providers the page offers.

use super::{words, Onramp};
use crate::error::Result;
use crate::model::*;
use crate::providers;
use crate::store::NewConnection;

impl Onramp {
    pub async fn add_customer(&self, input: NewCustomer) -> Result<Customer> {
        self.store
            .insert_customer(&input, words::customer_created(&input.name, self.actor))
            .await
    }

    /// Writes a new connection with its "connected" event.
    pub(crate) async fn save_connection(&self, new: &NewConnection<'_>) -> Result<String> {
        self.store
            .insert_connection(new, &self.vault, &words::new_connection(new, self.actor))
            .await
    }

    pub async fn list_customers(&self, query: Option<&str>) -> Result<Vec<CustomerSummary>> {
        self.store.list_customers(query).await
    }

    pub async fn customer(&self, id: &str) -> Result<CustomerDetail> {
        let customer = self.store.customer(id).await?;
        let (now, policy) = (self.now(), self.lifecycle.policy());
        let mut connections = self.store.connections_for(id).await?;
        for c in &mut connections {
            c.state = crate::lifecycle::state_at(c, now, policy);
        }
        Ok(CustomerDetail {
            providers: self.providers().await?,
            connections,
            events: self.store.events(Some(id), 200).await?,
            usage: self.store.usage(id).await?,
            customer,
        })
    }

    pub async fn events(&self, customer_id: Option<&str>) -> Result<Vec<Event>> {
        self.store.events(customer_id, 500).await
    }

    pub async fn providers(&self) -> Result<Vec<ProviderInfo>> {
        let mut out = Vec::new();
        let mut settings = self.store.provider_settings().await?;
        let used = self.store.company_providers().await?;
        for id in ProviderId::ALL {
            let (configured, mode, relay) = settings.remove(&id).unwrap_or_default();
            let mut info = providers::spec(id).info(configured);
            info.in_use = used.as_ref().is_none_or(|u| u.contains(&id));
            if let Some(sign_in) = info.sign_in.as_mut() {
                // Settings or onramp.toml choose the way back, where the provider supports it.
                sign_in.default_mode = self.sign_in_return_from(id, (mode, relay))?.0;
                if let Some(choices) = providers::vendor(id).configured_choices(&self.config) {
                    sign_in.choices = choices;
                }
            }
            out.push(info);
        }
        Ok(out)
    }
}
