//! Providers are data first: a [`ProviderSpec`] says what each vendor is; each file adds only what
//! a table cannot say (how to list sites, how to sign a request).

pub mod derapi;
pub mod enphase;
pub mod http;
pub mod metry;
pub mod oauth;
pub mod pelm;
pub mod sma;
pub mod solaredge;
pub mod solis;
pub mod tesla;
pub mod utilityapi;

use crate::error::{Error, Result};
use crate::model::{
    FieldSpec, KeyInput, ProviderId, ProviderInfo, RedirectMode, SignInChoice, SignInInfo,
};
use crate::vault::Sensitive;

pub struct FieldDef {
    pub name: &'static str,
    pub label: &'static str,
    pub secret: bool,
    pub placeholder: &'static str,
}

/// Static facts about a vendor.
pub struct ProviderSpec {
    pub id: ProviderId,
    pub name: &'static str,
    pub site_noun: &'static str,
    pub production_base_url: &'static str,
    pub fields: &'static [FieldDef],
    pub customer_key_help: &'static str,
    pub account_key_help: &'static str,
    /// How the customer signs in, for vendors that enroll through OAuth.
    pub oauth: Option<&'static oauth::OAuthSpec>,
    /// The installer account's fields when they differ from the customer key's (`None`: the same).
    pub account_fields: Option<&'static [FieldDef]>,
    /// `devices`, `aggregator` or `utility`.
    pub category: &'static str,
    /// What the UI says with the provider.
    pub note: Option<&'static str>,
}

pub fn spec(id: ProviderId) -> &'static ProviderSpec {
    match id {
        ProviderId::Solaredge => &solaredge::SPEC,
        ProviderId::Solis => &solis::SPEC,
        ProviderId::Tesla => &tesla::SPEC,
        ProviderId::Enphase => &enphase::SPEC,
        ProviderId::Sma => &sma::SPEC,
        ProviderId::Utilityapi => &utilityapi::SPEC,
        ProviderId::Pelm => &pelm::SPEC,
        ProviderId::Metry => &metry::SPEC,
        ProviderId::Derapi => &derapi::SPEC,
    }
}

fn field_specs(fields: &[FieldDef]) -> Vec<FieldSpec> {
    fields
        .iter()
        .map(|f| FieldSpec {
            name: f.name.to_string(),
            label: f.label.to_string(),
            secret: f.secret,
            placeholder: f.placeholder.to_string(),
        })
        .collect()
}

impl ProviderSpec {
    /// Connected with the customer's own API key or key pair.
    pub fn keyed(&self) -> bool {
        !self.fields.is_empty()
    }

    /// The installer account's fields (empty: the vendor has no installer account in Onramp).
    pub fn installer_fields(&self) -> &'static [FieldDef] {
        self.account_fields.unwrap_or(self.fields)
    }
}

impl ProviderSpec {
    pub fn info(&self, installer_account_configured: bool) -> ProviderInfo {
        ProviderInfo {
            id: self.id,
            name: self.name.to_string(),
            site_noun: self.site_noun.to_string(),
            fields: field_specs(self.fields),
            account_fields: field_specs(self.installer_fields()),
            category: self.category.to_string(),
            note: self.note.map(str::to_string),
            customer_key_help: self.customer_key_help.to_string(),
            account_key_help: self.account_key_help.to_string(),
            installer_account_configured,
            sign_in: self.oauth.map(|o| SignInInfo {
                help: o.help.to_string(),
                default_mode: o.default_redirect,
                modes: [
                    RedirectMode::Loopback,
                    RedirectMode::DeepLink,
                    RedirectMode::Paste,
                ]
                .into_iter()
                .filter(|m| *m != RedirectMode::Paste || o.paste_redirect_path.is_some())
                .collect(),
                choices: match self.id {
                    ProviderId::Derapi => derapi::VENDORS
                        .iter()
                        .map(|(id, label)| SignInChoice {
                            id: id.to_string(),
                            label: label.to_string(),
                        })
                        .collect(),
                    _ => Vec::new(),
                },
                choice_label: match self.id {
                    ProviderId::Derapi => Some("Device vendor".into()),
                    ProviderId::Utilityapi => Some("Utility".into()),
                    _ => None,
                },
                default_scope: (self.id == ProviderId::Utilityapi)
                    .then(|| utilityapi::DEFAULT_SCOPE.to_string()),
            }),
        }
    }
}

