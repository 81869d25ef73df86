//! Customers: adding one (and the existing ones it looks like), changing one, removing one
//! (its connections revoked at the vendors, or moved to another customer), the list, a
//! customer's page (its connections as they stand now, its events and usage), and the
//! providers the page offers.

use super::{words, Onramp};
use crate::error::{Error, Result};
use crate::model::*;
use crate::providers;
use crate::store::NewConnection;

impl Onramp {
    pub async fn add_customer(&self, input: NewCustomer) -> Result<Customer> {
        self.store
            .insert_customer(&input, words::customer_created(&input.name, self.actor))
            .await
    }

    /// Existing customers with the same name and address as `input` (compared normalised:
    /// case, punctuation, "Street"/"St"). A warning: the installer may still add it.
    pub async fn similar_customers(&self, input: &NewCustomer) -> Result<Vec<SimilarCustomer>> {
        let key = input.identity();
        Ok(self
            .store
            .all_customers()
            .await?
            .into_iter()
            .filter(|c| {
                NewCustomer {
                    name: c.name.clone(),
                    address: c.address.clone(),
                    ..Default::default()
                }
                .identity()
                    == key
            })
            .map(|c| SimilarCustomer {
                id: c.id,
                name: c.name,
                address: c.address,
            })
            .collect())
    }

    /// The customer a person means by `reference`: its id, else its job number, else its name
    /// (job number and name compared without regard to case or surrounding spaces). A name
    /// that several customers share is refused with each one's id, job number and address.
    pub async fn find_customer(&self, reference: &str) -> Result<Customer> {
        let wanted = reference.trim();
        if wanted.is_empty() {
            return Err(Error::validation(
                "Say which customer: an id, a job number or a name.",
            ));
        }
        let all = self.store.all_customers().await?;
        let same = |v: &str| v.trim().to_lowercase() == wanted.to_lowercase();
        if let Some(c) = all.iter().find(|c| c.id == wanted) {
            return Ok(c.clone());
        }
        for pick in [
            &(|c: &Customer| c.job_number.as_deref().is_some_and(same))
                as &dyn Fn(&Customer) -> bool,
            &|c: &Customer| same(&c.name),
        ] {
            let hits: Vec<&Customer> = all.iter().filter(|c| pick(c)).collect();
            match hits.as_slice() {
                [] => continue,
                [one] => return Ok((*one).clone()),
                many => {
                    let list: Vec<String> = many
                        .iter()
                        .map(|c| {
                            let mut line = c.id.clone();
                            if let Some(job) = &c.job_number {
                                line.push_str(&format!(" (job {job})"));
                            }
                            if let Some(a) = &c.address {
                                line.push_str(&format!(", {a}"));
                            }
                            line
                        })
                        .collect();
                    return Err(Error::validation(format!(
                        "{} customers answer to “{wanted}”: {}.",
                        many.len(),
                        list.join("; ")
                    ))
                    .hint("Name the customer by its id or job number."));
                }
            }
        }
        Err(Error::not_found(format!(
            "No customer has the id, job number or name “{wanted}”."
        ))
        .hint("The customer list shows every id: onramp customer list --query NAME"))
    }

    /// Changes a customer's name, address and contact (checked as a new one is); the event
    /// names what changed. Nothing changed writes nothing.
    pub async fn update_customer(&self, id: &str, input: NewCustomer) -> Result<Customer> {
        let before = self.store.customer(id).await?;
        let trimmed = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let mut changed = Vec::new();
        if input.name.trim() != before.name {
            changed.push("name");
        }
        for (label, new, old) in [
            ("address", &input.address, &before.address),
            ("email", &input.email, &before.email),
            ("phone", &input.phone, &before.phone),
            ("job number", &input.job_number, &before.job_number),
        ] {
            if trimmed(new) != *old {
                changed.push(label);
            }
        }
        if let Some(problem) = input.problems().into_iter().next() {
            return Err(Error::validation(problem));
        }
        if changed.is_empty() {
            return Ok(before);
        }
        self.store
            .update_customer(
                id,
                &input,
                words::customer_updated(&before.name, &changed, self.actor),
            )
            .await
    }

    /// Removes a customer. `Revoke`: each signed-in grant is revoked at its vendor first (where
    /// the vendor offers revocation), then the customer, connections, sites, secrets and usage
    /// go in one transaction. A vendor that refuses or cannot be reached stops the removal:
    /// nothing is removed, and the error names the connection (a grant revoked before it
    /// stays revoked: that is the vendor's, and the next check shows it). `MoveTo`: the
    /// connections and their usage move to the other customer in the same transaction.
    pub async fn remove_customer(&self, id: &str, connections: ConnectionsOnRemove) -> Result<()> {
        let customer = self.store.customer(id).await?;
        let conns = self.store.connections_for(id).await?;
        let n = conns.len();
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        match connections {
            ConnectionsOnRemove::Revoke => {
                let mut revoked = Vec::new();
                for c in conns.iter().filter(|c| c.kind == CredentialKind::Oauth) {
                    let name = providers::spec(c.provider).name;
                    if let Err(e) = self.revoke_at_vendor(c).await {
                        let before = if revoked.is_empty() {
                            String::new()
                        } else {
                            format!(" ({} was already revoked.)", revoked.join(", "))
                        };
                        return Err(Error {
                            message: format!(
                                "{} was not removed: {name} did not revoke its connection ({}).{before}",
                                customer.name, e.message
                            ),
                            hint: Some(e.hint.unwrap_or_else(|| {
                                "Nothing was removed. Try again when the vendor answers, or move the connections to another customer.".into()
                            })),
                            ..e
                        });
                    }
                    revoked.push(name);
                }
                let mut events = vec![words::customer_removed(
                    id,
                    &customer.name,
                    &format!(
                        "{n} connection{} removed (signed-in grants revoked at the vendors)",
                        plural(n)
                    ),
                    self.actor,
                )];
                events.extend(
                    conns
                        .iter()
                        .map(|c| words::connection_removed(id, &c.id, c.provider, self.actor)),
                );
                self.store.remove_customer(id, None, &events).await
            }
            ConnectionsOnRemove::MoveTo { customer_id } => {
                let target = self.store.customer(&customer_id).await?;
                let mut events = vec![words::customer_removed(
                    id,
                    &customer.name,
                    &format!("{n} connection{} moved to {}", plural(n), target.name),
                    self.actor,
                )];
                events.extend(conns.iter().map(|c| {
                    words::connection_moved(
                        &target.id,
                        &c.id,
                        c.provider,
                        &customer.name,
                        self.actor,
                    )
                }));
                self.store
                    .remove_customer(id, Some(&target.id), &events)
                    .await
            }
        }
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

    /// A page of the Customers screen: `limit` customers from `offset`, and the total.
    /// The first screen's data (`limit` customers, newest activity first), read together.
    pub async fn first_screen(&self, limit: u32) -> Result<FirstScreen> {
        Ok(FirstScreen {
            status: self.status(),
            providers: self.providers().await?,
            customers: self.customers_page(None, 0, limit).await?,
        })
    }

    pub async fn customers_page(
        &self,
        query: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> Result<CustomerList> {
        self.store.customers_page(query, offset, limit).await
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
