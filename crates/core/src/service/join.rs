//! Derapi Join in the service: Onramp's own bearer at Derapi, the Join's device vendor and the
//! enrollments written as connections (the Join sessions are in `usage.rs`).

use super::tokens::Grant;
use super::Onramp;
use crate::error::Result;
use crate::model::*;
use crate::providers;
use crate::providers::oauth::Endpoints;
use crate::store::{new_id, NewConnection};
use crate::vault::Sensitive;

impl Onramp {
    pub(crate) fn derapi_vendor_pub(vendor: &str) -> Result<String> {
        Self::derapi_vendor(&SignInOptions {
            vendor: Some(vendor.to_string()),
            ..Default::default()
        })
    }

    /// Onramp's own bearer token at Derapi (client credentials, HTTP Basic).
    pub(crate) async fn derapi_bearer(&self) -> Result<(Endpoints, Sensitive<String>)> {
        let (spec, ep) = self.oauth_spec(ProviderId::Derapi)?;
        let app = self.app_credentials(ProviderId::Derapi).await?;
        let bearer = providers::derapi::app_bearer(&self.http, spec, &ep, &app).await?;
        Ok((ep, bearer))
    }

    /// The Derapi vendor picked for a Join, checked against the list.
    pub(super) fn derapi_vendor(options: &SignInOptions) -> Result<String> {
        providers::derapi::chosen_vendor(options)
    }

    /// The id of the vendor credentials stored at Derapi that a Join for `vendor` names.
    pub(crate) fn derapi_credentials(&self, vendor: &str) -> Result<Option<String>> {
        providers::derapi::stored_credentials(&self.config, vendor)
    }

    /// The sites Derapi sees for one vendor (and one enrollment, when Derapi names it).
    pub(crate) async fn derapi_sites(
        &self,
        vendor: &str,
        enrollment: Option<&str>,
    ) -> Result<Vec<providers::VendorSite>> {
        let (ep, bearer) = self.derapi_bearer().await?;
        providers::derapi::vendor_sites(&self.http, &ep.api_url, &bearer, vendor, enrollment).await
    }

    /// Stores a Derapi enrollment (a Join session's tokens, if any, go to the vault).
    pub(crate) async fn store_derapi(
        &self,
        customer_id: &str,
        vendor: &str,
        sites: Vec<providers::VendorSite>,
        details: ConnectionDetails,
        tokens: Option<(&Sensitive<String>, Option<&Sensitive<String>>)>,
    ) -> Result<Connection> {
        let label = providers::derapi::vendor_label(vendor).unwrap_or(vendor);
        if sites.is_empty() {
            return Err(providers::derapi::no_sites(label));
        }
        let id = self
            .save_connection(&NewConnection {
                id: new_id(),
                customer_id,
                provider: ProviderId::Derapi,
                kind: CredentialKind::Oauth,
                credential_hint: Some(providers::derapi::hint(label)),
                secrets: tokens.map(|(access, refresh)| Grant::secrets(access, refresh)),
                sites: &sites,
                scopes: None,
                access_expires_at: None,
                refresh_expires_at: None,
                tokens_issued_at: None,
                details,
            })
            .await?;
        self.store.connection(&id).await
    }
}
