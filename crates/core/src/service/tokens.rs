//! A signed-in connection's tokens: sealed together in the connection's row (`access_token`,
//! `refresh_token`), so a rotation replaces the pair, its expiry and its event in one commit.

use super::Onramp;
use crate::error::{Code, Error, Result};
use crate::seal::Secrets;
use crate::store::{connection_aad, SealedRow};
use crate::vault::Sensitive;

pub(crate) const ACCESS_TOKEN: &str = "access_token";
pub(crate) const REFRESH_TOKEN: &str = "refresh_token";

/// A connection's tokens, opened.
pub(crate) struct Grant {
    pub access: Option<Sensitive<String>>,
    pub refresh: Option<Sensitive<String>>,
}

impl Grant {
    pub(crate) fn secrets(
        access: &Sensitive<String>,
        refresh: Option<&Sensitive<String>>,
    ) -> Secrets {
        let mut s = Secrets::new().with(ACCESS_TOKEN, access);
        if let Some(r) = refresh {
            s.insert(REFRESH_TOKEN, r.clone());
        }
        s
    }
}

fn missing() -> Error {
    Error::new(
        Code::KeychainUnavailable,
        "This connection's access token is missing from Onramp's store.",
    )
    .hint("Connect the vendor again with the customer.")
}

impl Onramp {
    /// Opens a connection's sealed tokens.
    pub(crate) async fn open_grant(&self, connection_id: &str, row: &SealedRow) -> Result<Grant> {
        let s = self
            .vault
            .open(&connection_aad(connection_id, row.generation), &row.sealed)
            .await?;
        Ok(Grant {
            access: s.get(ACCESS_TOKEN).cloned(),
            refresh: s.get(REFRESH_TOKEN).cloned(),
        })
    }

    /// The access token for an API call.
    pub(crate) async fn access_token(&self, connection_id: &str) -> Result<Sensitive<String>> {
        let row = self
            .store
            .connection_secrets(connection_id)
            .await?
            .ok_or_else(missing)?;
        self.open_grant(connection_id, &row)
            .await?
            .access
            .ok_or_else(missing)
    }
}
