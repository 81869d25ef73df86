//! Installer accounts that are sign-ins Onramp renews (Enphase's partner plan: the password
//! grant gives a day-long access token and a rotating refresh token). The vendor says how the
//! installer's entry is read, how the account's systems are listed and how its refusals read;
//! the sign-in, the renewal under its lease and the sweep's part are the service's, the same for
//! every such vendor (`service/account_sign_in.rs`).

use super::oauth::{AppCredentials, Endpoints};
use super::{http, VendorFuture, VendorSite};
use crate::error::{Error, Result};
use crate::model::KeyInput;
use crate::vault::Sensitive;

/// Names of a signed-in account's sealed secrets (beside [`super::API_KEY`]).
pub const ACCESS_TOKEN: &str = "access_token";
pub const REFRESH_TOKEN: &str = "refresh_token";
pub const CLIENT_SECRET: &str = "client_secret";

/// What the installer typed to sign the account in, checked for shape.
pub struct AccountEntry {
    /// The vendor application the account signs in with (its id, secret and API key).
    pub app: AppCredentials,
    pub username: String,
    /// Sent once, at sign-in; kept nowhere.
    pub password: Sensitive<String>,
}

impl AccountEntry {
    /// What the installer sees of the account: the user and the application, masked.
    pub fn hint(&self) -> String {
        account_hint(&self.username, &self.app.client_id)
    }
}

/// "installer@… · partner app 1a2b…".
pub fn account_hint(username: &str, client_id: &str) -> String {
    let app: String = client_id.chars().take(4).collect();
    format!("{username} · partner app {app}…")
}

/// What listing a signed-in account's systems gets.
pub struct AccountSystems<'a> {
    pub client: &'a http::Client,
    pub endpoints: &'a Endpoints,
    pub access: &'a Sensitive<String>,
    pub app: &'a AppCredentials,
}

/// When a refusal came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountStep {
    /// The installer's first sign-in: nothing is saved.
    SignIn,
    /// A renewal of a kept sign-in: the account turns "Sign in again".
    Renewal,
}

/// A vendor's installer account that is a sign-in.
pub trait AccountSignIn: Sync {
    /// Checks the shape of what the installer typed, before anything is sent.
    fn entry(&self, input: &KeyInput) -> Result<AccountEntry>;

    /// Every system the signed-in account sees; a refused API key is said in the installer's
    /// words (at the first sign-in nothing is saved then).
    fn systems<'a>(&'a self, s: AccountSystems<'a>) -> VendorFuture<'a, Vec<VendorSite>>;

    /// The vendor's refusal of the sign-in or a renewal (a typed token error), in the
    /// installer's words and the vendor's terms; anything else comes back as it was.
    fn refused(&self, e: &Error, step: AccountStep) -> Error;
}
