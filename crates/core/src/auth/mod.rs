//! The authorization-code grant with PKCE (S256) and a fresh 256-bit `state` per attempt.
//!
//! A pending authorization is bound to the provider, the customer (and the connection being
//! re-authorized), the exact `redirect_uri` and the PKCE verifier. It lives in SQLite (so a
//! callback handed from a second process by single-instance finds it), its verifier sealed in
//! the same row, and it is consumed once: the first valid callback wins, any later one is
//! refused. Expired attempts are removed with their verifiers ([`crate::store::Store::purge_pending`]).

pub mod callback;
pub mod loopback;

use base64::Engine;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::{Code, Error, Result};
use crate::model::ProviderId;
use crate::seal::Secrets;
use crate::store::{pending_aad, Consumed, PendingRow, Store};
use crate::vault::{AuthCode, OAuthState, Sensitive, Vault};
use callback::{Callback, Outcome};

/// How long a sign-in may take unless the vendor says otherwise.
pub const DEFAULT_TTL: time::Duration = time::Duration::minutes(10);

/// What the browser needs to start a sign-in.
#[derive(Debug)]
pub struct Begun {
    pub state: OAuthState,
    /// `code_challenge` for `code_challenge_method=S256`.
    pub challenge: String,
    pub expires_at: OffsetDateTime,
}

/// A consumed pending authorization with what came back: ready for the code exchange.
#[derive(Debug)]
pub struct Completed {
    pub provider: ProviderId,
    pub customer_id: String,
    pub connection_id: Option<String>,
    pub redirect_uri: String,
    pub verifier: Sensitive<String>,
    /// `None` only for a vendor whose answer carries no code (`Vendor::answers_without_code`:
    /// Derapi Join); every other vendor's codeless answer is refused by `complete`.
    pub code: Option<AuthCode>,
    pub extra: std::collections::BTreeMap<String, String>,
    /// What the installer picked before the sign-in.
    pub details: Option<String>,
    /// The state's hash, to open the sign-in again ([`Authorizations::reopen`]).
    state_hash: String,
}

pub struct Authorizations<'a> {
    store: &'a Store,
    vault: &'a Vault,
}

/// The key a state is stored under: its SHA-256, so the database never holds a live state.
pub fn state_hash(state: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(state.as_bytes()))
}

/// The name a pending authorization's PKCE verifier is sealed under.
pub const VERIFIER: &str = "verifier";

fn refused(message: impl Into<String>) -> Error {
    Error::validation(message)
        .hint("Start the connection again from Onramp; nothing was sent to the vendor.")
}

/// The refusal of an answer without an authorization code from a vendor that always sends one
/// (`providers::missing_code`, which a vendor's own completion uses too).
pub use crate::providers::missing_code;

pub struct BeginRequest<'r> {
    pub provider: ProviderId,
    pub customer_id: &'r str,
    pub connection_id: Option<&'r str>,
    pub redirect_uri: &'r str,
    pub ttl: time::Duration,
    /// What the installer picked before the sign-in, kept with it (JSON; never a secret).
    pub details: Option<String>,
}

impl<'a> Authorizations<'a> {
    pub fn new(store: &'a Store, vault: &'a Vault) -> Self {
        Authorizations { store, vault }
    }

    /// Creates the state and PKCE pair and records the pending authorization.
    pub async fn begin(&self, req: &BeginRequest<'_>, now: OffsetDateTime) -> Result<Begun> {
        let state = oauth2::CsrfToken::new_random_len(32).secret().clone();
        let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
        let hash = state_hash(&state);
        let expires_at = now + req.ttl;
        let row = PendingRow {
            provider: req.provider,
            customer_id: req.customer_id.to_string(),
            connection_id: req.connection_id.map(str::to_string),
            redirect_uri: req.redirect_uri.to_string(),
            expires_at,
            details: req.details.clone(),
        };
        let secrets = Secrets::new().with(VERIFIER, &Sensitive::new(verifier.secret().clone()));
        self.store
            .insert_pending(&hash, &row, self.vault, &secrets, now)
            .await?;
        Ok(Begun {
            state: OAuthState::new(state),
            challenge: challenge.as_str().to_string(),
            expires_at,
        })
    }

    /// RFC 9207: an answer that names an issuer must name the one its sign-in went to, when
    /// that is known (`issuer_of` the pending sign-in's provider). Another issuer means another
    /// server's answer (a mix-up): it is refused before anything is consumed or sent, so the
    /// sign-in it claims stays open for its real answer. An answer naming no issuer is left to
    /// the other checks (a pasted code never names one).
    pub async fn check_issuer(
        &self,
        cb: &Callback,
        issuer_of: impl Fn(ProviderId) -> Option<String>,
    ) -> Result<()> {
        let (Some(state), Some(got)) = (cb.state.as_ref(), cb.issuer.as_deref()) else {
            return Ok(());
        };
        let Some(provider) = self
            .store
            .pending_provider(&state_hash(state.expose()))
            .await?
        else {
            // Unknown or used states are refused by `complete` in their own words.
            return Ok(());
        };
        match issuer_of(provider) {
            Some(want) if want != got => {
                let name = crate::providers::spec(provider).name;
                Err(Error::validation(format!(
                    "This sign-in answer comes from another server than {name}'s: it names the issuer {got:?}, not {want:?}. Nothing was changed."
                ))
                .hint(format!(
                    "Another site may be trying to pass its answer off as {name}'s. Ask the customer to finish the sign-in in the {name} window Onramp opened; if this happens again, check the {name} authorize URL and issuer in onramp.toml."
                )))
            }
            _ => Ok(()),
        }
    }

