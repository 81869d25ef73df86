//! Providers are data first: a [`ProviderSpec`] says what each vendor is; each file adds only what
//! a table cannot say (how to list sites, how to sign a request).

pub mod account;
mod configured;
pub mod derapi;
pub mod enphase;
pub mod http;
pub mod metry;
pub mod oauth;
mod paging;
pub mod pelm;
pub mod refusal;
pub mod sma;
pub mod solaredge;
pub mod solis;
pub mod tesla;
pub mod utilityapi;

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;

use crate::error::{Error, Result};
use crate::model::{
    ConnectionDetails, FieldSpec, KeyInput, KeyShape, ProviderId, ProviderInfo, RedirectMode,
    SignInChoice, SignInInfo, SignInOptions,
};
use crate::vault::{AuthCode, Sensitive};

pub struct FieldDef {
    pub name: &'static str,
    pub label: &'static str,
    pub secret: bool,
    pub placeholder: &'static str,
    /// The vendor's format for it, checked before it is sent.
    pub shape: KeyShape,
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
    pub category: crate::model::Category,
    /// What the UI says with the provider.
    pub note: Option<&'static str>,
    /// Where the provider's own name connects another way (SolarEdge: sites from the fleet key),
    /// the name a terminal uses to connect by the customer's sign-in (`solaredge-site`).
    pub sign_in_name: Option<&'static str>,
}

/// The registry: each provider's implementation. The one `match` on every vendor; a vendor
/// added to [`ProviderId`] and not here does not compile.
pub fn vendor(id: ProviderId) -> &'static dyn Vendor {
    match id {
        ProviderId::Solaredge => &solaredge::SolarEdge,
        ProviderId::Solis => &solis::Solis,
        ProviderId::Tesla => &tesla::Tesla,
        ProviderId::Enphase => &enphase::Enphase,
        ProviderId::Sma => &sma::Sma,
        ProviderId::Utilityapi => &utilityapi::UtilityApi,
        ProviderId::Pelm => &pelm::Pelm,
        ProviderId::Metry => &metry::Metry,
        ProviderId::Derapi => &derapi::Derapi,
    }
}

/// A provider's facts.
pub fn spec(id: ProviderId) -> &'static ProviderSpec {
    vendor(id).spec()
}

/// Whether a vendor accepts a public client (PKCE, no client secret) at its token endpoint.
///
/// - Tesla: yes. Its "Open Source Apps" use the authorization code flow with PKCE and a client
///   id without a secret (developer.tesla.com, Fleet API authentication; vendors.md §1).
/// - SMA: no. SMA issues each app a client id and secret when it registers the app by hand, and
///   documents no public client (vendors.md §3).
/// - Enphase (HTTP Basic with the secret), SolarEdge V2 (JSON body with `client_secret`), Metry,
///   UtilityAPI (HTTP Basic), Pelm (`Pelm-Secret`) and Derapi (client credentials): the secret
///   is part of every documented token request.
pub fn public_client_allowed(provider: ProviderId) -> bool {
    vendor(provider).public_client_allowed()
}

/// The issuer identifier a vendor's authorization server puts in its authorization responses
/// (RFC 9207 `iss`; Tesla names the same parameter `issuer`), where the vendor documents or
/// sends one. Tesla's sign-in comes back with `issuer=https://auth.tesla.com/oauth2/v3` (the
/// issuer of its OpenID configuration). No other vendor Onramp signs in with sends one; an
/// issuer can be declared for any provider with `issuer` in `onramp.toml`.
pub fn documented_issuer(provider: ProviderId) -> Option<&'static str> {
    vendor(provider).documented_issuer()
}

/// What a vendor's site discovery gets after the customer signed in.
pub struct Discovery<'a> {
    pub client: &'a http::Client,
    pub endpoints: &'a oauth::Endpoints,
    pub app: &'a oauth::AppCredentials,
    pub access: &'a Sensitive<String>,
    /// What the sign-in's answer carried besides the code (SolarEdge's `site_id`).
    pub extra: &'a BTreeMap<String, String>,
}

/// What a usage fetch gets: the grant's endpoints, its access token and its details.
pub struct UsageRequest<'a> {
    pub client: &'a http::Client,
    pub endpoints: &'a oauth::Endpoints,
    pub access: &'a Sensitive<String>,
    pub details: &'a ConnectionDetails,
    /// This year (the injected clock's): Metry reads it and the year before.
    pub year: i32,
}

