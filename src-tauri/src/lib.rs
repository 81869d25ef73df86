//! Onramp's desktop shell: builds the window, opens the service, and exposes thin commands.
//! Everything Onramp knows lives in `onramp-core`; each command here is a door to one
//! `Onramp` method.

mod commands;
mod drops;
mod page;
mod sign_in;

use onramp_core::config::{default_config_file, default_data_dir};
use onramp_core::model::ui_event;
use onramp_core::service::KeepAliveNews;
use onramp_core::{Error, Onramp};
use onramp_launch::{Launch, Launched};
use onramp_sandbox::SharedSandbox;
use tauri::{Emitter, Manager};

/// What the commands share. The window opens at once; the service (the store, the keyring, the
/// data folder's sandbox) opens beside it on the async runtime, so the page loads while it
/// does, and every command waits for it ([`AppState::onramp`]).
#[derive(Default)]
pub struct AppState {
    opened: tokio::sync::OnceCell<std::result::Result<Opened, Error>>,
    /// Files dropped on the window, by drop: the only paths a file import takes.
    pub drops: drops::Drops,
    /// The first screen has painted (`ui_ready`): the keep-alive starts after it.
    painted: tokio::sync::Notify,
}

/// The service, with the sign-ins in flight (which the UI polls), and the data folder's
/// sandbox kept beside it.
struct Opened {
    onramp: Onramp,
    _sandbox: Option<SharedSandbox>,
}

impl AppState {
    /// The service, once open. The first call opens it; any other waits for that one. A
    /// failure to open (an unreadable `onramp.toml`, a store that cannot be read) is kept and
    /// answered to every command, so the window shows it in words.
    pub async fn onramp(&self) -> Result<&Onramp, Error> {
        match self.opened.get_or_init(open_state).await {
            Ok(opened) => Ok(&opened.onramp),
            Err(e) => Err(e.clone()),
        }
    }

    /// Called by `ui_ready`.
    pub(crate) fn painted(&self) {
        self.painted.notify_one();
    }
}

async fn open_state() -> Result<Opened, Error> {
    let Launched { onramp, sandbox } = onramp_launch::open(Launch {
        config_file: std::env::var_os("ONRAMP_CONFIG")
            .map(Into::into)
            .unwrap_or_else(default_config_file),
        data_dir: std::env::var_os("ONRAMP_DATA_DIR")
            .map(Into::into)
            .unwrap_or_else(default_data_dir),
        actor: "app",
    })
    .await?;
    Ok(Opened {
        onramp,
        _sandbox: sandbox,
    })
}

/// Opens the service beside the window, then, once the first screen has painted (or after
/// [`KEEP_ALIVE_AFTER`] without), starts the keep-alive: its first round reads and refreshes
/// the store, which the first paint should not wait behind.
async fn open_in_background(app: tauri::AppHandle) {
    let state = app.state::<AppState>();
    if let Err(e) = state.onramp().await {
        tracing::error!(code = ?e.code, "Onramp could not open: {}", e.message);
        return;
    }
    tracing::info!("Onramp open after {} ms", since_start());
    let _ = tokio::time::timeout(KEEP_ALIVE_AFTER, state.painted.notified()).await;
    keep_alive(app.clone()).await;
}

/// How long the keep-alive waits for the first paint before it starts anyway.
const KEEP_ALIVE_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

/// Keeps signed-in connections alive while the app is open: core's keep-alive
/// ([`Onramp::keep_alive`]), its news handed to the UI as `connections-changed`
/// ([`onramp_core::model::ConnectionsChanged`]) and `vault-changed`.
async fn keep_alive(app: tauri::AppHandle) {
    let state = app.state::<AppState>();
    let Ok(onramp) = state.onramp().await else {
        return;
    };
    onramp
        .keep_alive(|news| {
            let _ = match news {
                KeepAliveNews::Connections(c) => app.emit(ui_event::CONNECTIONS_CHANGED, &c),
                KeepAliveNews::Vault(v) => app.emit(ui_event::VAULT_CHANGED, &v),
            };
        })
        .await;
}

/// When the process started, for the start-up time the UI reports (`ui_ready`).
static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Milliseconds since the process started (the start-up log lines).
pub(crate) fn since_start() -> u128 {
    STARTED.get().map_or(0, |t| t.elapsed().as_millis())
}

/// The page's record of its own load, sent with `ui_ready`: when its clock started (Unix ms)
/// and named moments on that clock (ms), such as each file's arrival and the first frame.
#[derive(serde::Deserialize)]
pub struct Timeline {
    origin: f64,
    marks: Vec<(String, f64)>,
}

impl Timeline {
    /// Logs each moment at debug level, in ms since the process started, as the other
    /// start-up lines are.
    fn log(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        // The page's clock origin, on the process's clock.
        let origin = since_start() as f64 - (now - self.origin);
        for (name, at) in &self.marks {
            tracing::debug!("page: {name} at {:.0} ms", origin + at);
        }
    }
}

/// The built context, its page serving the first screen with it ([`page`]).
fn context() -> tauri::Context {
    let mut context = tauri::generate_context!();
    let built = context.set_assets(Box::new(page::NoFiles));
    context.set_assets(Box::new(page::Page::new(built, FIRST_PAGE)));
    context
}

/// Customers in the first screen's page (the UI's `CUSTOMERS_PAGE`, which reads the rest).
const FIRST_PAGE: u32 = 200;

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    STARTED.get_or_init(std::time::Instant::now);
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ONRAMP_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    tauri::Builder::default()
        // Registered first: a second launch (a deep link opened by the browser) hands its URL
        // to this process and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.set_focus();
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .on_window_event(drops::on_window_event)
        .setup(|app| {
            tracing::info!("window made after {} ms", since_start());
            app.manage(AppState::default());
            tauri::async_runtime::spawn(open_in_background(app.handle().clone()));
            sign_in::listen_for_deep_links(app)?;
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::recheck_vault,
            commands::ui_ready,
            commands::list_customers,
            commands::customers_page,
            commands::add_customer,
            commands::get_customer,
            commands::similar_customers,
            commands::update_customer,
            commands::remove_customer,
            commands::preview_customer_import,
            commands::import_customers,
            commands::preview_dropped_customer_import,
            commands::import_dropped_customers,
            commands::remove_usage_series,
            commands::list_providers,
            commands::installer_accounts,
            commands::save_installer_account,
            commands::remove_installer_account,
            commands::search_account_sites,
            commands::connect_account_sites,
            commands::connect_customer_key,
            commands::remove_connection,
            commands::list_events,
            commands::vendor_apps,
            commands::save_vendor_app,
            commands::set_sign_in_return,
            commands::check_connection,
            commands::refresh_connection,
            commands::health,
            commands::export_activity,
            commands::company_settings,
            commands::save_company_settings,
            commands::choose_sites,
            commands::hand_off,
            commands::create_backup,
            commands::restore_dropped_backup,
            commands::restore_backup_bytes,
            commands::fetch_usage,
            commands::import_dropped_usage,
            commands::import_usage_bytes,
            commands::cancel_usage_import,
            sign_in::begin_sign_in,
            sign_in::sign_in_status,
            sign_in::paste_sign_in,
            sign_in::cancel_sign_in,
        ])
        .run(context())
        .expect("Onramp failed to start");
}
