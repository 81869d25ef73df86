//! Tauri commands: each is a door to one `Onramp` method. Errors cross as `{code, message, hint}`.

use onramp_core::model::*;
use onramp_core::vault::Sensitive;
use onramp_core::Error;
use tauri::State;

use crate::AppState;

type Result<T> = std::result::Result<T, Error>;

#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> Result<AppStatus> {
    Ok(state.onramp().await?.status())
}

/// "Try again" on the secure-storage warning: asks the keyring once more.
#[tauri::command]
pub async fn recheck_vault(state: State<'_, AppState>) -> Result<VaultStatus> {
    Ok(state.onramp().await?.recheck_vault().await)
}

/// The UI has painted its first screen with data: launch to here is the start-up time (in the
/// log, and what `onramp-bench startup` measures). `timeline` is the page's own record of its
/// load (at debug level: where the start-up time goes inside the window).
#[tauri::command]
pub fn ui_ready(state: State<'_, AppState>, timeline: Option<crate::Timeline>) {
    tracing::info!("ui ready after {} ms", crate::since_start());
    if let Some(t) = timeline {
        t.log();
    }
    state.painted();
}

#[tauri::command]
pub async fn list_customers(
    state: State<'_, AppState>,
    query: Option<String>,
) -> Result<Vec<CustomerSummary>> {
    state.onramp().await?.list_customers(query.as_deref()).await
}

/// A page of the Customers screen (the screen asks for the next page as the installer scrolls).
#[tauri::command]
pub async fn customers_page(
    state: State<'_, AppState>,
    query: Option<String>,
    offset: u32,
    limit: u32,
) -> Result<CustomerList> {
    tracing::debug!(offset, limit, "customers page asked");
    state
        .onramp()
        .await?
        .customers_page(query.as_deref(), offset, limit.min(1000))
        .await
}

#[tauri::command]
pub async fn add_customer(state: State<'_, AppState>, input: NewCustomer) -> Result<Customer> {
    state.onramp().await?.add_customer(input).await
}

#[tauri::command]
pub async fn similar_customers(
    state: State<'_, AppState>,
    input: NewCustomer,
) -> Result<Vec<SimilarCustomer>> {
    state.onramp().await?.similar_customers(&input).await
}

#[tauri::command]
pub async fn update_customer(
    state: State<'_, AppState>,
    id: String,
    input: NewCustomer,
) -> Result<Customer> {
    state.onramp().await?.update_customer(&id, input).await
}

#[tauri::command]
pub async fn remove_customer(
    state: State<'_, AppState>,
    id: String,
    connections: ConnectionsOnRemove,
) -> Result<()> {
    state
        .onramp()
        .await?
        .remove_customer(&id, connections)
        .await
}

#[tauri::command]
pub async fn preview_customer_import(
    state: State<'_, AppState>,
    text: String,
) -> Result<ImportPreview> {
    state
        .onramp()
        .await?
        .preview_customer_import(text.as_bytes())
        .await
}

#[tauri::command]
pub async fn import_customers(
    state: State<'_, AppState>,
    text: String,
    file_name: String,
    skip_duplicates: bool,
) -> Result<ImportOutcome> {
    state
        .onramp()
        .await?
        .import_customers(text.as_bytes(), &file_name, skip_duplicates)
        .await
}

/// A customers CSV dropped on the window: the UI names the drop and the file ([`dropped`]).
#[tauri::command]
pub async fn preview_dropped_customer_import(
    state: State<'_, AppState>,
    drop: u32,
    name: String,
) -> Result<ImportPreview> {
    let path = dropped(&state, drop, &name)?;
    state
        .onramp()
        .await?
        .preview_customer_import_file(&path)
        .await
}

#[tauri::command]
pub async fn import_dropped_customers(
    state: State<'_, AppState>,
    drop: u32,
    name: String,
    skip_duplicates: bool,
) -> Result<ImportOutcome> {
    let path = dropped(&state, drop, &name)?;
    state
        .onramp()
        .await?
        .import_customers_file(&path, skip_duplicates)
        .await
}

#[tauri::command]
pub async fn remove_usage_series(state: State<'_, AppState>, id: String) -> Result<()> {
    state.onramp().await?.remove_usage_series(&id).await
}

#[tauri::command]
pub async fn get_customer(state: State<'_, AppState>, id: String) -> Result<CustomerDetail> {
    state.onramp().await?.customer(&id).await
}

#[tauri::command]
pub async fn list_providers(state: State<'_, AppState>) -> Result<Vec<ProviderInfo>> {
    state.onramp().await?.providers().await
}

#[tauri::command]
pub async fn installer_accounts(state: State<'_, AppState>) -> Result<Vec<InstallerAccount>> {
    state.onramp().await?.installer_accounts().await
}

