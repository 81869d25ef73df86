//! Sign-ins from the app: opens the vendor's page in the system browser ($BROWSER when set),
//! receives the redirect by loopback, deep link (`onramp://oauth/callback`, at launch or later)
//! or paste, and keeps each sign-in's outcome for the UI to poll.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use onramp_core::auth::callback::parse_url;
use onramp_core::auth::loopback::Loopback;
use onramp_core::model::{
    Connection, OAuthStart, ProviderId, RedirectMode, SignInOptions, SignInStatus,
};
use onramp_core::service::{PasteOutcome, Redirect};
use onramp_core::{Code, Error};
use tauri::{AppHandle, Manager, State};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::AppState;

type Result<T> = std::result::Result<T, Error>;

/// How long the app waits on a loopback sign-in (the pending authorization lasts as long).
const LOOPBACK_WAIT: Duration = Duration::from_secs(600);

#[derive(Default)]
pub struct SignIns {
    status: Mutex<HashMap<String, SignInStatus>>,
    waiters: Mutex<HashMap<String, tauri::async_runtime::JoinHandle<()>>>,
}

impl SignIns {
    fn set(&self, state: &str, status: SignInStatus) {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(state.to_string(), status);
    }

    fn finish(&self, state: &str, result: &Result<Connection>) {
        self.set(
            state,
            match result {
                Ok(c) => SignInStatus::Connected {
                    connection: Box::new(c.clone()),
                },
                Err(e) => SignInStatus::Failed { error: e.info() },
            },
        );
    }
}

fn open_browser(url: String) {
    tauri::async_runtime::spawn_blocking(move || {
        if let Err(e) = webbrowser::open(&url) {
            tracing::warn!("could not open a browser: {e}");
        }
    });
}

/// Handles `onramp://` URLs: the one that launched the app and any handed over later.
pub fn listen_for_deep_links(
    app: &tauri::App,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    // In development (and AppImage) the scheme is registered at run time; packages carry it
    // in their .desktop file.
    #[cfg(any(target_os = "linux", windows))]
    if cfg!(debug_assertions) || std::env::var_os("APPIMAGE").is_some() {
        if let Err(e) = app.deep_link().register_all() {
            tracing::warn!("could not register the onramp:// scheme: {e}");
        }
    }
    let handle = app.handle().clone();
    if let Ok(Some(urls)) = app.deep_link().get_current() {
        for url in urls {
            deliver(&handle, url.to_string());
        }
    }
    let handle = app.handle().clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            deliver(&handle, url.to_string());
        }
    });
    Ok(())
}

fn deliver(app: &AppHandle, url: String) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let key = parse_url(&url)
            .ok()
            .and_then(|c| c.state)
            .map(|s| s.expose().to_string());
        let result = state.onramp.complete_oauth(&url, None).await;
        match (&key, &result) {
            (Some(k), _) => state.sign_ins.finish(k, &result),
            (None, Err(e)) => tracing::warn!(code = ?e.code, "refused a deep link: {}", e.message),
            (None, Ok(_)) => {}
        }
        if let Some(w) = app.get_webview_window("main") {
            let _ = w.set_focus();
        }
    });
}

#[tauri::command]
pub async fn begin_sign_in(
    app: AppHandle,
    state: State<'_, AppState>,
    customer_id: String,
    provider: ProviderId,
    mode: RedirectMode,
    options: Option<SignInOptions>,
    reauthorize: Option<String>,
) -> Result<OAuthStart> {
    let options = options.unwrap_or_default();
    let again = reauthorize.as_deref();
    let join_session = provider == ProviderId::Derapi
        && state.onramp.config().oauth_config(provider).join.as_deref() == Some("session");
    if join_session {
        return begin_derapi_session(app, state, customer_id, options).await;
    }
    let start = match mode {
        RedirectMode::Loopback => {
            let port = state
                .onramp
                .config()
                .oauth_config(provider)
                .loopback_port
                .unwrap_or(0);
            let lb = Loopback::bind(port).await?;
            let start = begin(
                &state,
                &customer_id,
                provider,
                Redirect::Loopback(lb.redirect_uri()),
                &options,
                again,
            )
            .await?;
            let key = start.state.clone();
            let waiter = tauri::async_runtime::spawn(async move {
                let state = app.state::<AppState>();
                let result = match lb.wait(&key, LOOPBACK_WAIT).await {
                    Ok(url) => state.onramp.complete_oauth(&url, Some(provider)).await,
                    Err(e) => Err(e),
                };
                state.sign_ins.finish(&key, &result);
            });
            state
                .sign_ins
                .waiters
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(start.state.clone(), waiter);
            start
        }
        RedirectMode::DeepLink => {
            begin(
                &state,
                &customer_id,
                provider,
                Redirect::DeepLink,
                &options,
                again,
            )
            .await?
        }
        RedirectMode::Paste => {
            begin(
                &state,
                &customer_id,
                provider,
                Redirect::Paste,
                &options,
                again,
            )
            .await?
        }
    };
    state.sign_ins.set(&start.state, SignInStatus::Waiting);
    open_browser(start.authorize_url.clone());
    Ok(start)
}

