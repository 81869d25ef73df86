//! Installer accounts that are sign-ins (a vendor's [`providers::account::AccountSignIn`]:
//! Enphase's partner plan), kept alive like a customer's grant, renewed under the custody rules
//! of a connection's refresh: one holder at a time by a lease in the store, the in-flight mark
//! before the token request, the rotated tokens sealed at the next generation and written fenced
//! by the lease before the new access token is used, a refusal recorded as the installer's to
//! fix. The password is sent once, at sign-in, and kept nowhere. The accounts themselves
//! (listing, saving, the health board's rows) are in [`super::account`].

use super::{words, Onramp};
use crate::error::{Code, Error, Result, TokenError};
use crate::model::*;
use crate::providers;
use crate::providers::account::{
    AccountSignIn, AccountStep, AccountSystems, ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN,
};
use crate::providers::oauth::{AppCredentials, OAuthSpec, TokenEndpoint, Tokens};
use crate::seal::Secrets;
use crate::store::{app_aad_at, app_row, rfc3339, AccountLease, AccountState, AccountTokens};
use crate::vault::Sensitive;

/// Renew a signed-in account's access token when less than this is left of it (Enphase's last
/// about a day; the sweep renews it ahead, a use renews it when it has lapsed or nearly).
const RENEW_AHEAD: time::Duration = time::Duration::hours(2);
pub(super) const RENEW_ON_USE: time::Duration = time::Duration::minutes(5);
/// After a renewal that failed for now (network, the vendor's 5xx), the sweep waits this long.
const RETRY_AFTER_FAILURE: time::Duration = time::Duration::minutes(5);

/// What renewing an installer account came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renewal {
    /// Its tokens were rotated now.
    Renewed,
    /// Not due, not a sign-in, or another Onramp renewed it meanwhile.
    Unchanged,
}

pub(super) fn parse_time(s: &Option<String>) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(
        s.as_deref()?,
        &time::format_description::well_known::Rfc3339,
    )
    .ok()
}

/// The vendor's account sign-in and its OAuth facts.
fn account_vendor(
    provider: ProviderId,
) -> Result<(&'static dyn AccountSignIn, &'static OAuthSpec)> {
    let v = providers::vendor(provider);
    match (v.account_sign_in(), v.spec().oauth) {
        (Some(a), Some(spec)) => Ok((a, spec)),
        _ => Err(Error::internal(
            "this provider's installer account is not a sign-in",
        )),
    }
}