#[tauri::command]
pub async fn save_installer_account(
    state: State<'_, AppState>,
    input: KeyInput,
) -> Result<InstallerAccount> {
    state.onramp().await?.save_installer_account(input).await
}

#[tauri::command]
pub async fn remove_installer_account(
    state: State<'_, AppState>,
    provider: ProviderId,
) -> Result<()> {
    state
        .onramp()
        .await?
        .remove_installer_account(provider)
        .await
}

#[tauri::command]
pub async fn search_account_sites(
    state: State<'_, AppState>,
    provider: ProviderId,
    query: String,
) -> Result<SiteSearch> {
    state
        .onramp()
        .await?
        .search_account_sites(provider, &query)
        .await
}

#[tauri::command]
pub async fn connect_account_sites(
    state: State<'_, AppState>,
    input: ConnectAccountSites,
) -> Result<Connection> {
    state.onramp().await?.connect_account_sites(input).await
}

#[tauri::command]
pub async fn connect_customer_key(
    state: State<'_, AppState>,
    customer_id: String,
    input: KeyInput,
) -> Result<Connection> {
    state
        .onramp()
        .await?
        .connect_customer_key(&customer_id, input)
        .await
}

#[tauri::command]
pub async fn remove_connection(state: State<'_, AppState>, id: String) -> Result<()> {
    state.onramp().await?.remove_connection(&id).await
}

/// The newest entries of the activity log the filter lets through (the Activity page's).
#[tauri::command]
pub async fn list_events(
    state: State<'_, AppState>,
    filter: onramp_core::model::ActivityFilter,
) -> Result<Vec<Event>> {
    state.onramp().await?.activity(&filter).await
}

#[tauri::command]
pub async fn vendor_apps(state: State<'_, AppState>) -> Result<Vec<VendorApp>> {
    state.onramp().await?.vendor_apps().await
}

#[tauri::command]
pub async fn save_vendor_app(
    state: State<'_, AppState>,
    input: VendorAppInput,
) -> Result<VendorApp> {
    state.onramp().await?.save_vendor_app(input).await
}

#[tauri::command]
pub async fn set_sign_in_return(
    state: State<'_, AppState>,
    input: SignInReturn,
) -> Result<VendorApp> {
    state.onramp().await?.set_sign_in_return(input).await
}

#[tauri::command]
pub async fn check_connection(state: State<'_, AppState>, id: String) -> Result<Connection> {
    state.onramp().await?.check_connection(&id).await
}

#[tauri::command]
pub async fn refresh_connection(state: State<'_, AppState>, id: String) -> Result<Connection> {
    state.onramp().await?.refresh_connection(&id).await
}

/// The activity log exported into the user's Downloads folder; the file's path.
#[tauri::command]
pub async fn export_activity(
    state: State<'_, AppState>,
    filter: onramp_core::model::ActivityFilter,
    format: onramp_core::service::ExportFormat,
) -> Result<String> {
    let folder = dirs::download_dir()
        .or_else(dirs::home_dir)
        .unwrap_or_else(std::env::temp_dir);
    let path = state
        .onramp()
        .await?
        .export_activity_to(&filter, format, &folder)
        .await?;
    Ok(path.display().to_string())
}

/// A backup of everything, encrypted to the passphrase, written into the user's Downloads
/// folder (`onramp-backup-YYYY-MM-DD-HHMM.onrampbackup`); what it holds and where it went.
#[tauri::command]
pub async fn create_backup(
    state: State<'_, AppState>,
    passphrase: String,
) -> Result<BackupSummary> {
    let folder = dirs::download_dir()
        .or_else(dirs::home_dir)
        .unwrap_or_else(std::env::temp_dir);
    state
        .onramp()
        .await?
        .create_backup_in(&folder, &Sensitive::new(passphrase))
        .await
}

/// Restores a backup file dropped on the window ([`dropped`]).
#[tauri::command]
pub async fn restore_dropped_backup(
    state: State<'_, AppState>,
    drop: u32,
    name: String,
    passphrase: String,
    replace: bool,
) -> Result<BackupSummary> {
    let path = dropped(&state, drop, &name)?;
    state
        .onramp()
        .await?
        .restore_backup(&path, &Sensitive::new(passphrase), replace)
        .await
}

