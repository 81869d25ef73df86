//! Secrets in memory: [`Sensitive`] (prints as `***`, refuses to serialize) and the strings of
//! one kind each ([`AuthCode`], [`OAuthState`]), with [`mask`] for a credential's hint.
//!
//! The lowest module of custody: the seal, the vault, the providers and the store all hold
//! secrets in these types, and this depends on none of them (the vault re-exports it, so
//! `vault::Sensitive` is the same type).

use serde::Serialize;

/// A secret in memory. Prints as `***` and refuses to be serialized, so it cannot slip into
/// logs, events, JSON sent to the UI, or the database.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Sensitive(value)
    }

    /// The secret itself: only the vault and request builders should call this.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl<T> Serialize for Sensitive<T> {
    fn serialize<S: serde::Serializer>(&self, _: S) -> std::result::Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("refusing to serialize a secret"))
    }
}

impl Sensitive<String> {
    /// The last characters of the secret, for recognising it ("…B1O6"). Short secrets show nothing.
    pub fn hint(&self) -> String {
        mask(&self.0)
    }
}

/// A secret string of one kind: prints as `Name(***)` and is never serialized. Distinct kinds
/// are distinct types, so passing one where another is expected does not compile.
macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into())
            }

            /// The secret itself: for the request that sends it, and the state's hash.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(***)"))
            }
        }
    };
}

secret_string!(
    /// An OAuth authorization code (RFC 6749 §4.1.2): whoever holds it before it is exchanged
    /// can finish the sign-in.
    AuthCode
);
secret_string!(
    /// An OAuth `state` (RFC 6749 §10.12): the sign-in's one-time key, stored only as its hash.
    OAuthState
);

/// A masked form of a credential: the last 4 characters when it is long enough to keep most of it hidden.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() >= 12 {
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("…{tail}")
    } else {
        "…".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_never_prints_or_serializes() {
        let s = Sensitive::new("L4QLVQ1LOKCQX2193VSEICXW61NP6B1O".to_string());
        assert_eq!(format!("{s:?}"), "***");
        assert!(serde_json::to_string(&s).is_err());
        assert_eq!(s.hint(), "…6B1O");
    }

    #[test]
    fn short_secrets_are_fully_masked() {
        assert_eq!(mask("abc"), "…");
        assert_eq!(mask("123456789012"), "…9012");
    }
}
