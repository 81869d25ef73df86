//! Polled sign-ins (a vendor's [`providers::PolledSignIn`]: Derapi's Join session): Onramp starts
//! the vendor's session, the customer finishes it on the vendor's page, and Onramp asks until they
//! are done, then writes the connection as any hosted sign-in's.

use super::Onramp;
use crate::error::{Error, Result};
use crate::model::{Connection, ConnectionDetails, ProviderId, SignInOptions};
use crate::providers::{self, PolledSignIn, Session, SessionAsk, SessionStart};

/// A polled sign-in in progress.
#[derive(Clone, Debug)]
pub struct SignInSession {
    pub customer_id: String,
    pub provider: ProviderId,
    /// The vendor's id of the session (also the sign-in's id in Onramp).
    pub id: String,
    /// The page to open for the customer.
    pub page_url: String,
    /// What the vendor keeps with the session (Derapi: the device vendor).
    pub details: ConnectionDetails,
}

impl Onramp {
    fn polled(provider: ProviderId) -> Result<&'static dyn PolledSignIn> {
        providers::vendor(provider).polled_sign_in().ok_or_else(|| {
            Error::validation(format!(
                "{} has no sign-in that Onramp asks about until it is done.",
                providers::spec(provider).name
            ))
        })
    }

    /// Starts a polled sign-in for a customer: the page to open for them.
    pub async fn begin_session(
        &self,
        customer_id: &str,
        provider: ProviderId,
        options: &SignInOptions,
    ) -> Result<SignInSession> {
        let polled = Self::polled(provider)?;
        let customer = self.store.customer(customer_id).await?;
        let (spec, endpoints) = self.oauth_spec(provider)?;
        let app = self.app_credentials(provider).await?;
        let session = polled
            .begin(SessionStart {
                client: &self.http,
                config: &self.config,
                spec,
                endpoints: &endpoints,
                app: &app,
                options,
            })
            .await?;
        Ok(SignInSession {
            customer_id: customer.id,
            provider,
            id: session.id,
            page_url: session.page_url,
            details: session.details,
        })
    }

    /// Asks the vendor whether the customer finished: `None` while they have not; once they
    /// have, the connection, written.
    pub async fn poll_session(&self, s: &SignInSession) -> Result<Option<Connection>> {
        let polled = Self::polled(s.provider)?;
        let (spec, endpoints) = self.oauth_spec(s.provider)?;
        let app = self.app_credentials(s.provider).await?;
        let session = Session {
            id: s.id.clone(),
            page_url: s.page_url.clone(),
            details: s.details.clone(),
        };
        let asked = polled
            .poll(SessionAsk {
                client: &self.http,
                spec,
                endpoints: &endpoints,
                app: &app,
                session: &session,
            })
            .await?;
        match asked {
            None => Ok(None),
            Some(hosted) => self
                .store_hosted(&s.customer_id, s.provider, hosted)
                .await
                .map(Some),
        }
    }
}