/// What a sign-in's preparation gets, before the pending sign-in is written.
pub struct SignInPrep<'a> {
    pub client: &'a http::Client,
    pub config: &'a crate::config::Config,
    pub spec: &'static oauth::OAuthSpec,
    pub endpoints: &'a oauth::Endpoints,
    pub app: &'a oauth::AppCredentials,
    pub customer_id: &'a str,
    pub options: &'a SignInOptions,
    pub redirect_uri: &'a str,
    /// The customer already has a signed-in connection at this vendor.
    pub existing: bool,
}

/// What a vendor needs before the browser opens, and what its completion needs to know.
#[derive(Default)]
pub struct Prepared {
    /// Endpoints other than the configured ones (UtilityAPI: the chosen utility's).
    pub endpoints: Option<oauth::Endpoints>,
    /// The scope to ask for, when the installer chose it.
    pub scope: Option<String>,
    /// Kept with the pending sign-in and then with the connection.
    pub details: ConnectionDetails,
    /// A secret the authorize URL carries (Pelm's connect token); never stored.
    pub ticket: Option<Sensitive<String>>,
}

/// What the authorize URL is made of.
pub struct AuthorizeRequest<'a> {
    pub spec: &'static oauth::OAuthSpec,
    pub endpoints: &'a oauth::Endpoints,
    pub app: &'a oauth::AppCredentials,
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub challenge: &'a str,
    pub scope: &'a str,
    pub details: &'a ConnectionDetails,
    pub ticket: Option<&'a Sensitive<String>>,
}

/// A hosted sign-in's answer (Pelm Connect, Derapi Join), for a vendor that completes it its own
/// way rather than with the code exchange.
pub struct Answer<'a> {
    pub client: &'a http::Client,
    pub spec: &'static oauth::OAuthSpec,
    pub endpoints: &'a oauth::Endpoints,
    pub app: &'a oauth::AppCredentials,
    /// The code of the answer (`None` where the vendor sends none:
    /// [`Vendor::answers_without_code`]).
    pub code: Option<&'a AuthCode>,
    /// What the answer carried besides the code.
    pub extra: &'a BTreeMap<String, String>,
    /// What the sign-in kept from its preparation.
    pub details: &'a ConnectionDetails,
}

/// What a hosted sign-in gave: the connection to write.
pub struct Hosted {
    pub sites: Vec<VendorSite>,
    pub details: ConnectionDetails,
    /// The customer's access token, where the vendor gives one (it does not expire).
    pub access: Option<Sensitive<String>>,
    /// The customer's refresh token, where the vendor gives one with it (a Join session).
    pub refresh: Option<Sensitive<String>>,
    pub credential_hint: Option<String>,
    /// The customer's signed-in connection at this vendor is renewed in place, with this
    /// event (Pelm's update mode), rather than a second one made.
    pub renewal: Option<String>,
}

/// What a check with the company's app gets.
pub struct AppCheck<'a> {
    pub client: &'a http::Client,
    pub spec: &'static oauth::OAuthSpec,
    /// The grant's endpoints ([`Vendor::grant_endpoints`]).
    pub endpoints: &'a oauth::Endpoints,
    pub app: &'a oauth::AppCredentials,
    pub details: &'a ConnectionDetails,
    /// The sites Onramp knows, for a vendor whose check says only "still valid".
    pub known: Vec<VendorSite>,
}

/// A utility's usage: its meters as sites, where the series come from, the series.
pub struct VendorUsage {
    pub sites: Vec<VendorSite>,
    pub source: String,
    pub series: Vec<crate::model::NewSeries>,
    /// The account's name, where the vendor gives one (Metry).
    pub account: Option<String>,
}

/// What starting a polled sign-in gets.
pub struct SessionStart<'a> {
    pub client: &'a http::Client,
    pub config: &'a crate::config::Config,
    pub spec: &'static oauth::OAuthSpec,
    pub endpoints: &'a oauth::Endpoints,
    pub app: &'a oauth::AppCredentials,
    pub options: &'a SignInOptions,
}

/// A polled sign-in in progress: the page the customer opens, and what its polls need.
#[derive(Clone, Debug)]
pub struct Session {
    /// The vendor's id of the session (also the sign-in's id in Onramp).
    pub id: String,
    pub page_url: String,
    /// Kept for the polls and then with the connection (Derapi: the device vendor).
    pub details: ConnectionDetails,
}

