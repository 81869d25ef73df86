//! Checking a signed-in connection: with the company's app where the vendor is checked that
//! way, otherwise with the access token (renewed first when it is due).

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
}