/// A vendor credential, held only in memory and in the vault.
#[derive(Clone, Debug)]
pub enum Credential {
    ApiKey(Sensitive<String>),
    Solis {
        key_id: Sensitive<String>,
        key_secret: Sensitive<String>,
    },
    /// Enphase partner (installer) account: the partner application's current access token
    /// (renewed from its sign-in: [`enphase::PartnerSignIn`]) and its API key.
    EnphasePartner {
        access_token: Sensitive<String>,
        api_key: Sensitive<String>,
    },
}

/// The vault entries of a credential: one secret per entry.
pub const API_KEY: &str = "api_key";
pub const KEY_ID: &str = "key_id";
pub const KEY_SECRET: &str = "key_secret";

fn required(value: &Option<String>, label: &str, provider: &str) -> Result<Sensitive<String>> {
    let v = value.as_deref().map(str::trim).unwrap_or_default();
    if v.is_empty() {
        return Err(Error::validation(format!("Enter the {provider} {label}.")));
    }
    if v.len() > 512 || v.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::validation(format!(
            "That does not look like a {provider} {label}: it has spaces or is too long."
        ))
        .hint("Copy the key again from the vendor's portal, without spaces or line breaks."));
    }
    Ok(Sensitive::new(v.to_string()))
}

impl Credential {
    /// Checks the shape of what was typed, before anything is sent to a vendor.
    pub fn from_input(input: &KeyInput) -> Result<Credential> {
        let spec = spec(input.provider);
        match input.provider {
            ProviderId::Tesla
            | ProviderId::Enphase
            | ProviderId::Sma
            | ProviderId::Utilityapi
            | ProviderId::Pelm
            | ProviderId::Metry
            | ProviderId::Derapi => Err(Error::validation(format!(
                "{} connects by the customer signing in, not with a key.",
                spec.name
            ))),
            ProviderId::Solaredge => Ok(Credential::ApiKey(required(
                &input.api_key,
                "API key",
                spec.name,
            )?)),
            ProviderId::Solis => {
                let key_id = required(&input.key_id, "KeyId", spec.name)?;
                if !key_id.expose().chars().all(|c| c.is_ascii_digit()) {
                    return Err(Error::validation("A Solis KeyId is made of digits only.")
                        .hint("Copy the KeyId from SolisCloud: Account → Basic Settings → API Management."));
                }
                Ok(Credential::Solis {
                    key_id,
                    key_secret: required(&input.key_secret, "KeySecret", spec.name)?,
                })
            }
        }
    }

    /// (vault entry name, secret) pairs.
    pub fn entries(&self) -> Vec<(&'static str, &Sensitive<String>)> {
        match self {
            Credential::ApiKey(k) => vec![(API_KEY, k)],
            Credential::Solis { key_id, key_secret } => {
                vec![(KEY_ID, key_id), (KEY_SECRET, key_secret)]
            }
            Credential::EnphasePartner {
                access_token,
                api_key,
            } => vec![(enphase::ACCESS_TOKEN, access_token), (API_KEY, api_key)],
        }
    }

    pub fn hint(&self) -> String {
        match self {
            Credential::ApiKey(k) => k.hint(),
            Credential::Solis { key_id, .. } => format!("KeyId {}", key_id.hint()),
            Credential::EnphasePartner { access_token, .. } => {
                format!("partner token {}", access_token.hint())
            }
        }
    }
}

pub use crate::model::VendorSite;

/// Every site the credential can see.
pub async fn list_sites(
    client: &http::Client,
    provider: ProviderId,
    base_url: &str,
    credential: &Credential,
) -> Result<Vec<VendorSite>> {
    match (provider, credential) {
        (ProviderId::Solaredge, Credential::ApiKey(key)) => {
            solaredge::list_sites(client, base_url, key).await
        }
        (ProviderId::Solis, Credential::Solis { key_id, key_secret }) => {
            solis::list_stations(client, base_url, key_id, key_secret).await
        }
        (
            ProviderId::Enphase,
            Credential::EnphasePartner {
                access_token,
                api_key,
            },
        ) => enphase::partner_systems(client, base_url, access_token, api_key).await,
        _ => Err(Error::internal("credential does not match the provider")),
    }
}
