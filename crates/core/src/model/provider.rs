//! The vendors Onramp can connect ([`ProviderId`], declared once) and what the UI needs to
//! draw each: its category, its key form's fields, its sign-in.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::SignInInfo;

/// Declares [`ProviderId`] once: its variants, their names, [`ProviderId::ALL`] (in the order the
/// UI lists them) and parsing all come from this one list, so a vendor cannot be half declared.
macro_rules! providers {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal ),+ $(,)?) => {
        /// A vendor Onramp can connect.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
        #[serde(rename_all = "snake_case")]
        pub enum ProviderId {
            $( $(#[$doc])* $variant, )+
        }

        impl ProviderId {
            pub const ALL: [ProviderId; [$($name),+].len()] = [ $( ProviderId::$variant, )+ ];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( ProviderId::$variant => $name, )+
                }
            }
        }
    };
}

providers! {
    Solaredge = "solaredge",
    Solis = "solis",
    Tesla = "tesla",
    Enphase = "enphase",
    Sma = "sma",
    /// Derapi Join: any device vendor through Derapi.
    Derapi = "derapi",
    /// UtilityAPI Green Button Connect My Data.
    Utilityapi = "utilityapi",
    Pelm = "pelm",
    Metry = "metry",
}

impl ProviderId {
    pub fn parse(s: &str) -> Option<ProviderId> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl std::fmt::Display for ProviderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field of a provider's key form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct FieldSpec {
    /// `api_key`, `key_id` or `key_secret`.
    pub name: String,
    pub label: String,
    pub secret: bool,
    pub placeholder: String,
    /// What a well-formed value looks like, so the form can say so before anything is sent.
    pub shape: KeyShape,
}

/// The characters a vendor's key is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum KeyChars {
    /// Anything printable without spaces (a password, a client id of unknown make).
    Printable,
    /// 0-9 only (a Solis KeyId).
    Digits,
    /// Letters, digits, `-`, `_` and `.` (API keys and secrets).
    Token,
}

/// The shape of a key as its vendor issues it: checked before the key is sent, so a key cut
/// short by a copy is caught at the laptop rather than refused by the vendor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct KeyShape {
    pub chars: KeyChars,
    pub min_len: u32,
    pub max_len: u32,
}

impl KeyShape {
    /// Any printable value up to 512 characters.
    pub const ANY: KeyShape = KeyShape {
        chars: KeyChars::Printable,
        min_len: 1,
        max_len: 512,
    };

    /// What is wrong with `value` as a `label` of `provider`, in the installer's words
    /// (`None`: it has the shape). `value` is already trimmed; it is never repeated back.
    pub fn problem(&self, value: &str, provider: &str, label: &str) -> Option<String> {
        let n = value.chars().count() as u32;
        if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Some(format!(
                "That does not look like a {provider} {label}: it has spaces or line breaks."
            ));
        }
        let allowed = |c: char| match self.chars {
            KeyChars::Printable => true,
            KeyChars::Digits => c.is_ascii_digit(),
            KeyChars::Token => c.is_ascii_alphanumeric() || "-_.".contains(c),
        };
        if !value.chars().all(allowed) {
            let made_of = match self.chars {
                KeyChars::Digits => "digits only",
                _ => "letters and digits only",
            };
            return Some(format!("A {provider} {label} is made of {made_of}."));
        }
        if n < self.min_len || n > self.max_len {
            let characters = |k: u32| crate::text::plural(k.into(), "character");
            let (which, want) = match (n < self.min_len, self.min_len == self.max_len) {
                (short, true) => (
                    if short { "short" } else { "long" },
                    characters(self.min_len),
                ),
                (true, false) => ("short", format!("at least {}", characters(self.min_len))),
                (false, false) => ("long", format!("at most {}", characters(self.max_len))),
            };
            return Some(format!(
                "That {provider} {label} is too {which}: it has {}; a {label} has {want}.",
                characters(n)
            ));
        }
        None
    }
}

/// What kind of data a provider brings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Inverters and batteries, from their vendor.
    Devices,
    /// Devices of many vendors through one service (Derapi).
    Aggregator,
    /// Usage data from the utility.
    Utility,
}

/// What the UI needs to draw a provider's checklist row and its forms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ProviderInfo {
    pub id: ProviderId,
    pub name: String,
    /// "Site", "Station", ...
    pub site_noun: String,
    pub fields: Vec<FieldSpec>,
    /// Where the customer finds their own key.
    pub customer_key_help: String,
    /// Where the installer finds the account-wide key.
    pub account_key_help: String,
    pub installer_account_configured: bool,
    /// The installer account's fields, where the vendor has one (may differ from `fields`).
    pub account_fields: Vec<FieldSpec>,
    /// Set when the customer can connect by signing in at the vendor (OAuth).
    pub sign_in: Option<SignInInfo>,
    /// Which list of the customer's checklist it belongs to.
    pub category: Category,
    /// A sentence the UI shows with the provider (e.g. what only this provider can do).
    pub note: Option<String>,
    /// The company uses it (Settings → Company): the customer page lists only those.
    pub in_use: bool,
}
