//! `onramp`: Onramp's service from a terminal, sharing the app's store and keyring.
//!
//! Secrets are read from a prompt (on a terminal) or from standard input (one per line),
//! never from the command line, where other users could read them in the process list.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use onramp_core::config::{default_config_file, default_data_dir};
use onramp_core::model::*;
use onramp_core::service::{ExportFormat, PasteOutcome, SignInRequest, Sweep};
use onramp_core::vault::Sensitive;
use onramp_core::{Error, Onramp};
use onramp_sandbox::{Sandbox, SandboxConfig, SharedSandbox};
use std::time::Duration;

#[macro_use]
mod out;

#[derive(Parser)]
#[command(
    name = "onramp",
    version,
    about = "Connect customers' solar and battery systems to your company"
)]
struct Cli {
    /// Folder of Onramp's store (shared with the app).
    #[arg(long, global = true, env = "ONRAMP_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Configuration file (environment and vendor endpoints).
    #[arg(long, global = true, env = "ONRAMP_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add, list and show customers.
    #[command(subcommand)]
    Customer(CustomerCmd),
    /// Connect a customer's system.
    Connect(ConnectArgs),
    /// Installer accounts: the company-wide keys that list every site you installed.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Vendor apps: the client id and secret your company registered with a vendor (OAuth).
    #[command(subcommand)]
    App(AppCmd),
    /// Every customer with their connections and sites.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Activity log.
    Events {
        #[arg(long)]
        customer: Option<String>,
        #[arg(long, conflicts_with = "export")]
        json: bool,
        /// The consent record to file with the job: csv or json on standard output.
        #[arg(long, value_parser = ["csv", "json"])]
        export: Option<String>,
    },
    /// Remove a connection and its stored key.
    Disconnect { connection: String },
    /// Utility usage: import a Green Button file, show a customer's usage, fetch it again.
    #[command(subcommand)]
    Usage(UsageCmd),
    /// What needs someone (the customer to sign in again, you to fix a key), most urgent first,
    /// and the sign-ins that lapse within two weeks unless Onramp runs.
    Health {
        #[arg(long)]
        json: bool,
    },
    /// The customer signs in again for a connection whose grant was revoked or expired; the same
    /// connection is renewed (its sites kept).
    Reauthorize {
        connection: String,
        #[command(flatten)]
        wait: WaitArgs,
        #[arg(long)]
        json: bool,
    },
    /// Refresh signed-in connections' tokens: one now, those due (`--due`), or all (`--all`).
    Refresh {
        /// The connection to refresh now.
        #[arg(required_unless_present_any = ["all", "due"], conflicts_with_all = ["all", "due"])]
        connection: Option<String>,
        /// Every signed-in connection, now.
        #[arg(long, conflicts_with = "due")]
        all: bool,
        /// Only those whose tokens expire soon (what the app does in the background).
        #[arg(long)]
        due: bool,
        #[arg(long)]
        json: bool,
    },
    /// Ask the vendor again whether a connection works (and list its sites).
    Check {
        connection: String,
        #[arg(long)]
        json: bool,
    },
    /// Run the simulated vendors standalone and print their endpoints and demo keys.
    Sandbox {
        /// SolarEdge's port (default 47801; with --persistent, the data folder's).
        #[arg(long)]
        solaredge_port: Option<u16>,
        /// Solis's port (default 47802; with --persistent, the data folder's).
        #[arg(long)]
        solis_port: Option<u16>,
        /// Serve the data folder's own sandbox, the one the Sandbox environment uses (kept in
        /// sandbox-vendors.sqlite, on its remembered ports), instead of a fresh one in memory;
        /// if another Onramp on the folder serves it, take over when that one exits.
        #[arg(long)]
        persistent: bool,
        /// Print one line of JSON instead (endpoints, demo keys and apps, and this many Tesla
        /// grants' refresh tokens), for clients written elsewhere; serve until stdin closes.
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 2, requires = "json")]
        tesla_grants: usize,
    },
    /// One file with everything (customers, connections, vendor apps, usage, activity and every
    /// secret), encrypted to a passphrase: make one, or restore one on a new laptop.
    #[command(subcommand)]
    Backup(BackupCmd),
    /// The data folder's key in the keyring.
    #[command(subcommand)]
    Vault(VaultCmd),
    /// Where Onramp keeps its data and whether secure storage works.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum CustomerCmd {
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        address: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        job: Option<String>,
        #[arg(long)]
        json: bool,
    },
    List {
        /// Match name, address, job number or email.
        #[arg(long, short)]
        query: Option<String>,
        #[arg(long)]
        json: bool,
    },
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a customer's name, address or contact; fields not given stay as they are
    /// (an empty value clears one).
    Edit {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        address: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        job: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Remove a customer: revoke their connections at the vendors, or move them to another
    /// customer. Revoking cannot be undone.
    #[command(group(clap::ArgGroup::new("connections").required(true).args(["revoke", "move_to"])))]
    Remove {
        id: String,
        /// Revoke each signed-in connection at its vendor, then remove everything.
        #[arg(long)]
        revoke: bool,
        /// Move the connections (and their usage) to this customer.
        #[arg(long, value_name = "CUSTOMER_ID")]
        move_to: Option<String>,
    },
    /// Import customers from a CSV file (name, address, email, phone, job number; a header
    /// in any order): every row, or none if any row is in error.
    Import {
        file: PathBuf,
        /// Show the preview (each row, its errors and duplicates) and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Leave out rows that duplicate an existing customer or an earlier row.
        #[arg(long)]
        skip_duplicates: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum UsageCmd {
    /// Import a Green Button (ESPI XML) file the customer downloaded from their utility.
    Import {
        file: PathBuf,
        #[arg(long)]
        customer: String,
        #[arg(long)]
        json: bool,
    },
    /// A customer's usage per meter and month.
    Show {
        #[arg(long)]
        customer: String,
        #[arg(long)]
        json: bool,
    },
    /// Fetch a utility connection's usage again (UtilityAPI, Metry).
    Fetch {
        connection: String,
        #[arg(long)]
        json: bool,
    },
}

/// A provider as a terminal names it: core's name (`ProviderId::as_str`), or the sign-in name core
/// gives a provider whose own name connects another way (`solaredge-site`). Every fact comes from
/// core: a provider added there is here too.
#[derive(Clone, Copy, Debug)]
struct Provider {
    id: ProviderId,
    /// Connect by the customer signing in (OAuth).
    sign_in: bool,
}

impl Provider {
    fn parse(name: &str) -> Option<Provider> {
        if let Some(id) = ProviderId::parse(name) {
            return Some(Provider {
                id,
                sign_in: onramp_core::providers::spec(id).signs_in(),
            });
        }
        ProviderId::ALL
            .into_iter()
            .find(|id| onramp_core::providers::spec(*id).sign_in_name == Some(name))
            .map(|id| Provider { id, sign_in: true })
    }

    fn signs_in(self) -> bool {
        self.sign_in
    }

    /// The names clap offers, with what each one is.
    fn possible_values() -> Vec<PossibleValue> {
        let mut values = Vec::new();
        for id in ProviderId::ALL {
            let spec = onramp_core::providers::spec(id);
            values.push(PossibleValue::new(id.as_str()).help(spec.name));
            if let Some(name) = spec.sign_in_name {
                values.push(
                    PossibleValue::new(name)
                        .help(format!("{}: the customer signs in (OAuth)", spec.name)),
                );
            }
        }
        values
    }

    fn value_parser() -> impl TypedValueParser<Value = Provider> {
        PossibleValuesParser::new(Provider::possible_values())
            .map(|name| Provider::parse(&name).expect("clap offers core's names only"))
    }
}

impl From<Provider> for ProviderId {
    fn from(p: Provider) -> Self {
        p.id
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum RedirectArg {
    /// A one-shot listener on 127.0.0.1 receives the browser's return.
    Loopback,
    /// Paste the final address or the code the vendor's page shows.
    Paste,
}

#[derive(Args)]
struct ConnectArgs {
    #[arg(value_parser = Provider::value_parser())]
    provider: Provider,
    #[arg(long)]
    customer: String,
    /// Pick these sites from the installer account instead of entering the customer's own key.
    #[arg(long = "site")]
    sites: Vec<String>,
    #[command(flatten)]
    wait: WaitArgs,
    /// UtilityAPI: the utility (an id from the [[utility]] list in onramp.toml).
    #[arg(long)]
    utility: Option<String>,
    /// UtilityAPI: the Green Button scope to ask for (the customer may still narrow it).
    #[arg(long)]
    scope: Option<String>,
    /// Derapi Join: the device vendor (enphasevpp, enphase, tesla, solaredge, sma, solis, virtual).
    #[arg(long)]
    vendor: Option<String>,
    /// Derapi Join: a Join flow (browser returns to Onramp) or a Join session (Onramp asks until done).
    #[arg(long, value_enum)]
    join: Option<JoinArg>,
    #[arg(long)]
    json: bool,
}

/// How a terminal waits for the customer's sign-in to come back.
#[derive(Args, Clone, Copy)]
struct WaitArgs {
    /// How the sign-in comes back (providers that sign in): loopback, or paste (Enphase's default).
    #[arg(long, value_enum)]
    redirect: Option<RedirectArg>,
    /// A fixed loopback port, when the vendor app registration names one (default: onramp.toml, else any).
    #[arg(long)]
    port: Option<u16>,
    /// Give up waiting for the browser after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
}

/// One sign-in from the terminal: a new connection, or the renewal of `again`.
struct SignIn<'a> {
    customer: &'a str,
    provider: ProviderId,
    options: SignInOptions,
    join: Option<JoinArg>,
    wait: WaitArgs,
    again: Option<&'a str>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum JoinArg {
    Flows,
    Session,
}

#[derive(Subcommand)]
enum BackupCmd {
    /// Write a backup to FILE; the passphrase (12 characters or more) is asked twice, or read
    /// from the first line of stdin.
    Create {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Replace this data folder's content with a backup's; the passphrase is asked, or read
    /// from the first line of stdin.
    Restore {
        file: PathBuf,
        /// Replace the customers already on this laptop.
        #[arg(long)]
        replace: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum VaultCmd {
    /// Re-seal every secret under a new data key (the old key leaves the keyring).
    RotateKey {
        #[arg(long)]
        json: bool,
    },
    /// Whether the data folder's key is held, and if not, why and what to do.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AppCmd {
    /// Save the app's client id; the client secret (and Enphase's API key) come from a prompt or stdin.
    Set {
        #[arg(value_parser = Provider::value_parser())]
        provider: Provider,
        #[arg(long)]
        client_id: String,
        /// A public client: PKCE only, no client secret (Tesla's Open Source apps). No secret is read.
        #[arg(long)]
        public: bool,
    },
}

#[derive(Subcommand)]
enum AccountCmd {
    /// Save (and check) the installer account key; the key is read from a prompt or stdin.
    Set {
        #[arg(value_parser = Provider::value_parser())]
        provider: Provider,
    },
    List,
    Remove {
        #[arg(value_parser = Provider::value_parser())]
        provider: Provider,
    },
    /// Search the installer account's sites.
    Sites {
        #[arg(value_parser = Provider::value_parser())]
        provider: Provider,
        #[arg(long, short, default_value = "")]
        query: String,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ONRAMP_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(onramp) = e.downcast_ref::<Error>() {
                if let Some(hint) = &onramp.hint {
                    eprintln!("hint: {hint}");
                }
                // The vendor's (or the system's) own answer, as the UI's Details shows it.
                if let Some(details) = &onramp.details {
                    eprintln!("details: {details}");
                }
            }
            ExitCode::FAILURE
        }
    }
}

/// Opens the service; in the Sandbox environment opens the data folder's simulated vendors
/// (served by this process, or by another Onramp on the same folder).
async fn open(cli: &Cli) -> anyhow::Result<(Onramp, Option<SharedSandbox>)> {
    let l = onramp_launch::open(onramp_launch::Launch {
        data_dir: cli.data_dir.clone().unwrap_or_else(default_data_dir),
        config_file: cli.config.clone().unwrap_or_else(default_config_file),
        actor: "cli",
    })
    .await?;
    if let Some(sb) = &l.sandbox {
        for m in sb.moved_ports() {
            eprintln!(
                "note: the sandbox's {} port {} was taken by another program; it listens on {} now \
                 (Sandbox connections made before may need connecting again)",
                m.server, m.from, m.to
            );
        }
    }
    Ok((l.onramp, l.sandbox))
}

/// Reads one secret: a hidden prompt on a terminal, otherwise the next line of stdin.
fn read_secret(
    prompt: &str,
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        Ok(rpassword::prompt_password(format!("{prompt}: "))?)
    } else {
        match lines.next() {
            Some(line) => Ok(line?.trim().to_string()),
            None => anyhow::bail!("expected the {prompt} on standard input"),
        }
    }
}

/// A backup's passphrase: a hidden prompt (asked twice for a new backup), or the first line of
/// stdin, kept as typed (only the line ending goes).
fn read_passphrase(confirm: bool) -> anyhow::Result<Sensitive<String>> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Backup passphrase: ")?;
        if confirm {
            let again = rpassword::prompt_password("Same passphrase again: ")?;
            if again != first {
                anyhow::bail!("the two passphrases differ; nothing was written");
            }
        }
        return Ok(Sensitive::new(first));
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim_end_matches(['\n', '\r']).to_string();
    if line.is_empty() {
        anyhow::bail!("expected the backup passphrase on standard input");
    }
    Ok(Sensitive::new(line))
}

fn print_backup(verb: &str, b: &BackupSummary) {
    out!("{verb} {}", b.path);
    out!(
        "  {} customers, {} connections, {} sites, {} vendor apps and accounts, {} usage series, {} activity entries, {} secrets",
        b.customers, b.connections, b.sites, b.vendor_apps, b.usage_series, b.events, b.secrets
    );
    out!("  made {} by Onramp {}", b.created_at, b.onramp_version);
    if let Some(note) = &b.note {
        out!("note: {note}");
    }
}

/// The vault's state in plain words.
fn vault_words(v: &VaultStatus) -> String {
    match v.state {
        VaultState::Ready => format!("{} (working)", v.backend),
        VaultState::Unavailable => format!(
            "UNAVAILABLE: the keyring ({}) is locked, not running or not answering",
            v.backend
        ),
        VaultState::KeyMissing => "key missing: restore a backup (`onramp backup restore FILE --replace`); without one, each customer signs in again".into(),
        VaultState::KeyMismatch => "key mismatch: the keyring holds another key for this data folder; restore a backup (`onramp backup restore FILE --replace`)".into(),
    }
}

fn print_vault(v: &VaultStatus) {
    out!("secure storage: {}", vault_words(v));
    if !v.available {
        if let Some(m) = &v.message {
            out!("  {m}");
        }
        if let Some(h) = &v.hint {
            out!("hint: {h}");
        }
    }
}

fn read_key(provider: ProviderId, account: bool) -> anyhow::Result<KeyInput> {
    let spec = onramp_core::providers::spec(provider);
    let fields = if account {
        spec.installer_fields()
    } else {
        spec.fields
    };
    if fields.is_empty() && account {
        anyhow::bail!("{} has no installer account in Onramp.", spec.name);
    }
    if fields.is_empty() {
        let id = provider.as_str();
        let sign_in = spec.sign_in_name.unwrap_or(id);
        let mut ways = format!(
            "{} has no customer key. The customer signs in: onramp connect {sign_in} --customer ID",
            spec.name
        );
        if !spec.installer_fields().is_empty() {
            ways.push_str(&format!(
                "; or pick the {noun} from your company's installer account: onramp account set {id}, then onramp connect {id} --customer ID --site ID",
                noun = spec.site_noun
            ));
        }
        anyhow::bail!(ways);
    }
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut input = KeyInput::empty(provider);
    // In the order core lists them (a password is sent to the vendor once and never saved).
    for f in fields {
        let value = read_secret(&format!("{} {}", spec.name, f.label), &mut lines)?;
        input.set(f.name, Some(value));
    }
    Ok(input)
}

/// Opens `url` in the system browser ($BROWSER when set), without waiting for it.
fn open_browser(url: String) {
    tokio::task::spawn_blocking(move || {
        if let Err(e) = webbrowser::open(&url) {
            eprintln!("Could not open a browser ({e}); open the address above by hand.");
        }
    });
}

/// The authorization-code flow from a terminal (core runs the sign-in; the terminal opens the
/// browser and reads a paste): loopback by default, paste where the vendor's app says so; a
/// vendor's polled sign-in (Derapi's Join session) when asked or configured.
async fn connect_by_sign_in(onramp: &Onramp, args: &SignIn<'_>) -> anyhow::Result<Connection> {
    let provider = args.provider;
    let spec = onramp_core::providers::spec(provider);
    let oauth = spec.oauth.expect("sign-in providers have an OAuth spec");
    let configured = onramp.config().oauth_config(provider);
    // A terminal has no deep link: anything but paste comes back through the loopback.
    let mode = match args.wait.redirect {
        Some(RedirectArg::Paste) => RedirectMode::Paste,
        Some(RedirectArg::Loopback) => RedirectMode::Loopback,
        None => match configured.redirect.unwrap_or(oauth.default_redirect) {
            RedirectMode::Paste => RedirectMode::Paste,
            _ => RedirectMode::Loopback,
        },
    };
    let mut req = SignInRequest::new(args.customer, provider, mode);
    req.options = args.options.clone();
    req.reauthorize = args.again.map(str::to_string);
    req.polled = args.join.map(|j| j == JoinArg::Session);
    req.loopback_port = args.wait.port;
    req.wait = Duration::from_secs(args.wait.timeout);
    let (start, waiter) = onramp.start_sign_in(&req).await?;
    let polled = waiter.as_ref().is_some_and(|w| w.polled());
    if polled {
        eprintln!(
            "{} for the customer:\n\n  {}\n",
            spec.name, start.authorize_url
        );
    } else {
        eprintln!(
            "Sign-in address for the customer:\n\n  {}\n",
            start.authorize_url
        );
    }
    open_browser(start.authorize_url.clone());
    if let Some(waiter) = waiter {
        if polled {
            eprintln!(
                "Waiting for the customer to finish {}… (Ctrl-C cancels)",
                spec.name
            );
        } else {
            eprintln!(
                "Waiting for the customer to sign in at {}… (Ctrl-C cancels)",
                spec.name
            );
        }
        return Ok(onramp.wait_sign_in(waiter).await?);
    }
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        let pasted = read_secret(
            &format!("The code {} shows (or the final address)", spec.name),
            &mut lines,
        )?;
        eprintln!("Checking with {}…", spec.name);
        match onramp.paste_sign_in(&start.state, &pasted).await {
            PasteOutcome::Finished(result) => return Ok(result?),
            // Not this sign-in's answer, or a code the vendor refused: the sign-in still waits;
            // paste again.
            PasteOutcome::Unreadable(e) | PasteOutcome::NotAccepted(e) => {
                eprintln!("{}", e.message);
                if let Some(h) = &e.hint {
                    eprintln!("hint: {h}");
                }
                if let Some(d) = &e.details {
                    eprintln!("details: {d}");
                }
            }
        }
    }
}

fn print_usage(series: &[UsageSeries]) {
    if series.is_empty() {
        out!("No usage yet. Import a Green Button file: onramp usage import FILE --customer ID");
    }
    for s in series {
        let total: i64 = s.months.iter().map(|m| m.energy_milli).sum();
        out!(
            "{} — {} {} ({}), {} readings, {} {} in {} months  [{}]",
            s.title,
            s.commodity,
            s.flow,
            s.source,
            s.readings,
            milli(total),
            s.unit,
            s.months.len(),
            s.id
        );
        for m in &s.months {
            let cost = match (m.cost, &s.currency) {
                (Some(c), Some(cur)) => format!("  {c:>10.2} {cur}"),
                (Some(c), None) => format!("  {c:>10.2}"),
                _ => String::new(),
            };
            out!(
                "    {}  {:>12} {}{cost}",
                m.month,
                milli(m.energy_milli),
                s.unit
            );
        }
    }
}

/// Thousandths of a unit in decimal, exactly: 199563 is "199.563".
fn milli(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    out!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn print_connection(c: &Connection) {
    let spec = onramp_core::providers::spec(c.provider);
    out!(
        "  {} [{}] {} via {} {} ({})",
        spec.name,
        c.state.as_str(),
        c.id,
        c.kind.as_str().replace('_', " "),
        opt(&c.credential_hint),
        c.created_at
    );
    if let Some(scope) = &c.scopes {
        out!("    scope {scope}");
    }
    for (k, v) in c.details.entries() {
        out!("    {k} {v}");
    }
    if let Some(e) = &c.last_error {
        out!("    error: {}  {}", e.message, opt(&e.hint));
    }
    for s in &c.sites {
        let kw = s
            .peak_power_kw
            .map(|k| format!("{k} kW"))
            .unwrap_or_default();
        out!(
            "    {} {:<12} {}  {}  {}",
            spec.site_noun,
            s.external_id,
            s.name,
            opt(&s.address),
            kw
        );
    }
}

/// `onramp sandbox --persistent`: the data folder's sandbox, served here (or by another Onramp
/// on the folder, taken over when it exits) until stdin closes (`--json`) or Ctrl-C.
async fn serve_persistent(
    cli: &Cli,
    solaredge_port: Option<u16>,
    solis_port: Option<u16>,
    json: bool,
) -> anyhow::Result<()> {
    let data_dir = cli.data_dir.clone().unwrap_or_else(default_data_dir);
    onramp_core::private::create_dir(&data_dir)?;
    let sb = SharedSandbox::open(
        &data_dir,
        SandboxConfig {
            solaredge_port: solaredge_port.unwrap_or(0),
            solis_port: solis_port.unwrap_or(0),
            ..SandboxConfig::default()
        },
    )
    .await?;
    for m in sb.moved_ports() {
        eprintln!(
            "note: the sandbox's {} port {} was taken by another program; it listens on {} now",
            m.server, m.from, m.to
        );
    }
    if json {
        out!("{}", sb.directory().describe_json());
        std::io::stdout().flush()?;
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        })
        .await?;
    } else {
        out!("{}", sb.directory().describe());
        out!(
            "Kept in {}; {}.\nPress Ctrl-C to stop.",
            sb.path().display(),
            if sb.served().is_some() {
                "served by this process"
            } else {
                "served by another Onramp on this data folder (this one takes over when it exits)"
            }
        );
        std::io::stdout().flush()?;
        tokio::signal::ctrl_c().await?;
    }
    sb.shutdown().await;
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Sandbox {
        solaredge_port,
        solis_port,
        persistent: true,
        json,
        ..
    } = cli.command
    {
        return serve_persistent(&cli, solaredge_port, solis_port, json).await;
    }
    if let Command::Sandbox {
        solaredge_port,
        solis_port,
        json,
        tesla_grants,
        ..
    } = cli.command
    {
        let sb = Sandbox::start(SandboxConfig {
            solaredge_port: solaredge_port.unwrap_or(47801),
            solis_port: solis_port.unwrap_or(47802),
            ..SandboxConfig::default()
        })
        .await?;
        if json {
            let mut v = sb.describe_json();
            v["tesla"]["refresh_tokens"] = serde_json::json!(sb.issue_grants(
                onramp_sandbox::OAuthVendor::Tesla,
                "openid offline_access energy_device_data",
                tesla_grants
            ));
            out!("{v}");
            std::io::stdout().flush()?;
            // Serve until the caller closes stdin (or stops this process).
            tokio::task::spawn_blocking(|| {
                let mut sink = Vec::new();
                let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            })
            .await?;
            sb.shutdown().await;
            return Ok(());
        }
        out!("{}", sb.describe());
        out!("Point onramp.toml at it:\n\nenvironment = \"production\"\n[solaredge]\nbase_url = \"{}\"\n[solis]\nbase_url = \"{}\"\n", sb.solaredge_url(), sb.solis_url());
        out!("Press Ctrl-C to stop.");
        std::io::stdout().flush()?;
        tokio::signal::ctrl_c().await?;
        sb.shutdown().await;
        return Ok(());
    }
    let (onramp, sandbox) = open(&cli).await?;
    let mut cli = cli;
    let result = match name_customers(&onramp, &mut cli.command).await {
        Ok(()) => dispatch(&cli, &onramp).await,
        Err(e) => Err(e),
    };
    onramp.close().await;
    if let Some(sb) = sandbox {
        sb.shutdown().await;
    }
    result
}

/// Every customer a command names (`--customer`, `customer show|edit|remove`, `--move-to`)
/// may be given as an id, a job number or a unique name; each is replaced by the id here, so
/// the commands themselves see ids only.
async fn name_customers(onramp: &Onramp, command: &mut Command) -> anyhow::Result<()> {
    let mut named: Vec<&mut String> = Vec::new();
    match command {
        Command::Connect(args) => named.push(&mut args.customer),
        Command::Events {
            customer: Some(c), ..
        } => named.push(c),
        Command::Usage(UsageCmd::Import { customer, .. } | UsageCmd::Show { customer, .. }) => {
            named.push(customer)
        }
        Command::Customer(CustomerCmd::Show { id, .. } | CustomerCmd::Edit { id, .. }) => {
            named.push(id)
        }
        Command::Customer(CustomerCmd::Remove { id, move_to, .. }) => {
            named.push(id);
            named.extend(move_to.as_mut());
        }
        _ => {}
    }
    for reference in named {
        *reference = onramp.find_customer(reference).await?.id;
    }
    Ok(())
}

async fn dispatch(cli: &Cli, onramp: &Onramp) -> anyhow::Result<()> {
    match &cli.command {
        Command::Sandbox { .. } => unreachable!("handled before opening the store"),
        Command::Status { json } => {
            let s = onramp.status();
            if *json {
                return print_json(&s);
            }
            out!("Onramp {} ({:?} environment)", s.version, s.environment);
            out!("data:   {}", s.data_dir);
            out!("config: {}", s.config_file);
            print_vault(&s.vault);
        }
        Command::Vault(VaultCmd::Status { json }) => {
            let v = onramp.status().vault;
            if *json {
                return print_json(&v);
            }
            print_vault(&v);
        }
        Command::Vault(VaultCmd::RotateKey { json }) => {
            let r = onramp.rotate_key().await?;
            if *json {
                return print_json(&r);
            }
            out!(
                "Data key rotated: {} secrets re-sealed under the new key {}",
                r.resealed,
                r.key_id
            );
        }
        Command::Backup(BackupCmd::Create { file, json }) => {
            let passphrase = read_passphrase(true)?;
            let b = onramp.create_backup(file, &passphrase).await?;
            if *json {
                return print_json(&b);
            }
            print_backup("Backup written to", &b);
            out!(
                "Keep the passphrase apart from the file: without it the backup cannot be opened."
            );
        }
        Command::Backup(BackupCmd::Restore {
            file,
            replace,
            json,
        }) => {
            let passphrase = read_passphrase(false)?;
            let b = onramp.restore_backup(file, &passphrase, *replace).await?;
            if *json {
                return print_json(&b);
            }
            print_backup("Restored", &b);
        }
        Command::Customer(CustomerCmd::Add {
            name,
            address,
            email,
            phone,
            job,
            json,
        }) => {
            let input = NewCustomer {
                name: name.clone(),
                address: address.clone(),
                email: email.clone(),
                phone: phone.clone(),
                job_number: job.clone(),
            };
            for twin in onramp.similar_customers(&input).await? {
                eprintln!(
                    "warning: {} ({}) has the same name and address: {}",
                    twin.name,
                    opt(&twin.address),
                    twin.id
                );
            }
            let c = onramp.add_customer(input).await?;
            if *json {
                return print_json(&c);
            }
            out!("{}", c.id);
        }
        Command::Customer(CustomerCmd::List { query, json }) => {
            let list = onramp.list_customers(query.as_deref()).await?;
            if *json {
                return print_json(&list);
            }
            if list.is_empty() {
                match query {
                    Some(q) => out!("No customer matches “{q}”."),
                    None => {
                        out!("No customers yet. Add one: onramp customer add --name \"Ada Garcia\"")
                    }
                }
                return Ok(());
            }
            out!(
                "{:<36}  {:<28} {:<36} {:<10} {:>9} {:>5}  NEEDS",
                "ID",
                "NAME",
                "ADDRESS",
                "JOB",
                "CONNECTED",
                "SITES"
            );
            let waiting = list.iter().filter(|c| c.needs_attention > 0).count();
            for c in &list {
                let needs = match c.needs_attention {
                    0 => String::new(),
                    1 => "1 connection needs action".to_string(),
                    n => format!("{n} connections need action"),
                };
                out!(
                    "{:<36}  {:<28} {:<36} {:<10} {:>9} {:>5}  {needs}",
                    c.id,
                    c.name,
                    opt(&c.address),
                    opt(&c.job_number),
                    c.connected,
                    c.sites
                );
            }
            eprintln!(
                "{}{}",
                onramp_core::text::plural(list.len() as u64, "customer"),
                match waiting {
                    0 => String::new(),
                    n => format!(", {n} with connections that need action (onramp health)"),
                }
            );
        }
        Command::Customer(CustomerCmd::Show { id, json }) => {
            let d = onramp.customer(id).await?;
            if *json {
                return print_json(&d);
            }
            let c = &d.customer;
            out!("{}  {}", c.name, c.id);
            for line in [&c.address, &c.job_number, &c.email, &c.phone]
                .into_iter()
                .flatten()
            {
                out!("  {line}");
            }
            for p in &d.providers {
                let conns: Vec<&Connection> = d
                    .connections
                    .iter()
                    .filter(|k| k.provider == p.id)
                    .collect();
                if conns.is_empty() {
                    out!("{}: not connected", p.name);
                }
                for k in conns {
                    print_connection(k);
                }
            }
        }
        Command::Customer(CustomerCmd::Edit {
            id,
            name,
            address,
            email,
            phone,
            job,
            json,
        }) => {
            let c = onramp.customer(id).await?.customer;
            let pick = |new: &Option<String>, old: Option<String>| match new {
                Some(v) => Some(v.clone()).filter(|v| !v.trim().is_empty()),
                None => old,
            };
            let c = onramp
                .update_customer(
                    id,
                    NewCustomer {
                        name: name.clone().unwrap_or(c.name),
                        address: pick(address, c.address),
                        email: pick(email, c.email),
                        phone: pick(phone, c.phone),
                        job_number: pick(job, c.job_number),
                    },
                )
                .await?;
            if *json {
                return print_json(&c);
            }
            out!("{}  {}", c.id, c.name);
        }
        Command::Customer(CustomerCmd::Remove {
            id,
            revoke: _,
            move_to,
        }) => {
            let how = match move_to {
                Some(to) => ConnectionsOnRemove::MoveTo {
                    customer_id: to.clone(),
                },
                None => ConnectionsOnRemove::Revoke,
            };
            let name = onramp.customer(id).await?.customer.name;
            onramp.remove_customer(id, how).await?;
            out!("Removed {name}.");
        }
        Command::Customer(CustomerCmd::Import {
            file,
            dry_run,
            skip_duplicates,
            json,
        }) => {
            let bytes = std::fs::read(file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let file_name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| file.display().to_string());
            if *dry_run {
                let preview = onramp.preview_customer_import(&bytes).await?;
                if *json {
                    return print_json(&preview);
                }
                print_import_preview(&preview);
                if !preview.ready() {
                    anyhow::bail!("{file_name} cannot be imported as it is; nothing was written");
                }
                return Ok(());
            }
            let outcome = match onramp
                .import_customers(&bytes, &file_name, *skip_duplicates)
                .await
            {
                Ok(o) => o,
                Err(e) => {
                    if !*json {
                        print_import_preview(&onramp.preview_customer_import(&bytes).await?);
                    }
                    return Err(e.into());
                }
            };
            if *json {
                return print_json(&outcome);
            }
            out!(
                "Imported {} customer{} from {file_name}{}.",
                outcome.imported,
                if outcome.imported == 1 { "" } else { "s" },
                if outcome.skipped_duplicates > 0 {
                    format!(" ({} duplicates left out)", outcome.skipped_duplicates)
                } else {
                    String::new()
                }
            );
        }
        Command::List { json } => {
            let mut all = Vec::new();
            for c in onramp.list_customers(None).await? {
                all.push(onramp.customer(&c.id).await?);
            }
            if *json {
                let out: Vec<serde_json::Value> = all
                    .iter()
                    .map(|d| serde_json::json!({"customer": d.customer, "connections": d.connections}))
                    .collect();
                return print_json(&out);
            }
            for d in all {
                out!("{}  {}", d.customer.name, d.customer.id);
                for k in &d.connections {
                    print_connection(k);
                }
            }
        }
        Command::Connect(args) => {
            let provider: ProviderId = args.provider.into();
            let conn = if args.provider.signs_in() && args.sites.is_empty() {
                let sign_in = SignIn {
                    customer: &args.customer,
                    provider,
                    options: SignInOptions {
                        utility: args.utility.clone(),
                        scope: args.scope.clone(),
                        vendor: args.vendor.clone(),
                    },
                    join: args.join,
                    wait: args.wait,
                    again: None,
                };
                connect_by_sign_in(onramp, &sign_in).await?
            } else if args.sites.is_empty() {
                let input = read_key(provider, false)?;
                eprintln!(
                    "Checking the key with {}…",
                    onramp_core::providers::spec(provider).name
                );
                onramp.connect_customer_key(&args.customer, input).await?
            } else {
                onramp
                    .connect_account_sites(ConnectAccountSites {
                        customer_id: args.customer.clone(),
                        provider,
                        site_ids: args.sites.clone(),
                    })
                    .await?
            };
            if args.json {
                return print_json(&conn);
            }
            print_connection(&conn);
        }
        Command::Account(AccountCmd::Set { provider }) => {
            let input = read_key((*provider).into(), true)?;
            let a = onramp.save_installer_account(input).await?;
            out!(
                "{} installer account saved ({})",
                a.provider_name,
                opt(&a.credential_hint)
            );
        }
        Command::App(AppCmd::Set {
            provider,
            client_id,
            public,
        }) => {
            let p: ProviderId = (*provider).into();
            let spec = onramp_core::providers::spec(p);
            if *public && !onramp_core::providers::public_client_allowed(p) {
                return Err(Error::validation(format!(
                    "{} does not accept public clients: its apps always have a client secret.",
                    spec.name
                ))
                .hint(format!(
                    "Leave out --public and enter the {} client secret.",
                    spec.name
                ))
                .into());
            }
            let stdin = std::io::stdin();
            let mut lines = stdin.lock().lines();
            let secret = if *public {
                String::new()
            } else {
                let s = read_secret(&format!("{} client secret", spec.name), &mut lines)?;
                if s.trim().is_empty() {
                    let public_hint = if onramp_core::providers::public_client_allowed(p) {
                        " (or pass --public for a public app, PKCE only)"
                    } else {
                        ""
                    };
                    return Err(Error::validation(format!(
                        "Enter the {} client secret{public_hint}.",
                        spec.name
                    ))
                    .into());
                }
                s
            };
            let api_key = match spec.oauth {
                Some(o) if o.needs_api_key => {
                    Some(read_secret(&format!("{} API key", spec.name), &mut lines)?)
                }
                _ => None,
            };
            onramp
                .save_oauth_app(
                    p,
                    client_id,
                    Sensitive::new(secret),
                    api_key.map(Sensitive::new),
                )
                .await?;
            let kind = if *public { ", public: PKCE only" } else { "" };
            out!("{} app saved (client id {client_id}{kind})", spec.name);
        }
        Command::Account(AccountCmd::List) => {
            for a in onramp.installer_accounts().await? {
                let state = match (a.configured, a.renews, &a.needs_sign_in) {
                    (false, _, _) => "not set",
                    (true, _, Some(_)) => "sign in again",
                    (true, true, None) => "signed in",
                    (true, false, None) => "configured",
                };
                out!(
                    "{:<10} {:<14} {}",
                    a.provider_name,
                    state,
                    opt(&a.credential_hint)
                );
                if let Some(e) = &a.needs_sign_in {
                    out!("           {}", e.message);
                    if let Some(h) = &e.hint {
                        out!(
                            "           {h} (onramp account set {})",
                            a.provider.as_str()
                        );
                    }
                } else if let Some(lapses) = a.refresh_expires_at.as_deref().filter(|_| a.renews) {
                    out!("           renewed by Onramp while it runs; lapses {lapses} if it does not");
                }
            }
        }
        Command::Account(AccountCmd::Remove { provider }) => {
            onramp.remove_installer_account((*provider).into()).await?;
        }
        Command::Account(AccountCmd::Sites {
            provider,
            query,
            json,
        }) => {
            let found = onramp
                .search_account_sites((*provider).into(), query)
                .await?;
            if *json {
                return print_json(&found);
            }
            for s in &found.sites {
                let owner = s
                    .connected_to
                    .as_deref()
                    .map(|n| format!("  (connected to {n})"))
                    .unwrap_or_default();
                out!(
                    "{:<20} {:<32} {}{owner}",
                    s.external_id,
                    s.name,
                    opt(&s.address)
                );
            }
            out!("{} of {} matching", found.sites.len(), found.total);
        }
        Command::Events {
            customer,
            export: Some(format),
            ..
        } => {
            let format = if format == "csv" {
                ExportFormat::Csv
            } else {
                ExportFormat::Json
            };
            out_part!(
                "{}",
                onramp.export_activity(customer.as_deref(), format).await?
            );
        }
        Command::Events { customer, json, .. } => {
            let events = onramp.events(customer.as_deref()).await?;
            if *json {
                return print_json(&events);
            }
            for e in events {
                let customer = e.customer_name.as_deref().unwrap_or("—");
                let by = e.installer.as_deref().unwrap_or(&e.actor);
                out!("{}  {customer:<24} {by:<12} {}", e.at, e.summary);
            }
        }
        Command::Disconnect { connection } => {
            onramp.remove_connection(connection).await?;
            out!("removed {connection}");
        }
        Command::Usage(UsageCmd::Import {
            file,
            customer,
            json,
        }) => {
            eprintln!("Reading {}…", file.display());
            let done = onramp.import_usage_file(customer, file).await?;
            if *json {
                return print_json(&done);
            }
            out!(
                "Imported {} ({} bytes): {} meter reading series",
                done.file_name,
                done.bytes,
                done.series.len()
            );
            print_usage(&done.series);
        }
        Command::Usage(UsageCmd::Show { customer, json }) => {
            let usage = onramp.usage(customer).await?;
            if *json {
                return print_json(&usage);
            }
            print_usage(&usage);
        }
        Command::Usage(UsageCmd::Fetch { connection, json }) => {
            eprintln!("Fetching usage…");
            let usage = onramp.fetch_usage(connection).await?;
            if *json {
                return print_json(&usage);
            }
            print_usage(&usage);
        }
        Command::Health { json } => {
            let items = onramp.health().await?;
            if *json {
                return print_json(&items);
            }
            if items.is_empty() {
                out!("Every connection works; no sign-in lapses in the next two weeks.");
            }
            for i in &items {
                let provider = onramp_core::providers::spec(i.provider).name;
                out!("{} · {provider} · {}", i.customer_name, i.title);
                out!("  {}", i.action);
                if i.can_reauthorize {
                    out!("  onramp reauthorize {}", i.connection_id);
                }
            }
        }
        Command::Reauthorize {
            connection,
            wait,
            json,
        } => {
            let before = onramp.store().connection(connection).await?;
            // The choices made the first time (utility, scope, vendor) come from the connection.
            let sign_in = SignIn {
                customer: &before.customer_id,
                provider: before.provider,
                options: SignInOptions::default(),
                join: None,
                wait: *wait,
                again: Some(&before.id),
            };
            let c = connect_by_sign_in(onramp, &sign_in).await?;
            if *json {
                return print_json(&c);
            }
            print_connection(&c);
        }
        Command::Refresh {
            connection: Some(connection),
            json,
            ..
        } => {
            let c = onramp.refresh_connection(connection).await?;
            if *json {
                return print_json(&c);
            }
            print_connection(&c);
        }
        Command::Refresh { all, json, .. } => {
            let which = if *all { Sweep::All } else { Sweep::Due };
            let report = onramp.refresh_sweep(which).await?;
            if *json {
                print_json(&report)?;
            } else {
                out!("{}", report.summary());
                for (id, e) in &report.failed {
                    out!("  {id}: {}", e.message);
                }
                for lost in &report.lost {
                    out!(
                        "  {}: {} ({}): {} The customer must sign in again (onramp reauthorize {}).",
                        lost.connection_id,
                        lost.customer_name,
                        lost.provider.as_str(),
                        lost.message,
                        lost.connection_id
                    );
                }
                for id in &report.needs_reauth {
                    if report.lost.iter().any(|l| &l.connection_id == id) {
                        continue;
                    }
                    out!("  {id}: the customer must sign in again (onramp connect …)");
                }
                if let Some(next) = &report.next_due {
                    out!("next refresh due: {next}");
                }
            }
            if !report.failed.is_empty() || !report.needs_reauth.is_empty() {
                return Err(onramp_core::Error::new(
                    onramp_core::Code::VendorError,
                    format!(
                        "{} connection(s) could not be refreshed.",
                        report.failed.len() + report.needs_reauth.len()
                    ),
                )
                .hint("They are listed above; nothing was lost, and the others were refreshed.")
                .into());
            }
        }
        Command::Check { connection, json } => {
            let c = onramp.check_connection(connection).await?;
            if *json {
                return print_json(&c);
            }
            print_connection(&c);
        }
    }
    Ok(())
}

/// A customers CSV as read: one line per row, its errors and its duplicate.
fn print_import_preview(p: &ImportPreview) {
    for e in &p.file_errors {
        out!("error: {e}");
    }
    if !p.ignored_columns.is_empty() {
        out!(
            "note: columns not imported: {}",
            p.ignored_columns.join(", ")
        );
    }
    for r in &p.rows {
        let c = &r.customer;
        let status = if !r.errors.is_empty() {
            format!("ERROR {}", r.errors.join(" "))
        } else {
            match &r.duplicate {
                Some(ImportDuplicate::Existing { customer }) => {
                    format!("duplicate of {} ({})", customer.name, customer.id)
                }
                Some(ImportDuplicate::InFile { line }) => format!("duplicate of line {line}"),
                None => "ok".into(),
            }
        };
        out!(
            "line {:>4}  {:<28} {:<36} {:<10} {status}",
            r.line,
            c.name,
            opt(&c.address),
            opt(&c.job_number)
        );
    }
    let bad = p.rows.iter().filter(|r| !r.errors.is_empty()).count();
    let dup = p.rows.iter().filter(|r| r.duplicate.is_some()).count();
    out!(
        "{} row{}, {bad} in error, {dup} duplicate{}",
        p.rows.len(),
        if p.rows.len() == 1 { "" } else { "s" },
        if dup == 1 { "" } else { "s" }
    );
}
