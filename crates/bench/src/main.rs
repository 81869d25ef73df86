//! `onramp-bench`: how fast Onramp does its work, side by side with a peer and with the limit.
//!
//! - `sweep`: N Tesla connections (rotating, single-use refresh tokens) refreshed against the
//!   sandbox's token endpoint by Onramp's sweep (with its real vault: secrets sealed in SQLite
//!   under the data folder's key, read from the OS keyring once at start), by a Python peer
//!   written the usual way (authlib + httpx, async), and by a bare HTTP client with no
//!   storage, all at the same concurrency against the same server, each in a process of its
//!   own (so its peak memory is its own) while this process serves the sandbox.
//! - `vault`: what the vault costs: taking hold of the key at start-up (a new process reading it
//!   from the keyring), sealing and opening one connection's tokens.
//! - `store`: the Customers screen's pages and searches, a customer's page, the health board
//!   and the activity list, with N customers, M connections and the activity log, p50/p95.
//! - `enroll`: from the callback received to the connection stored and its sites discovered,
//!   minus the time the sandbox itself spent answering.
//! - `startup`: the release app from launch to its first screen, and its idle memory, with
//!   10,000 connections stored, next to the smallest Tauri app built the same way
//!   ([`startup`]).
//!
//! - `espi`: the Green Button reader against hostile files and a 50 MB real-shaped feed, CPU
//!   time and peak memory of each read in a process of its own ([`espi`]).
//!
//! `all` runs them and prints a Markdown report. `--smoke` uses tiny sizes (what `make test`
//! runs, to keep this compiling and working).

mod espi;
mod startup;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use futures_util::StreamExt;
use onramp_core::config::Config;
use onramp_core::lifecycle::{Policy, SystemClock};
use onramp_core::model::{CredentialKind, Environment, NewCustomer, ProviderId, VendorAppInput};
use onramp_core::service::{Redirect, Sweep};
use onramp_core::store::NewConnection;
use onramp_core::vault::Vault;
use onramp_core::{Onramp, OpenOptions};
use onramp_sandbox::{OAuthVendor, Sandbox, SandboxConfig};
use serde::{Deserialize, Serialize};

const SCOPE: &str = "openid offline_access energy_device_data";

#[derive(Parser)]
#[command(name = "onramp-bench", about = "Onramp's benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every benchmark; a Markdown report on standard output.
    All {
        /// Tiny sizes: checks that everything runs, measures nothing.
        #[arg(long)]
        smoke: bool,
    },
    /// The refresh sweep next to the Python peer and the bare client.
    Sweep(SweepArgs),
    /// Store queries at scale.
    Store {
        #[arg(long, default_value_t = 10_000)]
        customers: usize,
        #[arg(long, default_value_t = 30_000)]
        connections: usize,
        /// Activity-log entries added (refreshes of the signed-in connections, oldest first).
        #[arg(long, default_value_t = 1_000_000)]
        events: usize,
    },
    /// What the vault costs: the key taken at start-up, a connection's tokens sealed and opened.
    Vault {
        /// New processes taking hold of the key.
        #[arg(long, default_value_t = 20)]
        starts: usize,
        /// Seals and opens.
        #[arg(long, default_value_t = 10_000)]
        n: usize,
    },
    /// Enrollment overhead.
    Enroll {
        #[arg(long, default_value_t = 200)]
        n: usize,
    },
    /// Start-up to UI ready and idle memory of the app, next to a minimal Tauri app; a
    /// Markdown section on standard output.
    Startup(startup::StartupArgs),
    /// The Green Button reader: hostile files and a large real-shaped feed; a Markdown section.
    Espi {
        /// Files a hundredth of the size: checks that it runs.
        #[arg(long)]
        smoke: bool,
    },
    /// Reads one Green Button file and prints its CPU time and peak memory (run by `espi`).
    #[command(hide = true)]
    EspiRead(espi::ReadArgs),
    /// One contender of the sweep, in a process of its own (run by `sweep`).
    #[command(hide = true)]
    Worker(WorkerArgs),
    /// Opens the store in `data_dir` and takes hold of its key from the keyring, as a starting
    /// Onramp does; prints the milliseconds the key took (run by `vault`).
    #[command(hide = true)]
    Unlock { data_dir: PathBuf },
}

