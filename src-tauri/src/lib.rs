//! Onramp's desktop shell: builds the window, opens the service, and exposes thin commands.
//! Everything Onramp knows lives in `onramp-core`; each command here is a door to one
//! `Onramp` method.

mod commands;

use onramp_core::config::{default_config_file, default_data_dir};
use onramp_core::Onramp;
use onramp_launch::{Launch, Launched};
use onramp_sandbox::Sandbox;
use tauri::Manager;

/// What the commands share: the service, and the in-process sandbox kept alive beside it.
pub struct AppState {
    pub onramp: Onramp,
    _sandbox: Option<Sandbox>,
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
        _sandbox: sandbox,
    })
}

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ONRAMP_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    tauri::Builder::default()
        .setup(|app| {
            let state = tauri::async_runtime::block_on(open_state())?;
            app.manage(state);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::list_customers,
            commands::add_customer,
            commands::get_customer,
            commands::list_providers,
            commands::installer_accounts,
            commands::save_installer_account,
            commands::remove_installer_account,
            commands::search_account_sites,
            commands::connect_account_sites,
            commands::connect_customer_key,
            commands::remove_connection,
            commands::list_events,
        ])
        .run(tauri::generate_context!())
        .expect("Onramp failed to start");
}