/// A new sign-in, or the customer signing in again for the connection `again` (re-authorization:
/// the same connection is renewed, its sites kept).
async fn begin(
    state: &State<'_, AppState>,
    customer_id: &str,
    provider: ProviderId,
    redirect: Redirect,
    options: &SignInOptions,
    again: Option<&str>,
) -> Result<OAuthStart> {
    match again {
        Some(id) => state.onramp.begin_reauthorize(id, redirect).await,
        None => {
            state
                .onramp
                .begin_sign_in(customer_id, provider, redirect, options)
                .await
        }
    }
}

/// Derapi Join session (onramp.toml `[oauth.derapi] join = "session"`): the Join page opens in
/// the browser and Onramp asks Derapi until the customer is done; the UI polls as for a sign-in.
async fn begin_derapi_session(
    app: AppHandle,
    state: State<'_, AppState>,
    customer_id: String,
    options: SignInOptions,
) -> Result<OAuthStart> {
    let session = state
        .onramp
        .begin_derapi_session(&customer_id, options.vendor.as_deref().unwrap_or_default())
        .await?;
    let key = session.session_id.clone();
    let start = OAuthStart {
        provider: ProviderId::Derapi,
        authorize_url: session.page_url.clone(),
        redirect_uri: String::new(),
        mode: RedirectMode::Loopback,
        state: key.clone(),
        expires_at: String::new(),
    };
    state.sign_ins.set(&key, SignInStatus::Waiting);
    let waiter = tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let deadline = tokio::time::Instant::now() + LOOPBACK_WAIT;
        let result = loop {
            match state.onramp.poll_derapi_session(&session).await {
                Ok(Some(c)) => break Ok(c),
                Ok(None) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(1500)).await
                }
                Ok(None) => {
                    break Err(Error::new(
                        Code::Declined,
                        "The customer did not finish Derapi Join in time.",
                    )
                    .hint("Start again when the customer is ready."))
                }
                Err(e) => break Err(e),
            }
        };
        state.sign_ins.finish(&key, &result);
    });
    state
        .sign_ins
        .waiters
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(start.state.clone(), waiter);
    open_browser(start.authorize_url.clone());
    Ok(start)
}

#[tauri::command]
pub async fn sign_in_status(state: State<'_, AppState>, sign_in: String) -> Result<SignInStatus> {
    state
        .sign_ins
        .status
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&sign_in)
        .cloned()
        .ok_or_else(|| {
            Error::new(
                Code::NotFound,
                "Onramp is not waiting for this sign-in any more.",
            )
        })
}

#[tauri::command]
pub async fn paste_sign_in(
    state: State<'_, AppState>,
    sign_in: String,
    pasted: String,
) -> Result<Connection> {
    match state.onramp.paste(&sign_in, &pasted).await {
        // Not this sign-in's answer: it stays waiting, so the installer can paste again.
        PasteOutcome::Unreadable(e) => Err(e),
        PasteOutcome::Finished(result) => {
            state.sign_ins.finish(&sign_in, &result);
            result
        }
    }
}

#[tauri::command]
pub async fn cancel_sign_in(state: State<'_, AppState>, sign_in: String) -> Result<()> {
    if let Some(w) = state
        .sign_ins
        .waiters
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&sign_in)
    {
        w.abort();
    }
    state
        .sign_ins
        .status
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&sign_in);
    Ok(())
}