#[derive(clap::Args, Clone)]
struct SweepArgs {
    /// Connections refreshed by each contender.
    #[arg(long, default_value_t = 10_000)]
    n: usize,
    /// Refreshes in flight at once, for every contender.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Onramp: rotations let wait for their durable write (the app's policy unless given; a
    /// large number takes the bound away, to see what it does).
    #[arg(long)]
    max_uncommitted: Option<usize>,
    /// Leave out the Python peer (when authlib/httpx are not installed).
    #[arg(long)]
    no_python: bool,
    /// The bare client and Onramp run this many times, alternating; each is reported by its
    /// median run (the machine's noise moves single runs by a third).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
enum Kind {
    /// Onramp's sweep with its real vault (the key read from the OS keyring at start).
    Onramp,
    /// A bare HTTP client: the request, the JSON answer, the new token kept in memory.
    Bare,
}

#[derive(clap::Args)]
struct WorkerArgs {
    #[arg(long, value_enum)]
    kind: Kind,
    #[arg(long)]
    n: usize,
    #[arg(long)]
    concurrency: usize,
    #[arg(long)]
    max_uncommitted: Option<usize>,
    /// The set-up written by `sweep`.
    #[arg(long)]
    setup: PathBuf,
}

/// What `sweep` hands a worker.
#[derive(Serialize, Deserialize)]
struct Setup {
    config: PathBuf,
    client_id: String,
    client_secret: String,
    token_url: String,
    /// Refresh tokens for the clients that bring their own (bare, Python).
    tokens: Vec<String>,
}

/// One contender's run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Run {
    name: String,
    n: usize,
    seconds: f64,
    /// Peak resident memory during the timed part, in KiB.
    peak_kib: u64,
    /// Runs of this contender this one is the median of, and their slowest and fastest rates.
    #[serde(default)]
    rounds: usize,
    #[serde(default)]
    slowest: f64,
    #[serde(default)]
    fastest: f64,
    /// Onramp: how long its rotations waited between the vendor's answer and their durable
    /// commit, p50 and p99 (ms).
    #[serde(default)]
    window_ms: Option<(f64, f64)>,
    /// CPU time the contender's process spent in the timed part (user and system), seconds.
    #[serde(default)]
    cpu_seconds: Option<f64>,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.n as f64 / self.seconds
    }
}

/// Peak resident memory since the last reset (VmHWM), in KiB.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time this process has used so far (user and system), in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name; the
    // kernel counts them in USER_HZ, which is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// Starts the peak over from the current resident size (Linux: clear_refs 5).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::All { smoke } => {
            let (sweep_args, customers, connections, enrolls) = if smoke {
                (
                    SweepArgs {
                        n: 40,
                        concurrency: 8,
                        max_uncommitted: None,
                        no_python: !python_peer_available(),
                        rounds: 1,
                    },
                    50,
                    150,
                    5,
                )
            } else {
                (
                    SweepArgs {
                        n: 10_000,
                        concurrency: 8,
                        max_uncommitted: None,
                        no_python: false,
                        rounds: 3,
                    },
                    10_000,
                    30_000,
                    200,
                )
            };
            let runs = sweep(&sweep_args).await?;
            let events = if smoke { 1_000 } else { 1_000_000 };
            let store = store(customers, connections, events).await?;
            let enroll = enroll(enrolls).await?;
            let vault = if smoke {
                vault(2, 20).await?
            } else {
                vault(20, 10_000).await?
            };
            let sizes = (customers, connections, events);
            print!(
                "{}",
                report(&sweep_args, &runs, sizes, &store, &enroll, &vault)
            );
        }
        Command::Sweep(args) => {
            let runs = sweep(&args).await?;
            println!("{}", serde_json::to_string_pretty(&runs)?);
        }
        Command::Store {
            customers,
            connections,
            events,
        } => {
            let rows = store(customers, connections, events).await?;
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
        Command::Vault { starts, n } => {
            let rows = vault(starts, n).await?;
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
        Command::Unlock { data_dir } => {
            let store = onramp_core::store::Store::open(&data_dir.join("onramp.sqlite")).await?;
            let t = Instant::now();
            let status = Vault::new(store.store_id()).unlock(&store).await;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            anyhow::ensure!(status.available, "the key: {:?}", status.message);
            store.close().await;
            println!("{ms}");
        }
        Command::Enroll { n } => {
            let e = enroll(n).await?;
            println!("{}", serde_json::to_string_pretty(&e)?);
        }
        Command::Startup(args) => {
            let dir = tempfile::tempdir()?;
            seed_data_dir(dir.path(), args.connections).await?;
            let rows = tokio::task::spawn_blocking(move || {
                let r = startup::run(&args, dir.path());
                drop(dir);
                r
            })
            .await??;
            print!("{}", startup_report(&rows));
        }
        Command::Espi { smoke } => {
            print!(
                "{}",
                tokio::task::spawn_blocking(move || espi::run(smoke)).await??
            );
        }
        Command::EspiRead(args) => espi::read(&args)?,
        Command::Worker(args) => {
            let run = worker(args).await?;
            println!("{}", serde_json::to_string(&run)?);
        }
    }
    Ok(())
}

