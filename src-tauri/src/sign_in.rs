//! Sign-ins from the app: the sign-in itself lives in core ([`onramp_core::service::SignInRequest`],
//! `Onramp::start_sign_in`, `wait_sign_in`, `paste_sign_in`, `deliver_callback`); the shell
//! opens the vendor's page in the system browser ($BROWSER when set), runs the waiter core hands
//! it in a task, and receives deep links (`onramp://oauth/callback`, at launch or later).

use onramp_core::model::{
    Connection, OAuthStart, ProviderId, RedirectMode, SignInOptions, SignInStatus,
};
use onramp_core::service::{PasteOutcome, SignInRequest};
use onramp_core::Error;
use tauri::{AppHandle, Manager, State};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::AppState;

type Result<T> = std::result::Result<T, Error>;

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
        // A deep link that launched the app waits here for the service to open.
        let delivered = match state.onramp().await {
            Ok(onramp) => onramp.deliver_callback(&url).await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = delivered {
            tracing::warn!(code = ?e.code, "a deep link's sign-in failed: {}", e.message);
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
    let mut req = SignInRequest::new(&customer_id, provider, mode);
    req.options = options.unwrap_or_default();
    req.reauthorize = reauthorize;
    let (start, waiter) = state.onramp().await?.start_sign_in(&req).await?;
    if let Some(waiter) = waiter {
        tauri::async_runtime::spawn(async move {
            let state = app.state::<AppState>();
            // The outcome is kept for the UI's poll (sign_in_status).
            if let Ok(onramp) = state.onramp().await {
                let _ = onramp.wait_sign_in(waiter).await;
            }
        });
    }
    open_browser(start.authorize_url.clone());
    Ok(start)
}

#[tauri::command]
pub async fn sign_in_status(state: State<'_, AppState>, sign_in: String) -> Result<SignInStatus> {
    state.onramp().await?.sign_in_status(&sign_in)
}

#[tauri::command]
pub async fn paste_sign_in(
    state: State<'_, AppState>,
    sign_in: String,
    pasted: String,
) -> Result<Connection> {
    match state.onramp().await?.paste_sign_in(&sign_in, &pasted).await {
        // Not this sign-in's answer, or a code the vendor refused: it stays waiting, so the
        // installer can paste again (the UI reads the sign-in's status to know).
        PasteOutcome::Unreadable(e) | PasteOutcome::NotAccepted(e) => Err(e),
        PasteOutcome::Finished(result) => result,
    }
}

#[tauri::command]
pub async fn cancel_sign_in(state: State<'_, AppState>, sign_in: String) -> Result<()> {
    state.onramp().await?.cancel_sign_in(&sign_in);
    Ok(())
}
