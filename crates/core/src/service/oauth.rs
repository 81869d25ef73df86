//! Enrollment through the vendor's sign-in: begin (PKCE + state + authorize URL), complete
//! (untrusted callback -> pending authorization -> code exchange -> tokens in the vault ->
//! sites discovered -> connection stored), and the vendor app credentials it needs.

use super::Onramp;
use crate::auth::callback::{parse_url, Callback, DEEP_LINK};
use crate::auth::{Authorizations, BeginRequest, DEFAULT_TTL};
use crate::error::{Code, Error, Result};
use crate::model::*;
use crate::providers;
use crate::providers::oauth::{self as vendor_oauth, Endpoints, OAuthSpec};
use crate::store::{new_id, rfc3339, NewConnection};

use super::tokens::{Grant, REFRESH_TOKEN};

pub(crate) const CLIENT_SECRET: &str = "client_secret";
pub(crate) const APP_API_KEY: &str = "api_key";

/// What the caller wants the redirect to be.
pub enum Redirect {
    /// The caller bound a loopback listener: its exact URI.
    Loopback(String),
    DeepLink,
    Paste,
}

impl Onramp {
    pub(crate) fn oauth_spec_pub(
        &self,
        provider: ProviderId,
    ) -> Result<(&'static OAuthSpec, Endpoints)> {
        self.oauth_spec(provider)
    }

    pub(super) fn oauth_spec(
        &self,
        provider: ProviderId,
    ) -> Result<(&'static OAuthSpec, Endpoints)> {
        let spec = providers::spec(provider);
        let oauth = spec.oauth.ok_or_else(|| {
            Error::validation(format!(
                "{} connects with a key, not by signing in.",
                spec.name
            ))
        })?;
        let ep = self
            .endpoints
            .get(&provider)
            .cloned()
            .ok_or_else(|| Error::internal("OAuth provider without endpoints"))?;
        Ok((oauth, ep))
    }

    /// Starts a sign-in with the vendor's defaults (no utility, scope or vendor picked).
    pub async fn begin_oauth(
        &self,
        customer_id: &str,
        provider: ProviderId,
        redirect: Redirect,
    ) -> Result<OAuthStart> {
        self.begin_sign_in(customer_id, provider, redirect, &SignInOptions::default())
            .await
    }

    /// Starts a sign-in: records the pending authorization and returns the URL to open.
    pub async fn begin_sign_in(
        &self,
        customer_id: &str,
        provider: ProviderId,
        redirect: Redirect,
        options: &SignInOptions,
    ) -> Result<OAuthStart> {
        self.begin_sign_in_for(customer_id, provider, redirect, options, None)
            .await
    }

    /// Re-authorization: the customer signs in again for an existing connection (its grant was
    /// revoked or expired). The same choices as the first time (utility, scope, device vendor);
    /// the answer renews this connection in place: same id, sites kept, an event that says so.
    pub async fn begin_reauthorize(
        &self,
        connection_id: &str,
        redirect: Redirect,
    ) -> Result<OAuthStart> {
        let conn = self.store.connection(connection_id).await?;
        if conn.kind != CredentialKind::Oauth {
            return Err(Error::validation(
                "Only connections made by the customer signing in can be re-authorized.",
            )
            .hint("For a key, enter the new key with Connect."));
        }
        let options = SignInOptions {
            utility: conn.details.utility.clone(),
            scope: conn.details.scope_requested.clone(),
            vendor: conn.details.vendor.clone(),
        };
        self.begin_sign_in_for(
            &conn.customer_id,
            conn.provider,
            redirect,
            &options,
            Some(&conn.id),
        )
        .await
    }

