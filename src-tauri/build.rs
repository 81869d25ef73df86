//! Tauri's build step, with Onramp's commands declared: each gets an `allow-<command>`
//! permission, and a command is callable from the window only when the capability in
//! `capabilities/` grants it. This list, the capability and the invoke handler in `src/lib.rs`
//! are the same set (tests/hardening.rs).

const COMMANDS: &[&str] = &[
    "app_status",
    "recheck_vault",
    "ui_ready",
    "list_customers",
    "customers_page",
    "add_customer",
    "get_customer",
    "similar_customers",
    "update_customer",
    "remove_customer",
    "preview_customer_import",
    "import_customers",
    "preview_dropped_customer_import",
    "import_dropped_customers",
    "remove_usage_series",
    "list_providers",
    "installer_accounts",
    "save_installer_account",
    "remove_installer_account",
    "search_account_sites",
    "connect_account_sites",
    "connect_customer_key",
    "remove_connection",
    "list_events",
    "vendor_apps",
    "save_vendor_app",
    "set_sign_in_return",
    "check_connection",
    "refresh_connection",
    "health",
    "export_activity",
    "company_settings",
    "save_company_settings",
    "choose_sites",
    "hand_off",
    "create_backup",
    "restore_dropped_backup",
    "restore_backup_bytes",
    "fetch_usage",
    "import_dropped_usage",
    "import_usage_bytes",
    "cancel_usage_import",
    "begin_sign_in",
    "sign_in_status",
    "paste_sign_in",
    "cancel_sign_in",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    tauri_build::try_build(attributes).expect("Tauri's build step failed");
}