fn python_peer_available() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import authlib, httpx"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// One run per contender: the median of its runs by rate, with how many there were and the
/// slowest and fastest rate among them; in the order the contenders first ran.
fn medians(runs: Vec<Run>) -> Vec<Run> {
    let mut names: Vec<String> = Vec::new();
    for r in &runs {
        if !names.contains(&r.name) {
            names.push(r.name.clone());
        }
    }
    names
        .into_iter()
        .map(|name| {
            let mut mine: Vec<&Run> = runs.iter().filter(|r| r.name == name).collect();
            mine.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
            let mut median = mine[mine.len() / 2].clone();
            median.rounds = mine.len();
            median.slowest = mine[0].per_second();
            median.fastest = mine[mine.len() - 1].per_second();
            median
        })
        .collect()
}

/// Onramp on `data_dir` with the configuration in `config_file` (written by [`write_config`]),
/// its data key in this process only when `memory` (seeding stores for the store and start-up
/// benchmarks, which are not about the keyring).
async fn open_bench(config_file: &Path, data_dir: &Path, memory: bool) -> anyhow::Result<Onramp> {
    let config: Config = toml::from_str(&std::fs::read_to_string(config_file)?)?;
    let mut onramp = Onramp::open(OpenOptions {
        data_dir: data_dir.to_path_buf(),
        config_file: config_file.to_path_buf(),
        config,
        actor: "bench",
        sandbox_keys: vec![],
        oauth_apps: vec![],
    })
    .await?;
    if memory {
        // A data folder of its own whose key lives in this process only.
        let id = onramp.store_id().to_string();
        let status = onramp.set_vault(Vault::in_memory(id)).await;
        anyhow::ensure!(status.available, "in-memory vault: {:?}", status.message);
    }
    Ok(onramp)
}

/// A production-shaped configuration whose vendors are the sandbox, written to `dir`.
fn write_config(sb: &Sandbox, dir: &Path) -> anyhow::Result<PathBuf> {
    let mut config = Config {
        environment: Environment::Production,
        ..Default::default()
    };
    onramp_launch::wire(sb, &mut config);
    let path = dir.join("onramp.toml");
    std::fs::write(&path, toml::to_string(&config)?)?;
    Ok(path)
}

async fn sweep(args: &SweepArgs) -> anyhow::Result<Vec<Run>> {
    let sb = Sandbox::start(SandboxConfig::default()).await?;
    let dir = tempfile::tempdir()?;
    let config = write_config(&sb, dir.path())?;
    let app = sb.oauth_client(OAuthVendor::Tesla);
    let token_url = format!(
        "{}{}",
        sb.oauth_url(OAuthVendor::Tesla),
        OAuthVendor::Tesla.paths().1
    );
    let mut runs = Vec::new();
    let mut contenders: Vec<(&str, usize)> = vec![("bare", args.n), ("onramp", args.n)];
    if !args.no_python {
        contenders.insert(1, ("python", args.n));
    }
    for _ in 1..args.rounds.max(1) {
        contenders.push(("bare", args.n));
        contenders.push(("onramp", args.n));
    }
    for (name, n) in contenders {
        if n == 0 {
            continue;
        }
        let setup = Setup {
            config: config.clone(),
            client_id: app.client_id.clone(),
            client_secret: app.client_secret.clone(),
            token_url: token_url.clone(),
            tokens: if name.starts_with("onramp") {
                Vec::new()
            } else {
                sb.issue_grants(OAuthVendor::Tesla, SCOPE, n)
            },
        };
        let setup_file = dir.path().join(format!("{name}.json"));
        std::fs::write(&setup_file, serde_json::to_vec(&setup)?)?;
        let before = sb.token_requests(OAuthVendor::Tesla);
        let mut cmd = if name.starts_with("python") {
            let mut c = std::process::Command::new("python3");
            c.args(["-W", "ignore"])
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/peer_sweep.py"));
            c
        } else {
            let kind = if name == "onramp" { "onramp" } else { "bare" };
            let mut c = std::process::Command::new(std::env::current_exe()?);
            c.args(["worker", "--kind", kind]);
            if let Some(m) = args.max_uncommitted {
                c.args(["--max-uncommitted", &m.to_string()]);
            }
            c
        };
        cmd.args(["--n", &n.to_string()])
            .args(["--concurrency", &args.concurrency.to_string()])
            .arg("--setup")
            .arg(&setup_file)
            .stderr(Stdio::inherit());
        // Waited for on a blocking thread: this process keeps serving the sandbox meanwhile.
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await?
            .with_context(|| format!("running the {name} contender"))?;
        std::fs::remove_file(&setup_file)?;
        if !out.status.success() {
            bail!("the {name} contender failed");
        }
        let mut run: Run = serde_json::from_slice(&out.stdout)
            .with_context(|| String::from_utf8_lossy(&out.stdout).to_string())?;
        run.name = name.to_string();
        // Onramp's customers signed in first: one code exchange each, then one refresh.
        let asked = sb.token_requests(OAuthVendor::Tesla) - before;
        let expected = if name.starts_with("onramp") { 2 * n } else { n };
        if asked != expected as u64 {
            bail!("{name}: {asked} token requests for {n} connections");
        }
        eprintln!(
            "sweep {name}: {n} refreshes in {:.2} s ({:.0}/s), peak {} MiB",
            run.seconds,
            run.per_second(),
            run.peak_kib / 1024
        );
        runs.push(run);
    }
    sb.shutdown().await;
    Ok(medians(runs))
}