    async fn begin_sign_in_for(
        &self,
        customer_id: &str,
        provider: ProviderId,
        redirect: Redirect,
        options: &SignInOptions,
        connection_id: Option<&str>,
    ) -> Result<OAuthStart> {
        let customer = self.store.customer(customer_id).await?;
        let (spec, mut ep) = self.oauth_spec(provider)?;
        let app = self.app_credentials(provider).await?;
        let (redirect_uri, mode) = match redirect {
            Redirect::Loopback(uri) => (uri, RedirectMode::Loopback),
            Redirect::DeepLink => {
                let (_, relay) = self.sign_in_return(provider).await?;
                (
                    relay.unwrap_or_else(|| DEEP_LINK.to_string()),
                    RedirectMode::DeepLink,
                )
            }
            Redirect::Paste => {
                let path = spec.paste_redirect_path.ok_or_else(|| {
                    Error::validation(format!(
                        "{} has no page that shows the code; use the browser return (loopback) or the deep link.",
                        providers::spec(provider).name
                    ))
                })?;
                // The vendor's code page lives on its authorize host.
                let page = url::Url::parse(&ep.authorize_url)
                    .and_then(|u| u.join(path))
                    .map_err(|e| {
                        Error::new(
                            Code::NotConfigured,
                            format!("The authorize URL is not valid: {e}"),
                        )
                    })?;
                (page.to_string(), RedirectMode::Paste)
            }
        };
        // What must exist before the browser opens, and what the completion needs to know.
        let vendor = providers::vendor(provider);
        let existing = self
            .store
            .find_connection(&customer.id, provider, CredentialKind::Oauth)
            .await?
            .is_some();
        let prepared = vendor
            .prepare_sign_in(providers::SignInPrep {
                client: &self.http,
                config: &self.config,
                spec,
                endpoints: &ep,
                app: &app,
                customer_id: &customer.id,
                options,
                redirect_uri: &redirect_uri,
                existing,
            })
            .await?;
        if let Some(own) = prepared.endpoints {
            ep = own;
        }
        let scope = prepared.scope.unwrap_or_else(|| {
            self.config
                .oauth_scope(provider)
                .unwrap_or_else(|| spec.scopes.to_string())
        });
        let details = prepared.details;
        let now = self.now();
        let begun = Authorizations::new(&self.store, &self.vault)
            .begin(
                &BeginRequest {
                    provider,
                    customer_id: &customer.id,
                    connection_id,
                    redirect_uri: &redirect_uri,
                    ttl: DEFAULT_TTL,
                    details: (!details.is_empty())
                        .then(|| serde_json::to_string(&details).unwrap_or_default()),
                },
                now,
            )
            .await?;
        let authorize_url = vendor.authorize_url(providers::AuthorizeRequest {
            spec,
            endpoints: &ep,
            app: &app,
            redirect_uri: &redirect_uri,
            state: begun.state.expose(),
            challenge: &begun.challenge,
            scope: &scope,
            details: &details,
            ticket: prepared.ticket.as_ref(),
        })?;
        Ok(OAuthStart {
            provider,
            authorize_url,
            redirect_uri,
            mode,
            state: begun.state.expose().to_string(),
            expires_at: rfc3339(begun.expires_at),
        })
    }

    /// Completes a sign-in from a callback URL (deep link, loopback, relay).
    pub async fn complete_oauth(
        &self,
        url: &str,
        expected: Option<ProviderId>,
    ) -> Result<Connection> {
        let cb = parse_url(url)?;
        self.finish(cb, expected).await
    }

    /// Completes a sign-in from an answer that came from the vendor's redirect.
    pub(super) async fn finish(
        &self,
        cb: Callback,
        expected: Option<ProviderId>,
    ) -> Result<Connection> {
        match self.finish_from(cb, expected, AnswerFrom::Vendor).await {
            Finish::Done(result) => result,
            Finish::Reopened(e) => Err(e),
        }
    }

