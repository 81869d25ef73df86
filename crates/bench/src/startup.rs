//! `startup`: the release app from launch to its first screen painted with data, and its idle
//! memory, with N connections stored; next to the floor (`bench/floor`: the smallest Tauri app,
//! built the same way). Both report "ui ready after" when their page has painted; the clock
//! here starts at spawn, so loading the binary and its libraries counts.
//!
//! Needs a display: `DISPLAY` if set, else a private Xvfb. Memory is the whole process tree
//! (the app and the WebKit processes it starts), as resident (RSS) and proportional (PSS: shared
//! pages split between their users) sizes, after the app has sat idle for a while.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;

#[derive(clap::Args, Clone)]
pub struct StartupArgs {
    /// The release app.
    #[arg(long, default_value = "target/release/onramp-app")]
    pub app: PathBuf,
    /// The floor app.
    #[arg(long, default_value = "target/release/onramp-floor")]
    pub floor: PathBuf,
    /// Connections stored before Onramp starts (three a customer, a site each).
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Launches of each app (alternating).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// How long each app sits idle before its memory is read.
    #[arg(long, default_value_t = 5)]
    pub idle_secs: u64,
}

#[derive(Debug, Serialize)]
pub struct Startup {
    pub app: String,
    pub runs: usize,
    pub ready_ms_p50: f64,
    pub ready_ms_max: f64,
    /// Idle memory of the process tree, medians over the runs.
    pub rss_mib: f64,
    pub pss_mib: f64,
    pub processes: usize,
}

/// A private X server for the run, unless one is set.
struct Display {
    server: Option<Child>,
    name: String,
}

impl Display {
    fn open() -> anyhow::Result<Display> {
        if let Ok(name) = std::env::var("DISPLAY") {
            if !name.is_empty() {
                return Ok(Display { server: None, name });
            }
        }
        let n = (90..200)
            .find(|n| !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists())
            .context("no free X display number")?;
        let name = format!(":{n}");
        let server = Command::new("Xvfb")
            .args([&name, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start Xvfb (apt install xvfb)")?;
        let socket = format!("/tmp/.X11-unix/X{n}");
        let t = Instant::now();
        while !Path::new(&socket).exists() {
            if t.elapsed() > Duration::from_secs(20) {
                bail!("Xvfb did not come up on {name}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Display {
            server: Some(server),
            name,
        })
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Some(s) = &mut self.server {
            let _ = s.kill();
            let _ = s.wait();
        }
    }
}

/// One launch: milliseconds to "ui ready", and the tree's memory after `idle`.
fn launch(
    bin: &Path,
    envs: &[(&str, String)],
    display: &str,
    idle: Duration,
) -> anyhow::Result<(f64, Memory)> {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .env("DISPLAY", display)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let out = child.stdout.take().context("stdout")?;
    let (tx, rx) = mpsc::channel();
    // ONRAMP_BENCH_ECHO=1: the app's log lines, with the milliseconds since spawn (where the
    // start-up time goes).
    let echo = std::env::var_os("ONRAMP_BENCH_ECHO").is_some();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if echo {
                eprintln!("  {:>6} ms | {line}", started.elapsed().as_millis());
            }
            if line.contains("ui ready after") {
                let _ = tx.send(());
            }
        }
    });
    let ready = rx.recv_timeout(Duration::from_secs(120));
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Err(e) = ready {
        let exited = child.try_wait().ok().flatten();
        kill_tree(&mut child);
        match exited {
            Some(status) => bail!(
                "{} exited before its UI was ready ({status})",
                bin.display()
            ),
            None if e == mpsc::RecvTimeoutError::Disconnected => {
                bail!(
                    "{} closed its output before its UI was ready",
                    bin.display()
                )
            }
            None => bail!("{} did not report ready within 2 minutes", bin.display()),
        }
    }
    std::thread::sleep(idle);
    let memory = tree_memory(child.id());
    kill_tree(&mut child);
    Ok((ms, memory))
}

