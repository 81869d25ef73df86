//! Onramp's desktop shell: builds the window, opens the service, and exposes thin commands.
//! Everything Onramp knows lives in `onramp-core`; each command here is a door to one
//! `Onramp` method.

mod commands;

use onramp_core::config::{default_config_file, default_data_dir, Config};
use onramp_core::model::{Environment, ProviderId, SandboxDemoKey};
use onramp_core::{Onramp, OpenOptions};
use onramp_sandbox::{Sandbox, SandboxConfig, Vendor};
use tauri::Manager;

/// What the commands share: the service, and the in-process sandbox kept alive beside it.
pub struct AppState {
    pub onramp: Onramp,
    _sandbox: Option<Sandbox>,
}

fn sandbox_keys(sb: &Sandbox) -> Vec<SandboxDemoKey> {
    sb.demo()
        .keys()
        .into_iter()
        .map(|k| SandboxDemoKey {
            provider: match k.vendor {
                Vendor::SolarEdge => ProviderId::Solaredge,
                Vendor::Solis => ProviderId::Solis,
            },
            label: k.label,
            api_key: k.api_key,
            key_id: k.key_id,
            key_secret: k.key_secret,
        })
        .collect()
}

async fn open_state() -> Result<AppState, Box<dyn std::error::Error>> {
    let config_file = std::env::var_os("ONRAMP_CONFIG")
        .map(Into::into)
        .unwrap_or_else(default_config_file);
    let data_dir = std::env::var_os("ONRAMP_DATA_DIR")
        .map(Into::into)
        .unwrap_or_else(default_data_dir);
    let mut config = Config::load(&config_file)?;
    let mut sandbox = None;
    let mut keys = Vec::new();
    if config.environment == Environment::Sandbox {
        let sb = Sandbox::start(SandboxConfig {
            solaredge_port: config.sandbox.solaredge_port,
            solis_port: config.sandbox.solis_port,
            ..SandboxConfig::default()
        })
        .await?;
        config.set_base_url(ProviderId::Solaredge, sb.solaredge_url());
        config.set_base_url(ProviderId::Solis, sb.solis_url());
        keys = sandbox_keys(&sb);
        tracing::info!(solaredge = %sb.solaredge_url(), solis = %sb.solis_url(), "sandbox started");
        sandbox = Some(sb);
    }
    let onramp = Onramp::open(OpenOptions {
        data_dir,
        config_file,
        config,
        actor: "app",
        sandbox_keys: keys,
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