    pub(super) async fn finish_from(
        &self,
        cb: Callback,
        expected: Option<ProviderId>,
        from: AnswerFrom,
    ) -> Finish {
        let auth = Authorizations::new(&self.store, &self.vault);
        let done = match self.answer_of(&auth, &cb, expected).await {
            Ok(done) => done,
            Err(e) => return Finish::Done(Err(e)),
        };
        match self.complete_answer(&done).await {
            // The vendor refused a code the installer typed or copied: the vendor's real code
            // is still unused, so the sign-in opens again for another paste.
            Err(e)
                if from == AnswerFrom::Paste
                    && e.token_error == Some(crate::error::TokenError::InvalidGrant) =>
            {
                match auth.reopen(&done, self.now()).await {
                    Ok(true) => Finish::Reopened(code_not_accepted(done.provider, e)),
                    Ok(false) => Finish::Done(Err(e)),
                    Err(store) => Finish::Done(Err(store)),
                }
            }
            result => Finish::Done(result),
        }
    }

    /// Matches the answer to its pending sign-in (and consumes it).
    async fn answer_of(
        &self,
        auth: &Authorizations<'_>,
        cb: &Callback,
        expected: Option<ProviderId>,
    ) -> Result<crate::auth::Completed> {
        auth.check_issuer(cb, |p| self.config.oauth_issuer(p))
            .await?;
        auth.complete(cb, expected, self.now()).await
    }

    /// The matched answer's completion: the code exchange (or the vendor's own), then what the
    /// grant gives, written as the connection.
    async fn complete_answer(&self, done: &crate::auth::Completed) -> Result<Connection> {
        let now = self.now();
        let details: ConnectionDetails = match done.details.as_deref() {
            None => ConnectionDetails::default(),
            Some(d) => serde_json::from_str(d)
                .map_err(|e| Error::unreadable("the sign-in's saved details", e))?,
        };
        let provider = done.provider;
        let vendor = providers::vendor(provider);
        let name = vendor.spec().name;
        let (spec, configured) = self.oauth_spec(provider)?;
        let app = self.app_credentials(provider).await?;
        let answer = providers::Answer {
            client: &self.http,
            spec,
            endpoints: &configured,
            app: &app,
            code: done.code.as_ref(),
            extra: &done.extra,
            details: &details,
        };
        if let Some(complete) = vendor.complete_hosted(answer) {
            let hosted = complete.await?;
            return self.store_hosted(&done.customer_id, provider, hosted).await;
        }
        let mut details = details;
        let ep = vendor.grant_endpoints(&self.config, &details, configured)?;
        let tokens = vendor_oauth::TokenEndpoint {
            client: &self.http,
            vendor: name,
            spec,
            endpoints: &ep,
            app: &app,
        }
        .exchange_code(
            done.code
                .as_ref()
                .ok_or_else(|| crate::auth::missing_code(provider))?
                .expose(),
            &done.redirect_uri,
            &done.verifier,
        )
        .await?;
        vendor.check_grant(&tokens)?;
        // Where an ESPI grant keeps the customer's data (UtilityAPI), on the token's host.
        super::refresh::grant_uris(&tokens, &ep.token_url, &mut details)?;
        // Usage that comes with the grant (Green Button, Metry), stored with the connection.
        let mut usage: Option<(String, Vec<crate::store::NewSeries>)> = None;
        let mut usage_error: Option<Error> = None;
        let request = providers::UsageRequest {
            client: &self.http,
            endpoints: &ep,
            access: &tokens.access_token,
            details: &details,
            year: now.year(),
        };
        let fetched = match vendor.usage(request) {
            Some(fetch) => Some(fetch.await),
            None => None,
        };
        let sites = match fetched {
            Some(fetched) => match fetched {
                Ok(u) => {
                    if let Some(a) = u.account {
                        details.account = Some(a);
                    }
                    usage = Some((u.source, u.series));
                    u.sites
                }
                Err(e) if vendor.grant_outlives_usage() => {
                    usage_error = Some(e);
                    Vec::new()
                }
                Err(e) => return Err(e),
            },
            None => {
                vendor
                    .discover(providers::Discovery {
                        client: &self.http,
                        endpoints: &ep,
                        app: &app,
                        access: &tokens.access_token,
                        extra: &done.extra,
                    })
                    .await?
            }
        };
        if sites.is_empty() && usage_error.is_none() {
            return Err(Error::new(
                Code::VendorRejected,
                format!("{name} says this account has no {}s.", providers::spec(provider).site_noun),
            )
            .hint(format!("Ask the customer to sign in to the {name} app once and check the system is registered, then connect again.")));
        }
        let at = |secs: Option<i64>| secs.map(|s| rfc3339(now + time::Duration::seconds(s)));
        let refresh_expires = tokens
            .refresh_expires_in
            .or(tokens.refresh_token.as_ref().and(spec.refresh_lifetime));
        if let Some(id) = &done.connection_id {
            return self
                .renew(
                    id,
                    &done.customer_id,
                    provider,
                    &tokens,
                    (at(tokens.expires_in), at(refresh_expires), rfc3339(now)),
                    details,
                    usage,
                )
                .await;
        }
        let id = self
            .save_connection(&NewConnection {
                id: new_id(),
                customer_id: &done.customer_id,
                provider,
                kind: CredentialKind::Oauth,
                credential_hint: None,
                secrets: Some(Grant::secrets(
                    &tokens.access_token,
                    tokens.refresh_token.as_ref(),
                )),
                sites: &sites,
                scopes: tokens.scope.clone().or_else(|| {
                    details
                        .scope_requested
                        .as_ref()
                        .cloned()
                        .or_else(|| self.config.oauth_scope(provider).filter(|s| !s.is_empty()))
                }),
                access_expires_at: at(tokens.expires_in),
                refresh_expires_at: at(refresh_expires),
                tokens_issued_at: Some(rfc3339(now)),
                details,
            })
            .await?;
        let conn = self.store.connection(&id).await?;
        if let Some((source, series)) = usage {
            self.store_usage(&conn.customer_id, Some(&conn.id), &source, &series)
                .await?;
        }
        if let Some(e) = usage_error {
            // The grant is kept (the customer need not sign in again); the usage can be fetched again.
            self.store
                .record_check(&conn.id, Some(&e.info()), &[], self.actor)
                .await?;
            return self.store.connection(&conn.id).await;
        }
        Ok(conn)
    }