async fn worker(args: WorkerArgs) -> anyhow::Result<Run> {
    let setup: Setup = serde_json::from_slice(&std::fs::read(&args.setup)?)?;
    match args.kind {
        Kind::Bare => bare_worker(&setup, args.n, args.concurrency).await,
        Kind::Onramp => onramp_worker(&setup, args.n, args.concurrency, args.max_uncommitted).await,
    }
}

/// The limit: each refresh is one POST and its JSON answer; the new refresh token is kept in
/// memory for the next round, nothing else.
async fn bare_worker(setup: &Setup, n: usize, concurrency: usize) -> anyhow::Result<Run> {
    let client = reqwest::Client::new();
    let tokens = &setup.tokens[..n];
    reset_peak();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let new: Vec<String> = futures_util::stream::iter(tokens)
        .map(|rt| {
            let client = &client;
            async move {
                let answer: serde_json::Value = client
                    .post(&setup.token_url)
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("client_id", setup.client_id.as_str()),
                        ("refresh_token", rt.as_str()),
                    ])
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                anyhow::Ok(
                    answer["refresh_token"]
                        .as_str()
                        .context("no refresh token")?
                        .to_string(),
                )
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    assert_eq!(new.len(), n);
    Ok(Run {
        name: "bare".into(),
        n,
        seconds,
        peak_kib: peak_kib(),
        cpu_seconds: Some(cpu),
        ..Default::default()
    })
}

/// Onramp, as the app runs it: its data key read from the keyring as it opens, N customers
/// signed in (not timed), then one sweep of them all.
async fn onramp_worker(
    setup: &Setup,
    n: usize,
    concurrency: usize,
    max_uncommitted: Option<usize>,
) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    let mut onramp = open_bench(&setup.config, dir.path(), false).await?;
    if !onramp.status().vault.available {
        bail!(
            "the keyring is unavailable: {:?}",
            onramp.status().vault.message
        );
    }
    // The Tesla app as an installer saves it in Settings (its secret in the vault).
    onramp
        .save_vendor_app(VendorAppInput {
            provider: ProviderId::Tesla,
            client_id: setup.client_id.clone(),
            client_secret: setup.client_secret.clone(),
            api_key: None,
        })
        .await?;
    onramp.set_lifecycle(
        Arc::new(SystemClock),
        Policy {
            max_concurrency: concurrency,
            per_vendor: concurrency,
            max_uncommitted: max_uncommitted.unwrap_or(Policy::default().max_uncommitted),
            ..Policy::default()
        },
    );
    // Three connections a customer, as at an installer's (one customer with 10,000 would
    // measure a shape nobody has).
    let mut customers = Vec::new();
    for i in 0..n.div_ceil(3) {
        customers.push(
            onramp
                .add_customer(NewCustomer {
                    name: format!("Bench customer {i}"),
                    address: None,
                    email: None,
                    phone: None,
                    job_number: None,
                })
                .await?
                .id,
        );
    }
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let onramp_ref = &onramp;
    let signed: Vec<anyhow::Result<()>> = futures_util::stream::iter(0..n)
        .map(|i| {
            let (browser, customer) = (&browser, &customers[i / 3]);
            async move {
                let start = onramp_ref
                    .begin_oauth(customer, ProviderId::Tesla, Redirect::DeepLink)
                    .await?;
                let resp = browser.get(&start.authorize_url).send().await?;
                let back = resp
                    .headers()
                    .get("location")
                    .context("the sandbox consents with a redirect")?
                    .to_str()?
                    .to_string();
                onramp_ref
                    .complete_oauth(&back, Some(ProviderId::Tesla))
                    .await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    signed.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    eprintln!(
        "onramp worker {}: {n} connections signed in; sweeping",
        std::process::id()
    );
    reset_peak();
    let cpu = cpu_seconds();
    let started = Instant::now();
    // On the runtime's workers, as the app's keep-alive runs it (a task of its own), not on
    // the thread that started the runtime.
    let onramp = Arc::new(onramp);
    let sweeping = onramp.clone();
    let report = tokio::spawn(async move { sweeping.refresh_sweep(Sweep::All).await }).await??;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    if report.refreshed.len() != n {
        bail!(
            "refreshed {} of {n}: {}",
            report.refreshed.len(),
            report.summary()
        );
    }
    let peak = peak_kib();
    let mut windows = report.durable_ms.clone();
    if windows.len() != n {
        bail!("{} of {n} rotations timed", windows.len());
    }
    windows.sort_by(f64::total_cmp);
    let at = |q: f64| windows[((windows.len() - 1) as f64 * q).round() as usize];
    onramp.close().await;
    Ok(Run {
        name: "onramp".into(),
        n,
        seconds,
        peak_kib: peak,
        window_ms: Some((at(0.5), at(0.99))),
        cpu_seconds: Some(cpu),
        ..Default::default()
    })
}

/// One step of the vault's work, timed over its repetitions.
#[derive(Debug, Serialize)]
struct VaultRun {
    step: String,
    times: usize,
    p50_ms: f64,
    p99_ms: f64,
}

fn vault_run(step: &str, mut samples: Vec<Duration>) -> VaultRun {
    samples.sort();
    let at = |q: f64| {
        samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0
    };
    VaultRun {
        step: step.to_string(),
        times: samples.len(),
        p50_ms: at(0.5),
        p99_ms: at(0.99),
    }
}

/// What the vault costs: a data folder made with the real keyring, then `starts` new processes
/// each opening its store and taking hold of its key (the keyring read once, the check value
/// opened: what every start of Onramp pays), then `n` seals and opens of one connection's
/// tokens (an access token of 1,200 characters and a refresh token of 64, as the sandbox's
/// Tesla issues them) with the key held.
async fn vault(starts: usize, n: usize) -> anyhow::Result<Vec<VaultRun>> {
    let sb = Sandbox::start(SandboxConfig::default()).await?;
    let dir = tempfile::tempdir()?;
    let config_file = write_config(&sb, dir.path())?;
    let onramp = open_bench(&config_file, dir.path(), false).await?;
    if !onramp.status().vault.available {
        bail!(
            "the keyring is unavailable: {:?}",
            onramp.status().vault.message
        );
    }
    let mut out = Vec::new();
    let mut samples = Vec::new();
    for _ in 0..starts {
        let exe = std::env::current_exe()?;
        let data = dir.path().to_path_buf();
        let run = tokio::task::spawn_blocking(move || {
            std::process::Command::new(exe)
                .arg("unlock")
                .arg(data)
                .stderr(Stdio::inherit())
                .output()
        })
        .await??;
        if !run.status.success() {
            bail!("taking hold of the key failed");
        }
        let ms: f64 = String::from_utf8_lossy(&run.stdout).trim().parse()?;
        samples.push(Duration::from_secs_f64(ms / 1000.0));
    }
    out.push(vault_run(
        "start-up: the key read from the keyring, its check value opened (a new process)",
        samples,
    ));
    let v = onramp.vault();
    let secrets = onramp_core::seal::Secrets::new()
        .with(
            "access_token",
            &onramp_core::vault::Sensitive::new("a".repeat(1200)),
        )
        .with(
            "refresh_token",
            &onramp_core::vault::Sensitive::new("r".repeat(64)),
        );
    let id = onramp_core::store::new_id();
    let (mut sealing, mut opening) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for generation in 0..n as i64 {
        let aad = onramp_core::store::connection_aad(&id, generation);
        let t = Instant::now();
        let sealed = v.seal(&aad, &secrets)?;
        sealing.push(t.elapsed());
        let t = Instant::now();
        let opened = v.open(&aad, &sealed).await?;
        opening.push(t.elapsed());
        std::hint::black_box(opened);
    }
    out.push(vault_run("seal one connection's tokens", sealing));
    out.push(vault_run("open one connection's tokens", opening));
    onramp.close().await;
    sb.shutdown().await;
    Ok(out)
}

/// One query's latency over its repetitions.
#[derive(Debug, Serialize)]
struct Latency {
    query: String,
    runs: usize,
    p50_ms: f64,
    p95_ms: f64,
}

fn percentiles(name: &str, mut samples: Vec<Duration>) -> Latency {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i].as_secs_f64() * 1000.0
    };
    Latency {
        query: name.to_string(),
        runs: samples.len(),
        p50_ms: at(0.5),
        p95_ms: at(0.95),
    }
}

async fn store(
    customers: usize,
    connections: usize,
    events: usize,
) -> anyhow::Result<Vec<Latency>> {
    let sb = Sandbox::start(SandboxConfig::default()).await?;
    let dir = tempfile::tempdir()?;
    let config_file = write_config(&sb, dir.path())?;
    let onramp = open_bench(&config_file, dir.path(), true).await?;
    let started = Instant::now();
    let ids = seed(&onramp, customers, connections).await?;
    eprintln!(
        "store: {customers} customers and {connections} connections written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The activity log of a store in use: every refresh writes an entry (a signed-in
    // connection refreshes about three times a day). Written straight in, one second apart,
    // ending now.
    let started = Instant::now();
    let signed_in: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT id, customer_id, provider FROM connections WHERE kind = 'oauth' ORDER BY id",
    )
    .fetch_all(onramp.store().pool())
    .await?;
    if !signed_in.is_empty() {
        let end = time::OffsetDateTime::now_utc();
        for chunk in (0..events).collect::<Vec<_>>().chunks(50_000) {
            let rows: Vec<serde_json::Value> = chunk
                .iter()
                .map(|&n| {
                    let (id, customer, provider) = &signed_in[n % signed_in.len()];
                    let at = end - time::Duration::seconds((events - n) as i64);
                    serde_json::json!([onramp_core::store::rfc3339(at), customer, id, provider])
                })
                .collect();
            sqlx::query(
                "INSERT INTO events (at, customer_id, connection_id, provider, kind, summary, actor)
                 SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3,
                        'refreshed', 'tokens refreshed', 'app'
                 FROM json_each(?) ORDER BY key",
            )
            .bind(serde_json::Value::Array(rows).to_string())
            .execute(onramp.store().pool())
            .await?;
        }
    }
    eprintln!(
        "store: {events} activity entries written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let reps = 40;
    let mut out = Vec::new();
    let time_it = |samples: &mut Vec<Duration>, t: Instant| samples.push(t.elapsed());
    // The Customers screen's own reads: a page of 200, the first and one further down, and
    // searches (their first page and the count of every match).
    for (name, query, offset) in [
        ("customers list, first page (200)", None, 0),
        ("customers list, tenth page", None, 1800),
        ("search by surname (\"okafor\")", Some("okafor"), 0),
        ("search by job number (\"J-04711\")", Some("J-04711"), 0),
        ("search with no hit (\"zzz\")", Some("zzz"), 0),
    ] {
        let mut samples = Vec::new();
        for _ in 0..reps {
            let t = Instant::now();
            let page = onramp.customers_page(query, offset, 200).await?;
            time_it(&mut samples, t);
            std::hint::black_box(page);
        }
        out.push(percentiles(name, samples));
    }
    let mut samples = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        let events = onramp.events(None).await?;
        time_it(&mut samples, t);
        std::hint::black_box(events);
    }
    out.push(percentiles("activity (500 newest)", samples));
    // The Activity page's filters, each read in the store: a kind none of the million is, a
    // provider, and one day a week back.
    let week_ago = (time::OffsetDateTime::now_utc() - time::Duration::days(7))
        .date()
        .to_string();
    for (name, filter) in [
        (
            "activity, a kind with no entry (\"revoked\")",
            onramp_core::model::ActivityFilter {
                kind: Some(onramp_core::model::EventKind::Revoked),
                ..Default::default()
            },
        ),
        (
            "activity, one provider (Enphase)",
            onramp_core::model::ActivityFilter {
                provider: Some(ProviderId::Enphase),
                ..Default::default()
            },
        ),
        (
            "activity, one day a week back",
            onramp_core::model::ActivityFilter {
                since: Some(week_ago.clone()),
                until: Some(week_ago.clone()),
                ..Default::default()
            },
        ),
    ] {
        let mut samples = Vec::new();
        for _ in 0..reps {
            let t = Instant::now();
            let events = onramp.activity(&filter).await?;
            time_it(&mut samples, t);
            std::hint::black_box(events);
        }
        out.push(percentiles(name, samples));
    }
    let mut samples = Vec::new();
    for i in 0..reps {
        let t = Instant::now();
        let d = onramp.customer(&ids[(i * 7919) % ids.len()]).await?;
        time_it(&mut samples, t);
        std::hint::black_box(d);
    }
    out.push(percentiles("one customer's page", samples));
    let mut samples = Vec::new();
    for _ in 0..reps / 4 {
        let t = Instant::now();
        let h = onramp.health().await?;
        time_it(&mut samples, t);
        std::hint::black_box(h);
    }
    out.push(percentiles("health board", samples));
    onramp.close().await;
    sb.shutdown().await;
    Ok(out)
}

#[derive(Debug, Serialize)]
struct Enrollment {
    sign_ins: usize,
    vault: String,
    /// Callback received to connection stored (sites discovered), median.
    total_ms_p50: f64,
    /// The sandbox's own time answering the token exchange and the discovery, median.
    vendor_ms_p50: f64,
    /// What Onramp adds, median of per-enrollment differences.
    overhead_ms_p50: f64,
    overhead_ms_p95: f64,
}

async fn enroll(n: usize) -> anyhow::Result<Vec<Enrollment>> {
    let mut out = Vec::new();
    for memory in [true, false] {
        let sb = Sandbox::start(SandboxConfig::default()).await?;
        let dir = tempfile::tempdir()?;
        let config_file = write_config(&sb, dir.path())?;
        let app = sb.oauth_client(OAuthVendor::Tesla);
        let onramp = open_bench(&config_file, dir.path(), memory).await?;
        onramp
            .save_vendor_app(VendorAppInput {
                provider: ProviderId::Tesla,
                client_id: app.client_id.clone(),
                client_secret: app.client_secret.clone(),
                api_key: None,
            })
            .await?;
        let customer = onramp
            .add_customer(NewCustomer {
                name: "Bench customer".into(),
                address: None,
                email: None,
                phone: None,
                job_number: None,
            })
            .await?;
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let (mut totals, mut vendor, mut overhead) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let start = onramp
                .begin_oauth(&customer.id, ProviderId::Tesla, Redirect::DeepLink)
                .await?;
            let back = browser
                .get(&start.authorize_url)
                .send()
                .await?
                .headers()
                .get("location")
                .context("redirect")?
                .to_str()?
                .to_string();
            let busy = sb.busy_time(OAuthVendor::Tesla);
            let t = Instant::now();
            onramp
                .complete_oauth(&back, Some(ProviderId::Tesla))
                .await?;
            let total = t.elapsed();
            let spent = sb.busy_time(OAuthVendor::Tesla) - busy;
            totals.push(total);
            vendor.push(spent);
            overhead.push(total.saturating_sub(spent));
        }
        let (t, v, o) = (
            percentiles("total", totals),
            percentiles("vendor", vendor),
            percentiles("overhead", overhead),
        );
        out.push(Enrollment {
            sign_ins: n,
            vault: if memory {
                "key in this process only"
            } else {
                "real vault (key from the keyring)"
            }
            .into(),
            total_ms_p50: t.p50_ms,
            vendor_ms_p50: v.p50_ms,
            overhead_ms_p50: o.p50_ms,
            overhead_ms_p95: o.p95_ms,
        });
        onramp.close().await;
        sb.shutdown().await;
    }
    Ok(out)
}

