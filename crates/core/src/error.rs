//! One error type for everything Onramp does. It crosses to the UI as `{code, message, hint}`
//! (and `details`: the vendor's own answer, for the Details view).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What the UI shows of an error. `code` is what the UI acts on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ErrorInfo {
    pub code: Code,
    /// What happened, in the installer's words.
    pub message: String,
    /// The one thing to do.
    pub hint: Option<String>,
    /// What the vendor answered, as it said it (`invalid_grant (Unknown refresh token)`): shown
    /// only under Details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub details: Option<String>,
}

/// The small set of codes the UI acts on. Add one only when the UI does something different for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub enum Code {
    /// The input is wrong (missing field, malformed key); nothing was sent to a vendor.
    Validation,
    NotFound,
    /// The vendor could not be reached (DNS, refused, reset, timeout).
    Network,
    /// The vendor asked us to slow down; the message says when to retry.
    RateLimited,
    /// The vendor refused the credential (wrong key, no access to the site).
    VendorRejected,
    /// The customer said no at the vendor's consent page: nothing is wrong with Onramp.
    Declined,
    /// The vendor no longer accepts the grant: the customer must sign in again.
    ReauthRequired,
    /// The refresh token was lost: a refresh was interrupted (Onramp stopped, the answer never
    /// arrived) after the vendor had replaced the token. The customer must sign in again.
    TokenLost,
    /// The vendor failed or answered something Onramp cannot read.
    VendorError,
    /// The OS keyring is missing, locked or refused the secret.
    KeychainUnavailable,
    /// A setting Onramp needs is missing (installer account, endpoint).
    NotConfigured,
    /// The local database failed.
    Storage,
    /// Another Onramp (a second window, a terminal, a hub replica) holds this connection's
    /// refresh: its outcome stands; nothing to do.
    Busy,
    /// The installer stopped it (a usage import's Cancel): nothing was changed.
    Cancelled,
    Internal,
}

impl Code {
    /// Only the customer signing in again (Re-authorize) fixes it.
    pub fn needs_customer(self) -> bool {
        matches!(self, Code::ReauthRequired | Code::TokenLost)
    }
}

/// The error a vendor's token endpoint answered (RFC 6749 §5.2), for what Onramp decides by it,
/// as the vendor's refusal table reads it (`providers::refusal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    InvalidRequest,
    /// The vendor does not know the app, or its secret is wrong.
    InvalidClient,
    /// The grant (code or refresh token) lapsed, was used or is unknown: sign in again.
    InvalidGrant,
    /// The grant was withdrawn (the customer revoked Onramp, Tesla's `login_required`): the
    /// vendor's table says which answers mean that.
    GrantRevoked,
    /// The app may not use this grant.
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    /// A vendor's own code (Tesla's `invalid_auth_code`, `login_required`, ...).
    Other,
}

impl TokenError {
    pub fn parse(error: &str) -> Option<TokenError> {
        Some(match error {
            "" => return None,
            "invalid_request" => TokenError::InvalidRequest,
            "invalid_client" => TokenError::InvalidClient,
            "invalid_grant" => TokenError::InvalidGrant,
            "unauthorized_client" => TokenError::UnauthorizedClient,
            "unsupported_grant_type" => TokenError::UnsupportedGrantType,
            "invalid_scope" => TokenError::InvalidScope,
            _ => TokenError::Other,
        })
    }

    /// The vendor no longer accepts the grant, lapsed or withdrawn: only a new sign-in helps.
    pub fn grant_refused(self) -> bool {
        matches!(self, TokenError::InvalidGrant | TokenError::GrantRevoked)
    }

    /// The vendor refused the company's app itself (its client id or secret), not the grant:
    /// no customer can fix that, the company must.
    pub fn app_refused(self) -> bool {
        matches!(
            self,
            TokenError::InvalidClient | TokenError::UnauthorizedClient
        )
    }
}