#[derive(Clone, Copy, Default)]
struct Memory {
    rss_kib: u64,
    pss_kib: u64,
    processes: usize,
}

/// The process and every descendant (WebKit's web and network processes).
fn tree(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and parens.
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            if let Some(ppid) = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok())
            {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found
}

fn field_kib(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn tree_memory(root: u32) -> Memory {
    let mut m = Memory::default();
    for pid in tree(root) {
        let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
            continue;
        };
        m.rss_kib += field_kib(&rollup, "Rss:");
        m.pss_kib += field_kib(&rollup, "Pss:");
        m.processes += 1;
        // ONRAMP_BENCH_ECHO=1: which process holds the memory.
        if std::env::var_os("ONRAMP_BENCH_ECHO").is_some() {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            eprintln!(
                "  {:<22} PSS {:>4} MiB (anonymous {:>4} MiB)",
                comm.trim(),
                field_kib(&rollup, "Pss:") / 1024,
                field_kib(&rollup, "Pss_Anon:") / 1024
            );
        }
    }
    m
}

fn kill_tree(child: &mut Child) {
    let pids = tree(child.id());
    for pid in pids.iter().rev() {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    // The WebKit processes follow their parent; give them a moment to go.
    std::thread::sleep(Duration::from_millis(500));
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Launches the floor and Onramp in turn, `runs` times each. `data_dir` holds Onramp's seeded
/// store; its configuration is the default one (the Sandbox environment, as `make run` opens).
pub fn run(args: &StartupArgs, data_dir: &Path) -> anyhow::Result<Vec<Startup>> {
    for bin in [&args.app, &args.floor] {
        if !bin.exists() {
            bail!(
                "{} is missing: cargo build --release -p onramp-app -p onramp-floor",
                bin.display()
            );
        }
    }
    let display = Display::open()?;
    let onramp_env = vec![
        ("ONRAMP_DATA_DIR", data_dir.display().to_string()),
        (
            "ONRAMP_CONFIG",
            data_dir.join("onramp.toml").display().to_string(),
        ),
        (
            "ONRAMP_LOG",
            std::env::var("ONRAMP_LOG").unwrap_or_else(|_| "info".to_string()),
        ),
    ];
    let idle = Duration::from_secs(args.idle_secs);
    let mut results: Vec<(String, Vec<f64>, Vec<Memory>)> = vec![
        ("floor (minimal Tauri app)".into(), vec![], vec![]),
        (
            format!("Onramp, {} connections stored", args.connections),
            vec![],
            vec![],
        ),
    ];
    for _ in 0..args.runs.max(1) {
        for (i, (bin, envs)) in [(&args.floor, &vec![]), (&args.app, &onramp_env)]
            .into_iter()
            .enumerate()
        {
            // An app the display refused once (seen under heavy load) gets a second launch.
            let (ms, mem) = launch(bin, envs, &display.name, idle).or_else(|e| {
                eprintln!("startup: {e:#}; launching once more");
                launch(bin, envs, &display.name, idle)
            })?;
            eprintln!(
                "startup {}: ready after {ms:.0} ms, {} processes, RSS {} MiB, PSS {} MiB",
                results[i].0,
                mem.processes,
                mem.rss_kib / 1024,
                mem.pss_kib / 1024
            );
            results[i].1.push(ms);
            results[i].2.push(mem);
        }
    }
    Ok(results
        .into_iter()
        .map(|(app, ms, mem)| Startup {
            app,
            runs: ms.len(),
            ready_ms_max: ms.iter().copied().fold(0.0, f64::max),
            ready_ms_p50: median(ms),
            rss_mib: median(mem.iter().map(|m| m.rss_kib as f64 / 1024.0).collect()),
            pss_mib: median(mem.iter().map(|m| m.pss_kib as f64 / 1024.0).collect()),
            processes: mem.iter().map(|m| m.processes).max().unwrap_or(0),
        })
        .collect())
}
