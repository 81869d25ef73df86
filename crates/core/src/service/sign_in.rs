//! A sign-in from begin to outcome, for every front end (the desktop shell, the CLI, later a
//! hub): begin → the vendor's URL and the sign-in's id; the wait for its answer (the loopback
//! listener, or Derapi's Join session asked until done), its status, its cancellation, and its
//! completion from a callback URL (deep link, relay) or a paste — each parsed once. Front ends
//! only open the browser, run the waiter this hands them, receive deep links and show the
//! outcome.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::oauth::Redirect;
use super::paste::PasteOutcome;
use super::session::SignInSession;
use super::Onramp;
use crate::auth::callback::parse_url;
use crate::auth::loopback::Loopback;
use crate::error::{Code, Error, Result};
use crate::model::{Connection, OAuthStart, ProviderId, RedirectMode, SignInOptions, SignInStatus};

/// How long a sign-in waits for its answer by default (the pending authorization lasts as long).
pub const SIGN_IN_WAIT: Duration = Duration::from_secs(600);
/// How often a polled sign-in (Derapi's Join session) is asked whether the customer is done.
const JOIN_POLL: Duration = Duration::from_millis(1500);

/// What a front end asks for.
#[derive(Clone, Debug)]
pub struct SignInRequest {
    pub customer_id: String,
    pub provider: ProviderId,
    /// How the answer comes back (a terminal has no deep link: it asks for loopback or paste).
    pub mode: RedirectMode,
    pub options: SignInOptions,
    /// Renew this connection (the customer signs in again; its sites are kept).
    pub reauthorize: Option<String>,
    /// A vendor's polled sign-in (Derapi's Join session) rather than its redirect (None: as
    /// onramp.toml says).
    pub polled: Option<bool>,
    /// The loopback listener's port (None: as onramp.toml says, else any free one).
    pub loopback_port: Option<u16>,
    /// How long the waiter waits for the answer.
    pub wait: Duration,
}

impl SignInRequest {
    pub fn new(customer_id: &str, provider: ProviderId, mode: RedirectMode) -> SignInRequest {
        SignInRequest {
            customer_id: customer_id.to_string(),
            provider,
            mode,
            options: SignInOptions::default(),
            reauthorize: None,
            polled: None,
            loopback_port: None,
            wait: SIGN_IN_WAIT,
        }
    }
}

/// A sign-in whose answer comes to Onramp on its own (the loopback listener, a Join session):
/// the front end runs it ([`Onramp::wait_sign_in`]), in a task of its own or in place.
pub struct Waiter {
    id: String,
    how: WaitFor,
    deadline: Duration,
    cancel: Arc<Notify>,
}

impl Waiter {
    /// The sign-in's id (its OAuth state, or the Join session's id).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the answer is asked for at the vendor (a polled sign-in: Derapi's Join session)
    /// rather than awaited on the loopback.
    pub fn polled(&self) -> bool {
        matches!(self.how, WaitFor::Session(_))
    }
}

enum WaitFor {
    Loopback(Loopback, ProviderId),
    Session(Box<SignInSession>),
}

/// The sign-ins in flight: their status for the UI to poll, and how to cancel their waiters.
#[derive(Default)]
pub(crate) struct SignIns {
    status: Mutex<HashMap<String, SignInStatus>>,
    cancels: Mutex<HashMap<String, Arc<Notify>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SignIns {
    fn set(&self, id: &str, status: SignInStatus) {
        lock(&self.status).insert(id.to_string(), status);
    }

    fn finish(&self, id: &str, result: &Result<Connection>) {
        lock(&self.cancels).remove(id);
        self.set(
            id,
            match result {
                Ok(c) => SignInStatus::Connected {
                    connection: Box::new(c.clone()),
                },
                Err(e) => SignInStatus::Failed { error: e.info() },
            },
        );
    }
}

fn cancelled() -> Error {
    Error::new(
        Code::Declined,
        "The sign-in was cancelled; nothing was saved.",
    )
    .hint("Start the connection again when the customer is ready.")
}

impl Onramp {
    /// Begins a sign-in: the vendor's URL to open and the sign-in's id, and the waiter to run
    /// when the answer comes back to Onramp on its own (loopback, Join session). A deep-link or
    /// paste sign-in has no waiter: its answer arrives through [`Onramp::deliver_callback`] or
    /// [`Onramp::paste_sign_in`].
    pub async fn start_sign_in(&self, req: &SignInRequest) -> Result<(OAuthStart, Option<Waiter>)> {
        let provider = req.provider;
        let configured = self.config().oauth_config(provider);
        let polled = crate::providers::vendor(provider)
            .polled_sign_in()
            .filter(|p| {
                req.reauthorize.is_none() && req.polled.unwrap_or(p.by_default(&configured))
            });
        let cancel = Arc::new(Notify::new());
        let (start, how) = if polled.is_some() {
            let session = self
                .begin_session(&req.customer_id, provider, &req.options)
                .await?;
            let start = OAuthStart {
                provider,
                authorize_url: session.page_url.clone(),
                redirect_uri: String::new(),
                mode: RedirectMode::Loopback,
                state: session.id.clone(),
                expires_at: String::new(),
            };
            (start, Some(WaitFor::Session(Box::new(session))))
        } else {
            match req.mode {
                RedirectMode::Loopback => {
                    let port = req.loopback_port.or(configured.loopback_port).unwrap_or(0);
                    let lb = Loopback::bind(port).await?;
                    let start = self
                        .begin_for(req, Redirect::Loopback(lb.redirect_uri()))
                        .await?;
                    (start, Some(WaitFor::Loopback(lb, provider)))
                }
                RedirectMode::DeepLink => (self.begin_for(req, Redirect::DeepLink).await?, None),
                RedirectMode::Paste => (self.begin_for(req, Redirect::Paste).await?, None),
            }
        };
        self.sign_ins.set(&start.state, SignInStatus::Waiting);
        let waiter = how.map(|how| {
            lock(&self.sign_ins.cancels).insert(start.state.clone(), cancel.clone());
            Waiter {
                id: start.state.clone(),
                how,
                deadline: req.wait,
                cancel,
            }
        });
        Ok((start, waiter))
    }