/// What asking about a polled sign-in gets.
pub struct SessionAsk<'a> {
    pub client: &'a http::Client,
    pub spec: &'static oauth::OAuthSpec,
    pub endpoints: &'a oauth::Endpoints,
    pub app: &'a oauth::AppCredentials,
    pub session: &'a Session,
}

/// A sign-in the vendor hosts without a way back to Onramp: Onramp starts a session, opens its
/// page for the customer and asks until the customer is done (Derapi's Join session).
pub trait PolledSignIn: Sync {
    /// Whether this is the vendor's sign-in when the front end does not choose
    /// (`onramp.toml`'s `join = "session"` for Derapi).
    fn by_default(&self, configured: &crate::config::OAuthConfig) -> bool;

    /// Starts a session.
    fn begin<'a>(&'a self, s: SessionStart<'a>) -> VendorFuture<'a, Session>;

    /// Asks whether the customer is done: `None` while they are not, the connection to write
    /// once they are; a refusal (the customer declined) is an error.
    fn poll<'a>(&'a self, a: SessionAsk<'a>) -> VendorFuture<'a, Option<Hosted>>;
}

/// A vendor's future: the trait stays object safe, so the registry hands out `&dyn Vendor`.
pub type VendorFuture<'a, T> = BoxFuture<'a, Result<T>>;

/// The refusal of a sign-in answer without an authorization code from a vendor that always
/// sends one ([`Vendor::answers_without_code`] says which do not).
pub fn missing_code(provider: ProviderId) -> Error {
    Error::validation(format!(
        "This sign-in answer carries no authorization code, and {} always sends one.",
        spec(provider).name
    ))
    .hint("Start the connection again from Onramp; nothing was sent to the vendor.")
}

/// What Onramp asks of a vendor: its facts ([`ProviderSpec`]) and what a table cannot say. Each
/// vendor implements it in its own file; the defaults are what a plain OAuth vendor does (the
/// code exchange and the refresh are shared: `oauth::TokenEndpoint`), so such a vendor writes
/// `spec` and `discover` only.
pub trait Vendor: Sync {
    /// Its facts.
    fn spec(&self) -> &'static ProviderSpec;

    /// Choices offered before a sign-in starts (Derapi: the device vendor).
    fn sign_in_choices(&self) -> Vec<SignInChoice> {
        Vec::new()
    }

