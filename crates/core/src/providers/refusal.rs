//! What a vendor's token-endpoint refusal means, declared per vendor in its [`OAuthSpec`]
//! (`refusals`), so the lifecycle decides on a [`TokenError`] and never on text.
//!
//! RFC 6749 §5.2 has one code, `invalid_grant`, for a grant that lapsed and one that was
//! withdrawn, and vendors add codes of their own (Tesla's `login_required`, `invalid_auth_code`).
//! A vendor's table names the answers that mean more than their RFC 6749 code says; any other
//! answer is read by its code alone ([`TokenError::parse`]).
//!
//! [`OAuthSpec`]: super::oauth::OAuthSpec

use crate::error::TokenError;

/// One row of a vendor's refusal table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The `error` the vendor's token endpoint answers.
    pub error: &'static str,
    /// Words its `error_description` contains, compared without case (`None`: whatever it says).
    pub described: Option<&'static str>,
    /// What Onramp takes the answer to mean.
    pub means: TokenError,
}

/// The plain RFC 6749 reading, as the vendors without a table of their own word it (and the
/// sandbox's simulations of them): an `invalid_grant` that says the grant was revoked is a
/// withdrawn grant; any other `invalid_grant` a lapsed one.
pub static RFC6749: &[Refusal] = &[Refusal {
    error: "invalid_grant",
    described: Some("revoked"),
    means: TokenError::GrantRevoked,
}];

/// Reads a token endpoint's refusal with a vendor's table: the first row that matches, else the
/// RFC 6749 code. `None` when the answer names no error.
pub fn read(table: &[Refusal], error: &str, description: Option<&str>) -> Option<TokenError> {
    let description = description.unwrap_or_default().to_ascii_lowercase();
    table
        .iter()
        .find(|r| {
            r.error == error
                && r.described
                    .is_none_or(|words| description.contains(&words.to_ascii_lowercase()))
        })
        .map(|r| r.means)
        .or_else(|| TokenError::parse(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_row_wins_over_the_code() {
        let tesla = super::super::tesla::OAUTH.refusals;
        assert_eq!(
            read(tesla, "login_required", None),
            Some(TokenError::GrantRevoked)
        );
        assert_eq!(
            read(tesla, "invalid_auth_code", Some("expired")),
            Some(TokenError::InvalidGrant)
        );
        assert_eq!(
            read(
                RFC6749,
                "invalid_grant",
                Some("The refresh token was REVOKED")
            ),
            Some(TokenError::GrantRevoked)
        );
        assert_eq!(
            read(RFC6749, "invalid_grant", Some("expired")),
            Some(TokenError::InvalidGrant)
        );
        assert_eq!(
            read(RFC6749, "invalid_grant", None),
            Some(TokenError::InvalidGrant)
        );
        // A row names one code: "revoked" in another code's description decides nothing.
        assert_eq!(
            read(RFC6749, "invalid_client", Some("revoked app")),
            Some(TokenError::InvalidClient)
        );
        assert_eq!(
            read(RFC6749, "login_required", None),
            Some(TokenError::Other)
        );
        assert_eq!(read(RFC6749, "", Some("revoked")), None);
    }
}
