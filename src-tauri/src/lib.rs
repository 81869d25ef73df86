//! Onramp's desktop shell: builds the window, opens the service, and exposes thin commands.
//! Everything Onramp knows lives in `onramp-core`; each command here is a door to one
//! `Onramp` method.

mod commands;
mod drops;
mod sign_in;

use onramp_core::config::{default_config_file, default_data_dir};
use onramp_core::model::ui_event;
use onramp_core::service::KeepAliveNews;
use onramp_core::Onramp;
use onramp_launch::{Launch, Launched};
use onramp_sandbox::SharedSandbox;
use tauri::{Emitter, Manager};

/// What the commands share: the service (with the sign-ins in flight, which the UI polls) and
/// the data folder's sandbox kept beside it.
pub struct AppState {
    pub onramp: Onramp,
    /// Files dropped on the window, by drop: the only paths a file import takes.
    pub drops: drops::Drops,
    _sandbox: Option<SharedSandbox>,
}

async fn open_state() -> onramp_core::Result<AppState> {
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
    Ok(AppState {
        onramp,
        drops: Default::default(),
        _sandbox: sandbox,
    })
}

/// Keeps signed-in connections alive while the app is open: core's keep-alive
/// ([`Onramp::keep_alive`]), its news handed to the UI as `connections-changed`
/// ([`onramp_core::model::ConnectionsChanged`]) and `vault-changed`.
async fn keep_alive(app: tauri::AppHandle) {
    let state = app.state::<AppState>();
    state
        .onramp
        .keep_alive(|news| {
            let _ = match news {
                KeepAliveNews::Connections(c) => app.emit(ui_event::CONNECTIONS_CHANGED, &c),
                KeepAliveNews::Vault(v) => app.emit(ui_event::VAULT_CHANGED, &v),
            };
        })
        .await;
}

/// When the process started, for the start-up time the UI reports (`ui_ready`).
pub(crate) static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

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
            let state = tauri::async_runtime::block_on(open_state())?;
            app.manage(state);
            sign_in::listen_for_deep_links(app)?;
            tauri::async_runtime::spawn(keep_alive(app.handle().clone()));
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::recheck_vault,
            commands::ui_ready,
            commands::list_customers,
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
        .run(tauri::generate_context!())
        .expect("Onramp failed to start");
}