    /// What those choices are called (a utility, a device vendor).
    fn choice_label(&self) -> Option<&'static str> {
        None
    }

    /// The scope the sign-in form starts with, where the installer may edit it.
    fn default_scope(&self) -> Option<&'static str> {
        None
    }

    /// Whether the vendor accepts a public client (PKCE, no secret): see
    /// [`public_client_allowed`].
    fn public_client_allowed(&self) -> bool {
        false
    }

    /// The issuer the vendor names in its authorization answers: see
    /// [`documented_issuer`].
    fn documented_issuer(&self) -> Option<&'static str> {
        None
    }

    /// The choices `onramp.toml` makes (UtilityAPI: its configured utilities), in place of
    /// [`Vendor::sign_in_choices`]; `None`: the vendor's own.
    fn configured_choices(&self, _config: &crate::config::Config) -> Option<Vec<SignInChoice>> {
        None
    }

    /// The vendor's sign-in that runs as a session Onramp asks about until it is done (Derapi's
    /// Join session) rather than by a redirect. `None`: the vendor has no such sign-in.
    fn polled_sign_in(&self) -> Option<&dyn PolledSignIn> {
        None
    }

    /// Checks what `onramp.toml` says of the vendor in its `[oauth.<vendor>]` section beyond
    /// the shared settings (Derapi's `join`); the error names the setting.
    fn check_config(&self, _configured: &crate::config::OAuthConfig) -> Result<(), String> {
        Ok(())
    }

    /// Whether `onramp.toml` may give the vendor's key API its own base, in a section named
    /// after the vendor (`[solaredge]`, `[solis]`: `base_url`).
    fn api_section(&self) -> bool {
        false
    }

    /// The vendor's documented token revocation endpoint, where it has one (SolarEdge V2).
    fn documented_revoke_url(&self) -> Option<&'static str> {
        None
    }

    /// The vendor's installer account when it is a sign-in that Onramp renews (Enphase's
    /// partner plan: the password grant), rather than a saved key. `None`: a saved key.
    fn account_sign_in(&self) -> Option<&dyn account::AccountSignIn> {
        None
    }

    /// Whether [`Vendor::account_sign_in`] is given.
    fn account_signs_in(&self) -> bool {
        self.account_sign_in().is_some()
    }

    /// What a connection lets Onramp do, for the customer's hand-off sheet.
    fn access_words(&self) -> String {
        match self.spec().category {
            crate::model::Category::Utility => {
                "Read your utility usage and bills; nothing can be changed.".into()
            }
            _ => format!(
                "Read your {}'s production, consumption and status; nothing can be changed.",
                self.spec().site_noun
            ),
        }
    }

    /// How the customer withdraws that access at the vendor, for the hand-off sheet, by how
    /// it was given.
    fn withdraw_words(&self, kind: crate::model::CredentialKind) -> String {
        let name = self.spec().name;
        match kind {
            crate::model::CredentialKind::Oauth => format!(
                "Sign in to your {name} account and remove the app you approved today from the apps that may use your account. Your installer can also disconnect it in Onramp."
            ),
            crate::model::CredentialKind::CustomerKey => format!(
                "Delete the key you created in your {name} account; Onramp can no longer read anything with it."
            ),
            crate::model::CredentialKind::InstallerAccount => format!(
                "Your installer reads it through their {name} installer account: ask them to remove your {}.",
                self.spec().site_noun
            ),
        }
    }

    /// The customer's own key, checked for shape before anything is sent.
    fn customer_key(&self, _input: &KeyInput) -> Result<Credential> {
        Err(Error::validation(format!(
            "{} connects by the customer signing in, not with a key.",
            self.spec().name
        )))
    }

    /// A key credential from its stored secrets (`secret` opens one by its entry name).
    fn stored_key(
        &self,
        _secret: &dyn Fn(&str) -> Result<Sensitive<String>>,
    ) -> Result<Credential> {
        Err(Error::internal("an OAuth provider has no key credential"))
    }

    /// Every site a key (the customer's or the installer account's) can see.
    fn list_sites<'a>(
        &'a self,
        _client: &'a http::Client,
        _base_url: &'a str,
        _credential: &'a Credential,
    ) -> VendorFuture<'a, Vec<VendorSite>> {
        Box::pin(async { Err(Error::internal("credential does not match the provider")) })
    }

    /// A grant's endpoints: the configured ones, unless the vendor's grant names its own
    /// (UtilityAPI: the utility the customer chose, kept in the connection's `details`).
    fn grant_endpoints(
        &self,
        _config: &crate::config::Config,
        _details: &ConnectionDetails,
        configured: oauth::Endpoints,
    ) -> Result<oauth::Endpoints> {
        Ok(configured)
    }

    /// What must exist before the browser opens (UtilityAPI's utility, Pelm's connect token,
    /// Derapi's Join flow). Default: nothing.
    fn prepare_sign_in<'a>(&'a self, _p: SignInPrep<'a>) -> VendorFuture<'a, Prepared> {
        Box::pin(async { Ok(Prepared::default()) })
    }

    /// The URL the customer opens. Default: the authorization-code request with PKCE.
    fn authorize_url(&self, a: AuthorizeRequest<'_>) -> Result<String> {
        oauth::authorize_url(
            a.spec,
            a.endpoints,
            &a.app.client_id,
            a.redirect_uri,
            a.state,
            a.challenge,
            a.scope,
        )
    }

    /// Whether the vendor's sign-in answer may come back without an authorization code (Derapi
    /// Join answers with its state and an `enrollmentID` only). Default: a code is required,
    /// and an answer without one is refused before anything is sent.
    fn answers_without_code(&self) -> bool {
        false
    }

    /// How the answer completes, for a vendor whose sign-in is hosted (`None`: the default, the
    /// authorization-code exchange, then usage or discovery).
    fn complete_hosted<'a>(&'a self, _a: Answer<'a>) -> Option<VendorFuture<'a, Hosted>> {
        None
    }

    /// Whether a check asks the vendor with the company's app rather than the customer's access
    /// token ([`Vendor::check_with_app`]).
    fn checks_with_app(&self) -> bool {
        false
    }

    /// A check with the company's app: the sites still there (Derapi holds the vendor's
    /// credentials; UtilityAPI keeps an authorization record).
    fn check_with_app<'a>(&'a self, _c: AppCheck<'a>) -> VendorFuture<'a, Vec<VendorSite>> {
        Box::pin(async {
            Err(Error::internal(
                "this provider is checked with its access token",
            ))
        })
    }

    /// A fresh grant's answer is complete (UtilityAPI: it names where the data is).
    fn check_grant(&self, _tokens: &oauth::Tokens) -> Result<()> {
        Ok(())
    }

    /// A grant is kept when its first usage fetch fails (it can be fetched again later);
    /// otherwise the sign-in fails with it.
    fn grant_outlives_usage(&self) -> bool {
        false
    }

    /// Whether the vendor gives usage data ([`Vendor::usage`] is `Some`; the checklist holds
    /// the two together).
    fn gives_usage(&self) -> bool {
        false
    }

    /// The usage a grant gives (utilities), or `None`: the vendor gives none.
    fn usage<'a>(&'a self, _r: UsageRequest<'a>) -> Option<VendorFuture<'a, VendorUsage>> {
        None
    }

    /// The sites a fresh access token gives access to.
    fn discover<'a>(&'a self, _d: Discovery<'a>) -> VendorFuture<'a, Vec<VendorSite>> {
        let name = self.spec().name;
        Box::pin(async move {
            Err(Error::internal(format!(
                "{name} sites are not discovered with the access token alone"
            )))
        })
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
            shape: f.shape,
        })
        .collect()
}

