//! Asking the vendor again about a connection: a key connection with its stored key (an
//! installer account's only for the sites picked for this customer); a signed-in one with the
//! company's app where the vendor is checked that way, otherwise with the access token (renewed
//! first when it is due). A refusal is recorded as the connection's error; a transient failure
//! changes nothing.

use std::collections::BTreeMap;

use super::Onramp;
use crate::error::{Code, Result};
use crate::model::*;
use crate::providers;

impl Onramp {
    /// Asks the vendor again with the stored access token.
    pub(super) async fn check_oauth_connection(&self, conn: Connection) -> Result<Connection> {
        let known = || {
            conn.sites
                .iter()
                .map(|s| providers::VendorSite {
                    external_id: s.external_id.clone(),
                    name: s.name.clone(),
                    address: s.address.clone(),
                    peak_power_kw: s.peak_power_kw,
                    status: s.status.clone(),
                })
                .collect::<Vec<_>>()
        };
        let vendor = providers::vendor(conn.provider);
        if vendor.checks_with_app() {
            let found = async {
                let (spec, configured) = self.oauth_spec(conn.provider)?;
                let endpoints = vendor.grant_endpoints(&self.config, &conn.details, configured)?;
                let app = self.app_credentials(conn.provider).await?;
                vendor
                    .check_with_app(providers::AppCheck {
                        client: &self.http,
                        spec,
                        endpoints: &endpoints,
                        app: &app,
                        details: &conn.details,
                        known: known(),
                    })
                    .await
            }
            .await;
            return self.record_check(&conn.id, found).await;
        }
        // An access token that has expired (or is about to) is renewed first: the vendor would
        // refuse it, and that refusal says nothing about the connection.
        let conn = match crate::lifecycle::due(&conn, self.now(), self.lifecycle.policy()) {
            Some(crate::lifecycle::Due::Access) => match self.refresh_connection(&conn.id).await {
                Ok(renewed) => renewed,
                // The refusal is recorded on the connection (needs the customer, or the
                // company's app): that is the check's answer.
                Err(e)
                    if e.code == Code::ReauthRequired
                        || e.token_error
                            .is_some_and(crate::error::TokenError::app_refused) =>
                {
                    return self.store.connection(&conn.id).await;
                }
                // Nothing to renew with (no refresh token): the vendor judges the token it has.
                Err(e) if e.code == Code::Validation => conn,
                // A transient failure (network, rate limit, another holder): nothing changed.
                Err(e) => return Err(e),
            },
            _ => conn,
        };
        let access = self.access_token(&conn.id).await?;
        let (_, ep) = self.oauth_spec(conn.provider)?;
        let app = self.app_credentials(conn.provider).await?;
        let mut extra = BTreeMap::new();
        if let Some(first) = conn.sites.first() {
            extra.insert("site_id".to_string(), first.external_id.clone());
        }
        let found = providers::vendor(conn.provider)
            .discover(providers::Discovery {
                client: &self.http,
                endpoints: &ep,
                app: &app,
                access: &access,
                extra: &extra,
            })
            .await;
        self.record_check(&conn.id, found).await
    }

    /// Asks the vendor again with the stored credential: refreshes the sites and the health state.
    /// A vendor refusal marks the connection `error` with the reason; a transient failure
    /// (network, rate limit) is returned and changes nothing.
    pub async fn check_connection(&self, id: &str) -> Result<Connection> {
        let conn = self.store.connection(id).await?;
        if conn.kind == CredentialKind::Oauth {
            return self.check_oauth_connection(conn).await;
        }
        let credential = match conn.kind {
            CredentialKind::InstallerAccount => self
                .account_credential(conn.provider)
                .await?
                .ok_or_else(super::connect::key_gone)?,
            CredentialKind::CustomerKey | CredentialKind::Oauth => {
                self.connection_credential(&conn).await?
            }
        };
        let found = providers::list_sites(
            &self.http,
            conn.provider,
            &self.base_url(conn.provider),
            &credential,
        )
        .await;
        let found = found.map(|all| match conn.kind {
            CredentialKind::CustomerKey | CredentialKind::Oauth => all,
            // Only the sites picked for this customer, not the whole installer account.
            CredentialKind::InstallerAccount => all
                .into_iter()
                .filter(|s| conn.sites.iter().any(|k| k.external_id == s.external_id))
                .collect(),
        });
        self.record_check(id, found).await
    }

    /// Records what asking the vendor again found: the sites, or the vendor's refusal as the
    /// connection's error. A transient failure (network, rate limit) is returned and changes nothing.
    async fn record_check(&self, id: &str, found: Result<Vec<VendorSite>>) -> Result<Connection> {
        match found {
            Ok(sites) => {
                self.store
                    .record_check(id, None, &sites, self.actor)
                    .await?
            }
            Err(e) if e.code == Code::VendorRejected => {
                self.store
                    .record_check(id, Some(&e.info()), &[], self.actor)
                    .await?
            }
            Err(e) => return Err(e),
        }
        self.store.connection(id).await
    }
}