    /// Matches a callback to its pending authorization and consumes it. Refuses a missing or
    /// unknown state, a replay, a late arrival and a callback meant for another provider; a
    /// decline consumes the authorization and reads as `Declined`.
    pub async fn complete(
        &self,
        cb: &Callback,
        expected: Option<ProviderId>,
        now: OffsetDateTime,
    ) -> Result<Completed> {
        let state = cb
            .state
            .as_ref()
            .map(OAuthState::expose)
            .ok_or_else(|| refused("This sign-in answer has no state, so Onramp cannot tell which sign-in it belongs to."))?;
        let hash = state_hash(state);
        let (row, sealed) = match self.store.consume_pending(&hash, now).await? {
            Consumed::Fresh(row, sealed) => (row, sealed),
            Consumed::AlreadyUsed => return Err(refused("This sign-in answer was already used.")),
            Consumed::Unknown => {
                return Err(refused(
                    "This sign-in answer does not match any sign-in Onramp started.",
                ))
            }
        };
        let verifier = match sealed {
            Some(v) => self
                .vault
                .open(&pending_aad(&hash), &v)
                .await?
                .get(VERIFIER)
                .cloned(),
            None => None,
        };
        if row.expires_at < now {
            return Err(refused("This sign-in took too long and expired."));
        }
        if let Some(p) = expected {
            if p != row.provider {
                return Err(refused(format!(
                    "This sign-in answer is for {}, not {}.",
                    crate::providers::spec(row.provider).name,
                    crate::providers::spec(p).name
                )));
            }
        }
        match &cb.outcome {
            Outcome::Denied { error, description } if error == "access_denied" => Err(Error::new(
                Code::Declined,
                format!(
                    "The customer declined access at {}.",
                    crate::providers::spec(row.provider).name
                ),
            )
            .hint("Ask the customer whether they want to connect, then start again.")
            .details(match description {
                Some(d) => format!("{error} ({d})"),
                None => error.clone(),
            })),
            Outcome::Denied { error, description } => Err(Error::new(
                Code::VendorError,
                format!(
                    "{} refused the sign-in before the customer could approve it.",
                    crate::providers::spec(row.provider).name
                ),
            )
            .hint(format!(
                "Nothing for the customer to do: whoever manages your company's {} app checks its redirect URI and scopes at the vendor, then you start again.",
                crate::providers::spec(row.provider).name
            ))
            .details(format!(
                "{error}{}",
                description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
            ))),
            Outcome::Code { code: None, .. }
                if !crate::providers::vendor(row.provider).answers_without_code() =>
            {
                Err(missing_code(row.provider))
            }
            Outcome::Code { code, extra } => Ok(Completed {
                provider: row.provider,
                customer_id: row.customer_id,
                connection_id: row.connection_id,
                redirect_uri: row.redirect_uri,
                verifier: verifier.ok_or_else(|| {
                    Error::new(Code::KeychainUnavailable, "The sign-in's secret is missing from Onramp's store.")
                        .hint("Start the connection again.")
                })?,
                code: code.clone(),
                extra: extra.clone(),
                details: row.details,
                state_hash: hash,
            }),
        }
    }

    /// Opens a completed sign-in again after the vendor refused its pasted code, so the
    /// installer can paste again; `false` when it has expired meanwhile.
    pub async fn reopen(&self, done: &Completed, now: OffsetDateTime) -> Result<bool> {
        let mut secrets = Secrets::new();
        secrets.insert(VERIFIER, done.verifier.clone());
        self.store
            .reopen_pending(&done.state_hash, self.vault, &secrets, now)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_is_s256_of_the_verifier() {
        // RFC 7636 appendix B.
        let v = oauth2::PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        let c = oauth2::PkceCodeChallenge::from_code_verifier_sha256(&v);
        assert_eq!(c.as_str(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert_eq!(c.method().as_str(), "S256");
    }

    #[test]
    fn states_are_256_bits_and_hashed() {
        let s = oauth2::CsrfToken::new_random_len(32).secret().clone();
        assert_eq!(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&s)
                .unwrap()
                .len(),
            32
        );
        assert_ne!(state_hash(&s), s);
        assert_eq!(state_hash(&s), state_hash(&s));
    }
}