impl ProviderSpec {
    /// Connected with the customer's own API key or key pair.
    pub fn keyed(&self) -> bool {
        !self.fields.is_empty()
    }

    /// Whether the provider's own name connects by the customer signing in (OAuth).
    pub fn signs_in(&self) -> bool {
        self.oauth.is_some() && self.sign_in_name.is_none()
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
            category: self.category,
            note: self.note.map(str::to_string),
            customer_key_help: self.customer_key_help.to_string(),
            account_key_help: self.account_key_help.to_string(),
            installer_account_configured,
            in_use: true,
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
                choices: vendor(self.id).sign_in_choices(),
                choice_label: vendor(self.id).choice_label().map(str::to_string),
                default_scope: vendor(self.id).default_scope().map(str::to_string),
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
    /// An installer account that is a sign-in (Enphase's partner plan): its current access token
    /// (renewed from its sign-in: [`account::AccountSignIn`]) and its application's API key.
    SignedInAccount {
        access_token: Sensitive<String>,
        api_key: Sensitive<String>,
    },
}

/// The vault entries of a credential: one secret per entry.
pub const API_KEY: &str = "api_key";
pub const KEY_ID: &str = "key_id";
pub const KEY_SECRET: &str = "key_secret";

pub(crate) fn required(
    value: &Option<String>,
    field: &FieldDef,
    provider: &str,
) -> Result<Sensitive<String>> {
    let v = value.as_deref().map(str::trim).unwrap_or_default();
    if v.is_empty() {
        return Err(Error::validation(format!(
            "Enter the {provider} {}.",
            field.label
        )));
    }
    if let Some(problem) = field.shape.problem(v, provider, field.label) {
        return Err(Error::validation(problem).hint(
            "Copy the key again from the vendor's portal, whole and without spaces or line breaks.",
        ));
    }
    Ok(Sensitive::new(v.to_string()))
}

impl Credential {
    /// Checks the shape of what was typed, before anything is sent to a vendor.
    pub fn from_input(input: &KeyInput) -> Result<Credential> {
        vendor(input.provider).customer_key(input)
    }

    /// (vault entry name, secret) pairs.
    pub fn entries(&self) -> Vec<(&'static str, &Sensitive<String>)> {
        match self {
            Credential::ApiKey(k) => vec![(API_KEY, k)],
            Credential::Solis { key_id, key_secret } => {
                vec![(KEY_ID, key_id), (KEY_SECRET, key_secret)]
            }
            Credential::SignedInAccount {
                access_token,
                api_key,
            } => vec![(account::ACCESS_TOKEN, access_token), (API_KEY, api_key)],
        }
    }

    pub fn hint(&self) -> String {
        match self {
            Credential::ApiKey(k) => k.hint(),
            Credential::Solis { key_id, .. } => format!("KeyId {}", key_id.hint()),
            Credential::SignedInAccount { access_token, .. } => {
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
    vendor(provider)
        .list_sites(client, base_url, credential)
        .await
}

#[cfg(test)]
mod checklist;