/// Writes `customers` customers and `connections` connections (Tesla and Enphase signed in,
/// SolarEdge by key, a site each) through Onramp's store. Their tokens are not due for years,
/// so nothing refreshes them.
async fn seed(
    onramp: &Onramp,
    customers: usize,
    connections: usize,
) -> anyhow::Result<Vec<String>> {
    let surnames = [
        "Garcia", "Okafor", "Nguyen", "Miller", "Perez", "Schmidt", "Rossi", "Tanaka", "Kowalski",
        "Haddad",
    ];
    let given = [
        "Ada", "Ben", "Carla", "Dana", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo",
    ];
    let mut ids = Vec::with_capacity(customers);
    for i in 0..customers {
        let c = onramp
            .add_customer(NewCustomer {
                name: format!(
                    "{} {} {i}",
                    given[i % given.len()],
                    surnames[(i / given.len()) % surnames.len()]
                ),
                address: Some(format!("{} Solar Way, Springfield", i + 1)),
                email: None,
                phone: None,
                job_number: Some(format!("J-{i:05}")),
            })
            .await?;
        ids.push(c.id);
    }
    let providers = [
        ProviderId::Solaredge,
        ProviderId::Tesla,
        ProviderId::Enphase,
    ];
    for i in 0..connections {
        let sites = [onramp_core::providers::VendorSite {
            external_id: format!("{}", 1_000_000 + i),
            name: format!("Site {i}"),
            address: None,
            peak_power_kw: Some(7.2),
            status: Some("Active".into()),
        }];
        let provider = providers[i % providers.len()];
        let new = NewConnection {
            id: onramp_core::store::new_id(),
            customer_id: &ids[i % ids.len()],
            provider,
            kind: if provider == ProviderId::Solaredge {
                CredentialKind::CustomerKey
            } else {
                CredentialKind::Oauth
            },
            credential_hint: None,
            secrets: None,
            sites: &sites,
            scopes: None,
            access_expires_at: None,
            refresh_expires_at: Some("2099-01-01T00:00:00Z".into()),
            tokens_issued_at: None,
            details: Default::default(),
        };
        onramp
            .store()
            .insert_connection(
                &new,
                onramp.vault(),
                &onramp_core::service::words::new_connection(&new, "bench"),
            )
            .await?;
    }
    Ok(ids)
}