#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub code: Code,
    pub message: String,
    pub hint: Option<String>,
    /// Seconds after which a retry may succeed (RateLimited).
    pub retry_after: Option<u64>,
    /// What the vendor's token endpoint answered, when the error is its refusal.
    pub token_error: Option<TokenError>,
    /// The vendor's own `error_description` with that refusal, as it sent it (for the logs; what
    /// it decides is already in `token_error`).
    pub vendor_description: Option<String>,
    /// What the vendor answered, as it said it, for the installer's Details view.
    pub details: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            hint: None,
            retry_after: None,
            token_error: None,
            vendor_description: None,
            details: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Error::new(Code::Validation, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(Code::NotFound, message)
    }

    /// Something inside Onramp failed (`what`, kept for Details and the logs): the installer
    /// hears that nothing changed and what to do.
    pub fn internal(what: impl Into<String>) -> Self {
        Error::new(
            Code::Internal,
            "Something went wrong inside Onramp; nothing was changed.",
        )
        .hint("Try again. If it happens again, send the Details to your company's support.")
        .details(what)
    }

    /// The database on this laptop failed (`err`, kept for Details and the logs).
    pub fn storage(err: impl std::fmt::Display) -> Self {
        Error::new(
            Code::Storage,
            "Onramp could not read or write its database on this laptop; nothing was changed.",
        )
        .hint("Check that the disk is not full and the data folder is writable, then try again.")
        .details(err.to_string())
    }

    /// Something stored that Onramp cannot read back (`what`, in the installer's words: "the
    /// details saved for connection c-12"), the reader's complaint kept for Details.
    pub fn unreadable(what: impl std::fmt::Display, cause: impl std::fmt::Display) -> Self {
        Error::new(
            Code::Storage,
            format!("Onramp cannot read {what} in its database; nothing was changed."),
        )
        .hint("Restore the latest backup (Settings → Data), or send the Details to your company's support.")
        .details(cause.to_string())
    }

    pub fn rate_limited(vendor: &str, retry_after: Option<u64>) -> Self {
        let when = match retry_after {
            Some(s) if s > 0 => format!("in {s} s"),
            _ => "in a minute".to_string(),
        };
        Error {
            code: Code::RateLimited,
            message: format!("{vendor} is limiting requests right now; try again {when}."),
            hint: Some(format!(
                "{vendor} allows only a few calls per minute for each key. Nothing was saved; retry {when}."
            )),
            retry_after,
            token_error: None,
            vendor_description: None,
            details: None,
        }
    }

    /// The vendor's own answer, for the Details view.
    pub fn details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// This error, said in its own words, with what `cause` came from kept for the Details view
    /// and the logs (not its decisions: a cause's `token_error` stays with the cause).
    pub fn caused_by(mut self, cause: Error) -> Self {
        self.details = cause.details.or(Some(cause.message));
        self.vendor_description = cause.vendor_description;
        self
    }

    pub fn info(&self) -> ErrorInfo {
        ErrorInfo {
            code: self.code,
            message: self.message.clone(),
            hint: self.hint.clone(),
            details: self.details.clone(),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::storage(e)
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::storage(e)
    }
}

/// The UI's view of an error: exactly `{code, message, hint}`.
impl Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.info().serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crosses_to_the_ui_as_code_message_hint() {
        let e = Error::new(Code::VendorRejected, "SolarEdge rejected this key").hint("Check it");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"code": "VendorRejected", "message": "SolarEdge rejected this key", "hint": "Check it"})
        );
    }

    #[test]
    fn rate_limited_says_when() {
        let e = Error::rate_limited("Solis", Some(4));
        assert_eq!(e.code, Code::RateLimited);
        assert!(e.message.contains("in 4 s"), "{}", e.message);
        assert_eq!(e.retry_after, Some(4));
    }

    #[test]
    fn inside_failures_speak_plainly_and_keep_the_cause_for_details() {
        for e in [
            Error::internal("keyring task failed: JoinError::Panic"),
            Error::storage("error returned from database: (code: 5) database is locked"),
        ] {
            let info = e.info();
            assert!(
                !info.message.contains("JoinError") && !info.message.contains("code: 5"),
                "{}",
                info.message
            );
            assert!(
                info.message.contains("nothing was changed"),
                "{}",
                info.message
            );
            assert!(info.hint.is_some());
            let details = info.details.unwrap();
            assert!(details.contains("JoinError") || details.contains("database is locked"));
        }
    }
}