    /// A re-authorization's answer for an existing connection: the new tokens replace the old
    /// in the keyring (the pair in one write), the grant's facts are updated, the sites are kept.
    #[allow(clippy::too_many_arguments)]
    async fn renew(
        &self,
        connection_id: &str,
        customer_id: &str,
        provider: ProviderId,
        tokens: &vendor_oauth::Tokens,
        (access_expires, refresh_expires, issued): (Option<String>, Option<String>, String),
        details: ConnectionDetails,
        usage: Option<(String, Vec<crate::store::NewSeries>)>,
    ) -> Result<Connection> {
        let conn = self.store.connection(connection_id).await?;
        if conn.customer_id != customer_id || conn.provider != provider {
            return Err(Error::validation(
                "This sign-in was for another connection; nothing was changed.",
            ));
        }
        // An answer without a refresh token keeps the one the connection had.
        let kept = match (
            &tokens.refresh_token,
            self.store.connection_secrets(&conn.id).await?,
        ) {
            (None, Some(row)) => self
                .vault
                .open(
                    &crate::store::connection_aad(&conn.id, row.generation),
                    &row.sealed,
                )
                .await
                .ok()
                .and_then(|s| s.get(REFRESH_TOKEN).cloned()),
            _ => None,
        };
        let secrets = Grant::secrets(
            &tokens.access_token,
            tokens.refresh_token.as_ref().or(kept.as_ref()),
        );
        let mut merged = conn.details.clone();
        merged.merge(details);
        let name = providers::spec(provider).name;
        self.store
            .update_grant(
                &crate::store::NewGrant {
                    connection_id: &conn.id,
                    scopes: tokens.scope.as_deref(),
                    access_expires_at: access_expires.as_deref(),
                    refresh_expires_at: refresh_expires.as_deref(),
                    tokens_issued_at: Some(&issued),
                    details: Some(&merged),
                    sites: None,
                    secrets: &secrets,
                },
                &self.vault,
                Some(crate::store::NewEvent {
                    customer_id: Some(customer_id),
                    connection_id: Some(&conn.id),
                    provider: Some(provider),
                    kind: crate::model::EventKind::Reauthorized,
                    summary: format!(
                        "{name} re-authorized by the customer{}",
                        tokens
                            .scope
                            .as_deref()
                            .map(|s| format!(" (scope {s})"))
                            .unwrap_or_default()
                    ),
                    actor: self.actor,
                }),
            )
            .await?;
        if let Some((source, series)) = usage {
            self.store_usage(customer_id, Some(&conn.id), &source, &series)
                .await?;
        }
        self.store.connection(&conn.id).await
    }