impl Onramp {
    fn account_token_endpoint<'a>(
        &'a self,
        provider: ProviderId,
        spec: &'static OAuthSpec,
        endpoints: &'a providers::oauth::Endpoints,
        app: &'a AppCredentials,
    ) -> TokenEndpoint<'a> {
        TokenEndpoint {
            client: &self.http,
            vendor: providers::spec(provider).name,
            spec,
            endpoints,
            app,
        }
    }

    fn account_endpoints(&self, provider: ProviderId) -> Result<providers::oauth::Endpoints> {
        self.config
            .oauth_endpoints(provider)
            .ok_or_else(|| Error::internal("a signed-in installer account has OAuth endpoints"))
    }

    /// The sealed form of a signed-in account: the application's secret and API key, and the
    /// tokens of its sign-in.
    fn account_secrets(
        app: &AppCredentials,
        tokens: &Tokens,
        refresh: &Sensitive<String>,
    ) -> Secrets {
        let mut s = Secrets::new();
        if let Some(secret) = &app.client_secret {
            s.insert(CLIENT_SECRET, secret.clone());
        }
        if let Some(key) = &app.api_key {
            s.insert(providers::API_KEY, key.clone());
        }
        s.insert(ACCESS_TOKEN, tokens.access_token.clone());
        s.insert(REFRESH_TOKEN, refresh.clone());
        s
    }

    fn token_expiries(
        &self,
        spec: &OAuthSpec,
        tokens: &Tokens,
    ) -> (Option<String>, Option<String>) {
        let now = self.now();
        let at = |secs: Option<i64>| secs.map(|s| rfc3339(now + time::Duration::seconds(s)));
        let refresh = tokens.refresh_expires_in.or(spec.refresh_lifetime);
        (at(tokens.expires_in), at(refresh))
    }

    /// Signs the installer's account in with the vendor application, checks that the account
    /// lists the company's systems, and only then keeps it.
    pub(super) async fn sign_in_account(
        &self,
        input: &KeyInput,
    ) -> Result<Vec<providers::VendorSite>> {
        let provider = input.provider;
        let (account, spec) = account_vendor(provider)?;
        let name = providers::spec(provider).name;
        let sign_in = account.entry(input)?;
        self.vault.require_ready()?;
        let ep = self.account_endpoints(provider)?;
        let tokens = self
            .account_token_endpoint(provider, spec, &ep, &sign_in.app)
            .password(&sign_in.username, &sign_in.password)
            .await
            .map_err(|e| account.refused(&e, AccountStep::SignIn))?;
        let refresh = tokens.refresh_token.clone().ok_or_else(|| {
            providers::http::vendor_failed(
                name,
                "a sign-in without a refresh token, which Onramp could not keep alive",
            )
        })?;
        let sites = account
            .systems(AccountSystems {
                client: &self.http,
                endpoints: &ep,
                access: &tokens.access_token,
                app: &sign_in.app,
            })
            .await?;
        let (access_expires_at, refresh_expires_at) = self.token_expiries(spec, &tokens);
        self.store
            .put_signed_in_account(
                input.provider,
                &sign_in.app.client_id,
                &sign_in.hint(),
                &self.vault,
                &AccountTokens {
                    secrets: &Self::account_secrets(&sign_in.app, &tokens, &refresh),
                    access_expires_at,
                    refresh_expires_at,
                },
                &words::installer_account_signed_in(input.provider, &sign_in.hint(), self.actor),
            )
            .await?;
        Ok(sites)
    }

    /// Renews a signed-in installer account whose access token has less than `ahead` left
    /// (None: whatever is left). Another Onramp renewing it meanwhile is waited for.
    pub(crate) async fn renew_installer_account(
        &self,
        provider: ProviderId,
        ahead: Option<time::Duration>,
    ) -> Result<Renewal> {
        let due = |row: &crate::store::AccountRow| {
            row.state == Some(AccountState::Active)
                && ahead.is_none_or(|a| {
                    parse_time(&row.access_expires_at).is_none_or(|t| t - self.now() < a)
                })
        };
        let Some(row) = self.store.installer_account(provider).await? else {
            return Ok(Renewal::Unchanged);
        };
        if !due(&row) {
            return Ok(Renewal::Unchanged);
        }
        self.vault.require_ready()?;
        let lease = loop {
            if let Some(lease) = self.store.take_account_lease(provider).await? {
                break lease;
            }
            // Another holder renews it now: wait for its outcome (a lease lasts at most
            // [`crate::store::LEASE`]), then see whether anything is left to do.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            if !self.store.account_leased(provider).await? {
                match self.store.installer_account(provider).await? {
                    Some(r) if due(&r) => continue,
                    _ => return Ok(Renewal::Unchanged),
                }
            }
        };
        // Read again under the lease: another holder may have renewed it just before.
        let now_row = self.store.installer_account(provider).await?;
        if ahead.is_some() && !now_row.as_ref().is_some_and(due) {
            self.store
                .release_account_lease(&lease, lease.in_doubt_since.is_none(), None)
                .await?;
            return Ok(Renewal::Unchanged);
        }
        self.renew_leased(&lease).await.map(|()| Renewal::Renewed)
    }

    /// Records that the account must be signed in again, and why; the reason comes back.
    async fn refuse_account(&self, lease: &AccountLease, why: Error) -> Error {
        let event = words::installer_account_refused(lease.provider, &why, self.actor);
        match self.store.account_refused(lease, &why, &event).await {
            Ok(()) => why,
            Err(store) => store,
        }
    }

    async fn renew_leased(&self, lease: &AccountLease) -> Result<()> {
        let provider = lease.provider;
        let (account, spec) = account_vendor(provider)?;
        let name = providers::spec(provider).name;
        let (Some(sealed), Some(client_id)) = (&lease.sealed, &lease.client_id) else {
            let e = Error::new(
                Code::ReauthRequired,
                format!("The {name} installer account's saved sign-in is missing."),
            )
            .hint("Sign in again in Settings → Installer accounts.");
            return Err(self.refuse_account(lease, e).await);
        };
        let opened = self
            .vault
            .open(
                &app_aad_at(&app_row(provider, "installer_account"), lease.generation),
                sealed,
            )
            .await;
        let s = match opened {
            Ok(s) => s,
            Err(e) => {
                self.store
                    .release_account_lease(lease, lease.in_doubt_since.is_none(), None)
                    .await?;
                return Err(e);
            }
        };
        let app = AppCredentials {
            client_id: client_id.clone(),
            client_secret: s.get(CLIENT_SECRET).cloned(),
            api_key: s.get(providers::API_KEY).cloned(),
        };
        let Some(refresh) = s.get(REFRESH_TOKEN).cloned() else {
            let e = Error::new(
                Code::ReauthRequired,
                format!("The {name} installer account's saved sign-in has no refresh token."),
            )
            .hint("Sign in again in Settings → Installer accounts.");
            return Err(self.refuse_account(lease, e).await);
        };
        let ep = self.account_endpoints(provider)?;
        let result = self
            .account_token_endpoint(provider, spec, &ep, &app)
            .refresh(&refresh)
            .await;
        let tokens = match result {
            Ok(t) => t,
            Err(e)
                if e.code == Code::ReauthRequired
                    || e.token_error.is_some_and(TokenError::app_refused) =>
            {
                let why = match (&lease.in_doubt_since, e.code) {
                    (Some(since), Code::ReauthRequired) => Error::new(
                        Code::TokenLost,
                        format!("The {name} installer account's sign-in was lost: a renewal at {since} was interrupted (Onramp was stopped, or {name}'s answer did not arrive) after {name} had already replaced the token."),
                    )
                    .hint("Sign in again in Settings → Installer accounts."),
                    _ => account.refused(&e, AccountStep::Renewal),
                };
                tracing::warn!(provider = provider.as_str(), code = ?why.code, "installer account needs sign-in");
                return Err(self.refuse_account(lease, why).await);
            }
            Err(e) => {
                // A refusal before the vendor did anything settles the attempt; a lost or
                // unreadable answer may hide a rotation, so the in-flight mark stays.
                let settled = !matches!(e.code, Code::Network | Code::VendorError);
                self.store
                    .release_account_lease(
                        lease,
                        settled && lease.in_doubt_since.is_none(),
                        Some(&e),
                    )
                    .await?;
                return Err(e);
            }
        };
        let next_refresh = tokens.refresh_token.clone().unwrap_or(refresh);
        let (access_expires_at, refresh_expires_at) = self.token_expiries(spec, &tokens);
        self.store
            .write_account_rotation(
                lease,
                &self.vault,
                &AccountTokens {
                    secrets: &Self::account_secrets(&app, &tokens, &next_refresh),
                    access_expires_at,
                    refresh_expires_at,
                },
                &words::installer_account_renewed(provider, self.actor),
            )
            .await?;
        tracing::info!(provider = provider.as_str(), "installer account renewed");
        Ok(())
    }

    /// The sweep's part for installer accounts: those due are renewed. Returns what changed
    /// and what failed, and when the next one is due.
    pub(crate) async fn renew_installer_accounts(
        &self,
        all: bool,
    ) -> (
        Vec<ProviderId>,
        Vec<(ProviderId, ErrorInfo)>,
        Option<time::OffsetDateTime>,
    ) {
        let (mut renewed, mut failed) = (Vec::new(), Vec::new());
        let mut next: Option<time::OffsetDateTime> = None;
        for provider in ProviderId::ALL
            .into_iter()
            .filter(|p| providers::vendor(*p).account_signs_in())
        {
            let due = self
                .renew_account_turn(provider, all, &mut renewed, &mut failed)
                .await;
            next = match (next, due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        (renewed, failed, next)
    }

    /// One signed-in account's part of the sweep; returns when it is next due.
    async fn renew_account_turn(
        &self,
        provider: ProviderId,
        all: bool,
        renewed: &mut Vec<ProviderId>,
        failed: &mut Vec<(ProviderId, ErrorInfo)>,
    ) -> Option<time::OffsetDateTime> {
        let ahead = (!all).then_some(RENEW_AHEAD);
        let retry_at = self.retry_map().get(&provider).copied();
        let held = !all && retry_at.is_some_and(|t| t > self.now());
        if !held {
            match self.renew_installer_account(provider, ahead).await {
                Ok(Renewal::Renewed) => {
                    renewed.push(provider);
                    self.retry_map().remove(&provider);
                    self.account_sites.lock().await.remove(&provider);
                }
                Ok(Renewal::Unchanged) => {}
                Err(e) => {
                    if !e.code.needs_customer() && e.code != Code::NotConfigured {
                        // Failed for now: tried again in a few minutes, not at every sweep.
                        self.retry_map()
                            .insert(provider, self.now() + RETRY_AFTER_FAILURE);
                    }
                    failed.push((provider, e.info()));
                }
            }
        }
        match self.store.installer_account(provider).await {
            Ok(Some(r)) if r.state == Some(AccountState::Active) => {
                let due = parse_time(&r.access_expires_at).map(|t| t - RENEW_AHEAD);
                let retry = self.retry_map().get(&provider).copied();
                match (due, retry) {
                    (Some(d), Some(r)) => Some(d.max(r)),
                    (d, r) => d.or(r),
                }
            }
            _ => None,
        }
    }
}