/// A data folder holding `connections` connections (three a customer), for `startup`.
async fn seed_data_dir(dir: &Path, connections: usize) -> anyhow::Result<()> {
    let sb = Sandbox::start(SandboxConfig::default()).await?;
    let config_dir = tempfile::tempdir()?;
    let config_file = write_config(&sb, config_dir.path())?;
    let onramp = open_bench(&config_file, dir, true).await?;
    seed(&onramp, connections.div_ceil(3), connections).await?;
    onramp.close().await;
    sb.shutdown().await;
    Ok(())
}

fn startup_report(rows: &[startup::Startup]) -> String {
    let mut s = String::from("### Start-up and idle memory (under Xvfb)\n\n| app | launches | launch → UI ready p50 ms | max ms | idle RSS MiB | idle PSS MiB | processes |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {} |\n",
            r.app, r.runs, r.ready_ms_p50, r.ready_ms_max, r.rss_mib, r.pss_mib, r.processes
        ));
    }
    if let [floor, onramp] = rows {
        if floor.ready_ms_p50 > 0.0 && floor.pss_mib > 0.0 {
            s.push_str(&format!(
                "\nOnramp against the floor: start-up {:.2}× (p50), idle memory {:.2}× (PSS).\n",
                onramp.ready_ms_p50 / floor.ready_ms_p50,
                onramp.pss_mib / floor.pss_mib
            ));
        }
    }
    s
}