    async fn begin_for(&self, req: &SignInRequest, redirect: Redirect) -> Result<OAuthStart> {
        match &req.reauthorize {
            Some(id) => self.begin_reauthorize(id, redirect).await,
            None => {
                self.begin_sign_in(&req.customer_id, req.provider, redirect, &req.options)
                    .await
            }
        }
    }

    /// Waits for a sign-in's answer (until it comes, the wait runs out, or it is cancelled),
    /// completes it, and records the outcome for [`Onramp::sign_in_status`].
    pub async fn wait_sign_in(&self, w: Waiter) -> Result<Connection> {
        let Waiter {
            id,
            how,
            deadline,
            cancel,
        } = w;
        let answer = async {
            match how {
                WaitFor::Loopback(lb, provider) => {
                    let url = lb.wait(&id, deadline).await?;
                    self.complete_oauth(&url, Some(provider)).await
                }
                WaitFor::Session(session) => {
                    let until = tokio::time::Instant::now() + deadline;
                    loop {
                        if let Some(c) = self.poll_session(&session).await? {
                            break Ok(c);
                        }
                        if tokio::time::Instant::now() >= until {
                            let name = crate::providers::spec(session.provider).name;
                            break Err(Error::new(
                                Code::Declined,
                                format!("The customer did not finish {name} in time; nothing was saved."),
                            )
                            .hint("Start again when the customer is ready."));
                        }
                        tokio::time::sleep(JOIN_POLL).await;
                    }
                }
            }
        };
        let result = tokio::select! {
            r = answer => r,
            () = cancel.notified() => Err(cancelled()),
        };
        self.sign_ins.finish(&id, &result);
        result
    }

    /// Where a sign-in stands (waiting, connected, failed).
    pub fn sign_in_status(&self, id: &str) -> Result<SignInStatus> {
        lock(&self.sign_ins.status).get(id).cloned().ok_or_else(|| {
            Error::new(
                Code::NotFound,
                "Onramp is not waiting for this sign-in any more.",
            )
        })
    }

    /// A paste for the sign-in `id`: its outcome recorded when it ends the sign-in; a paste
    /// that is not its answer leaves it waiting.
    pub async fn paste_sign_in(&self, id: &str, pasted: &str) -> PasteOutcome {
        let outcome = self.paste(id, pasted).await;
        if let PasteOutcome::Finished(result) = &outcome {
            self.sign_ins.finish(id, result);
        }
        outcome
    }

    /// Stops waiting for a sign-in and forgets it (its waiter ends with "cancelled").
    pub fn cancel_sign_in(&self, id: &str) {
        if let Some(c) = lock(&self.sign_ins.cancels).remove(id) {
            c.notify_one();
        }
        lock(&self.sign_ins.status).remove(id);
    }

    /// A callback URL that came on its own (a deep link, at launch or later; the relay page),
    /// parsed once: the sign-in it answers is completed and its outcome recorded.
    pub async fn deliver_callback(&self, url: &str) -> Result<Connection> {
        let cb = parse_url(url)?;
        let id = cb.state.as_ref().map(|s| s.expose().to_string());
        let result = self.finish(cb, None).await;
        if let Some(id) = &id {
            self.sign_ins.finish(id, &result);
        }
        result
    }
}