    /// Writes what a hosted sign-in gave: a new connection, or the customer's signed-in one
    /// renewed in place where the vendor renews (Pelm's update mode).
    pub(super) async fn store_hosted(
        &self,
        customer_id: &str,
        provider: ProviderId,
        hosted: providers::Hosted,
    ) -> Result<Connection> {
        let secrets = hosted
            .access
            .as_ref()
            .map(|a| Grant::secrets(a, hosted.refresh.as_ref()));
        if let Some(summary) = hosted.renewal {
            let existing = self
                .store
                .find_connection(customer_id, provider, CredentialKind::Oauth)
                .await?;
            if let (Some(id), Some(secrets)) = (existing, secrets.as_ref()) {
                if self.store.connection_secrets(&id).await?.is_some() {
                    self.store
                        .update_grant(
                            &crate::store::NewGrant {
                                connection_id: &id,
                                scopes: None,
                                access_expires_at: None,
                                refresh_expires_at: None,
                                tokens_issued_at: Some(&rfc3339(self.now())),
                                details: Some(&hosted.details),
                                sites: Some(&hosted.sites),
                                secrets,
                            },
                            &self.vault,
                            Some(crate::store::NewEvent {
                                customer_id: Some(customer_id),
                                connection_id: Some(&id),
                                provider: Some(provider),
                                kind: crate::model::EventKind::Reauthorized,
                                summary,
                                actor: self.actor,
                            }),
                        )
                        .await?;
                    return self.store.connection(&id).await;
                }
            }
        }
        let id = self
            .save_connection(&NewConnection {
                id: new_id(),
                customer_id,
                provider,
                kind: CredentialKind::Oauth,
                credential_hint: hosted.credential_hint,
                secrets,
                sites: &hosted.sites,
                scopes: None,
                // A hosted sign-in's access token does not expire (Pelm), or there is none.
                access_expires_at: None,
                refresh_expires_at: None,
                tokens_issued_at: None,
                details: hosted.details,
            })
            .await?;
        self.store.connection(&id).await
    }
}

/// Where a sign-in's answer came from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum AnswerFrom {
    /// The vendor's redirect (loopback, deep link, relay): a refusal ends the sign-in.
    Vendor,
    /// The installer's paste: a refused code may have been mistyped.
    Paste,
}

/// What finishing a sign-in came to (returned once and matched at once, like `PasteOutcome`).
#[allow(clippy::large_enum_variant)]
pub(super) enum Finish {
    Done(Result<Connection>),
    /// The pasted code was refused and the sign-in opened again.
    Reopened(Error),
}

/// The vendor's refusal of a pasted code, in the installer's words; the sign-in is still open.
fn code_not_accepted(provider: ProviderId, vendor: Error) -> Error {
    let name = providers::spec(provider).name;
    Error::new(
        Code::Validation,
        format!("{name} did not accept that code. The sign-in is still open: nothing was saved and the customer does not need to sign in again."),
    )
    .hint(format!(
        "Copy the code again from {name}'s page, all of it, and paste it here. If {name}'s page is closed, start the connection again."
    ))
    .caused_by(vendor)
}