/// Restores a backup file picked in Settings → Data: its bytes as the raw request body; its
/// name, the passphrase (URL-encoded) and whether to replace the customers here in headers.
#[tauri::command]
pub async fn restore_backup_bytes(
    state: State<'_, AppState>,
    request: tauri::ipc::Request<'_>,
) -> Result<BackupSummary> {
    let name = header(&request, "onramp-file-name").unwrap_or_else(|| "the backup".into());
    let passphrase = Sensitive::new(header(&request, "onramp-passphrase").unwrap_or_default());
    let replace = header(&request, "onramp-replace").as_deref() == Some("true");
    let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
        return Err(Error::validation("The backup did not arrive as bytes.")
            .hint("Drop the backup file on the window instead."));
    };
    state
        .onramp()
        .await?
        .restore_backup_bytes(&name, bytes.clone(), &passphrase, replace)
        .await
}

/// A raw request's header, URL-decoded.
fn header(request: &tauri::ipc::Request<'_>, name: &str) -> Option<String> {
    let value = request.headers().get(name)?.to_str().ok()?;
    url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

/// The path of a file dropped on the window, as the window's drop event gave it to the shell
/// ([`crate::drops`]): the webview names only the drop and the file's name.
fn dropped(state: &AppState, drop: u32, name: &str) -> Result<std::path::PathBuf> {
    state.drops.path(drop, name).ok_or_else(|| {
        Error::validation(format!(
            "{name} is no longer among the files dropped on the window."
        ))
        .hint("Drop the file on the window again.")
    })
}

/// The installer's name and the providers the company uses.
#[tauri::command]
pub async fn company_settings(state: State<'_, AppState>) -> Result<CompanySettings> {
    state.onramp().await?.company_settings().await
}

#[tauri::command]
pub async fn save_company_settings(
    state: State<'_, AppState>,
    settings: CompanySettings,
) -> Result<CompanySettings> {
    state.onramp().await?.save_company_settings(&settings).await
}

/// The customer's hand-off sheet.
#[tauri::command]
pub async fn hand_off(state: State<'_, AppState>, customer_id: String) -> Result<HandOff> {
    state.onramp().await?.hand_off(&customer_id).await
}

/// Keeps exactly these sites (the vendor's ids) of a connection for its customer.
#[tauri::command]
pub async fn choose_sites(
    state: State<'_, AppState>,
    connection_id: String,
    attached: Vec<String>,
) -> Result<Connection> {
    state
        .onramp()
        .await?
        .choose_sites(&connection_id, &attached)
        .await
}

/// The health board: what needs someone, most urgent first.
#[tauri::command]
pub async fn health(state: State<'_, AppState>) -> Result<Vec<HealthItem>> {
    state.onramp().await?.health().await
}

#[tauri::command]
pub async fn fetch_usage(state: State<'_, AppState>, id: String) -> Result<Vec<UsageSeries>> {
    state.onramp().await?.fetch_usage(&id).await
}

/// A Green Button file dropped on the window: the UI names the drop and the file's name, the
/// path is the one the window's drop event gave the shell ([`crate::drops`]).
#[tauri::command]
pub async fn import_dropped_usage(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    customer_id: String,
    drop: u32,
    name: String,
) -> Result<UsageImport> {
    let path = dropped(&state, drop, &name)?;
    state
        .onramp()
        .await?
        .import_usage_file_with(&customer_id, &path, progress(app))
        .await
}

/// The Cancel of a customer's usage import being read; false if none was.
#[tauri::command]
pub async fn cancel_usage_import(state: State<'_, AppState>, customer_id: String) -> Result<bool> {
    Ok(state.onramp().await?.cancel_usage_import(&customer_id))
}

/// Each report of an import's reading, as a `usage-import-progress` event.
fn progress(app: tauri::AppHandle) -> onramp_core::service::UsageProgress {
    use tauri::Emitter;
    std::sync::Arc::new(move |p: &UsageImportProgress| {
        let _ = app.emit(onramp_core::model::ui_event::USAGE_IMPORT_PROGRESS, p);
    })
}

/// A Green Button file picked in the UI: its bytes as the raw request body, the customer and
/// the file name in headers (no JSON array of numbers for a multi-megabyte file).
/// The body is capped ([`onramp_core::service::MAX_USAGE_BYTES`]) before it is read.
#[tauri::command]
pub async fn import_usage_bytes(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    request: tauri::ipc::Request<'_>,
) -> Result<UsageImport> {
    let customer = header(&request, "onramp-customer")
        .ok_or_else(|| Error::validation("The import does not say which customer it is for."))?;
    let name = header(&request, "onramp-file-name").unwrap_or_else(|| "usage.xml".into());
    let tauri::ipc::InvokeBody::Raw(bytes) = request.body() else {
        return Err(Error::validation("The file did not arrive as bytes.")
            .hint("Drop the file on the window instead."));
    };
    state
        .onramp()
        .await?
        .import_usage_bytes_with(&customer, &name, bytes.clone(), progress(app))
        .await
}