fn report(
    args: &SweepArgs,
    runs: &[Run],
    (customers, connections, events): (usize, usize, usize),
    store: &[Latency],
    enroll: &[Enrollment],
    vault: &[VaultRun],
) -> String {
    let find = |name: &str| runs.iter().find(|r| r.name == name);
    let mut s = String::new();
    s.push_str(&format!(
        "### Refresh sweep (Tesla, rotating single-use refresh tokens, concurrency {})\n\n",
        args.concurrency
    ));
    s.push_str("| contender | connections | runs | seconds | refreshes/s (median) | slowest–fastest run | CPU µs per refresh | peak memory (MiB) | answer → durable p50 / p99 ms |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in runs {
        let window = r
            .window_ms
            .map(|(p50, p99)| format!("{p50:.1} / {p99:.1}"))
            .unwrap_or_else(|| "–".into());
        s.push_str(&format!(
            "| {} | {} | {} | {:.2} | {:.0} | {:.0}–{:.0} | {} | {:.1} | {} |\n",
            r.name,
            r.n,
            r.rounds,
            r.seconds,
            r.per_second(),
            r.slowest,
            r.fastest,
            r.cpu_seconds
                .map(|c| format!("{:.0}", c * 1e6 / r.n as f64))
                .unwrap_or_else(|| "–".into()),
            r.peak_kib as f64 / 1024.0,
            window
        ));
    }
    let ratio = |a: &str, b: &str| match (find(a), find(b)) {
        (Some(a), Some(b)) => format!("{:.2}", a.per_second() / b.per_second()),
        _ => "n/a".into(),
    };
    s.push_str(&format!(
        "\nOnramp (real vault) ÷ Python peer: **{}×**; ÷ bare client: **{}** of the limit.\n",
        ratio("onramp", "python"),
        ratio("onramp", "bare"),
    ));
    s.push_str(
        "\n### What the vault costs\n\n| step | times | p50 ms | p99 ms |\n|---|---:|---:|---:|\n",
    );
    for v in vault {
        s.push_str(&format!(
            "| {} | {} | {:.4} | {:.4} |\n",
            v.step, v.times, v.p50_ms, v.p99_ms
        ));
    }
    s.push_str(&format!("\n### Store: {customers} customers, {connections} connections, {events} activity entries (p50 / p95 over repeated queries)\n\n| query | runs | p50 ms | p95 ms |\n|---|---:|---:|---:|\n"));
    for l in store {
        s.push_str(&format!(
            "| {} | {} | {:.2} | {:.2} |\n",
            l.query, l.runs, l.p50_ms, l.p95_ms
        ));
    }
    s.push_str("\n### Enrollment overhead (callback received → connection stored, sites discovered)\n\n| vault | sign-ins | total p50 ms | sandbox p50 ms | Onramp's overhead p50 ms | p95 ms |\n|---|---:|---:|---:|---:|---:|\n");
    for e in enroll {
        s.push_str(&format!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
            e.vault,
            e.sign_ins,
            e.total_ms_p50,
            e.vendor_ms_p50,
            e.overhead_ms_p50,
            e.overhead_ms_p95
        ));
    }
    s
}
