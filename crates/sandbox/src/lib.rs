//! Onramp's sandbox: simulated vendors as real HTTP servers on loopback.
//!
//! Each vendor is served at its own paths, with its own authentication, error shapes and rate
//! limits, so Onramp's clients are exercised exactly as against the vendor. Fleets and keys are
//! seeded and deterministic. Fault knobs (latency, 5xx, 429, malformed bodies) let tests show
//! Onramp reports clearly and loses nothing.

// Handlers short-circuit with a ready vendor response as the error value; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

mod fleet;
mod solaredge;
mod solis;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

pub use solis::{content_md5, sign};

pub struct SandboxConfig {
    pub host: IpAddr,
    /// 0 = any free port.
    pub solaredge_port: u16,
    pub solis_port: u16,
    pub seed: u64,
    /// Sites on the SolarEdge installer account.
    pub solaredge_sites: usize,
    /// Stations on the Solis installer portal account.
    pub solis_stations: usize,
    /// SolarEdge's budget per API key per minute.
    pub solaredge_per_minute: u32,
    /// Solis: this many calls per window per client IP (the vendor's rule: 3 per 5 s).
    pub solis_per_window: u32,
    pub solis_window: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            solaredge_port: 0,
            solis_port: 0,
            seed: 7,
            solaredge_sites: 320,
            solis_stations: 180,
            solaredge_per_minute: 100,
            solis_per_window: 3,
            solis_window: Duration::from_secs(5),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vendor {
    SolarEdge,
    Solis,
}

/// Faults injected into the following requests of one vendor.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    pub latency: Duration,
    /// The next N requests answer 503.
    pub fail_next_5xx: u32,
    /// The next N requests answer 429 with `Retry-After: 2`.
    pub rate_limit_next: u32,
    /// The next N requests answer 200 with a truncated JSON body.
    pub malformed_next: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct DemoSiteKey {
    pub api_key: String,
    pub site_id: u64,
    pub site_name: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct DemoSolisKey {
    pub key_id: String,
    pub key_secret: String,
    pub station_ids: Vec<String>,
}

/// The keys the sandbox accepts. Demo keys, not secrets.
#[derive(Clone, Debug, Serialize)]
pub struct Demo {
    pub solaredge_account_key: String,
    pub solaredge_site_keys: Vec<DemoSiteKey>,
    pub solis_account: DemoSolisKey,
    pub solis_customer_keys: Vec<DemoSolisKey>,
}

/// What a fault check decided for one request.
pub(crate) enum Injected {
    None,
    Unavailable,
    RateLimited,
    Malformed,
}

/// Per-vendor counters and fault knobs, shared with the handlers.
#[derive(Default)]
pub(crate) struct Knobs {
    faults: Mutex<Faults>,
    requests: AtomicU64,
}

impl Knobs {
    /// Counts the request, waits the configured latency, and takes one injected fault if armed.
    pub(crate) async fn before(&self) -> Injected {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let (latency, injected) = {
            let mut f = self.faults.lock().unwrap_or_else(|p| p.into_inner());
            let injected = if f.fail_next_5xx > 0 {
                f.fail_next_5xx -= 1;
                Injected::Unavailable
            } else if f.rate_limit_next > 0 {
                f.rate_limit_next -= 1;
                Injected::RateLimited
            } else if f.malformed_next > 0 {
                f.malformed_next -= 1;
                Injected::Malformed
            } else {
                Injected::None
            };
            (f.latency, injected)
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        injected
    }
}

struct Server {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn serve(addr: SocketAddr, router: axum::Router) -> std::io::Result<Server> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .await;
    });
    Ok(Server { addr, stop, task })
}

pub struct Sandbox {
    demo: Demo,
    solaredge: Server,
    solis: Server,
    solaredge_knobs: Arc<Knobs>,
    solis_knobs: Arc<Knobs>,
}

impl Sandbox {
    pub async fn start(cfg: SandboxConfig) -> std::io::Result<Sandbox> {
        let se = solaredge::State::seeded(&cfg);
        let so = solis::State::seeded(&cfg);
        let demo = Demo {
            solaredge_account_key: se.account_key.clone(),
            solaredge_site_keys: se.demo_keys(),
            solis_account: so.account_demo(),
            solis_customer_keys: so.customer_demos(),
        };
        let solaredge_knobs = se.knobs.clone();
        let solis_knobs = so.knobs.clone();
        let solaredge = serve(
            SocketAddr::new(cfg.host, cfg.solaredge_port),
            solaredge::router(se),
        )
        .await?;
        let solis = serve(SocketAddr::new(cfg.host, cfg.solis_port), solis::router(so)).await?;
        Ok(Sandbox {
            demo,
            solaredge,
            solis,
            solaredge_knobs,
            solis_knobs,
        })
    }

    /// SolarEdge's base URL; clients append `/v2/...`.
    pub fn solaredge_url(&self) -> String {
        format!("http://{}", self.solaredge.addr)
    }

    /// Solis's base URL; clients append `/v1/api/...`.
    pub fn solis_url(&self) -> String {
        format!("http://{}", self.solis.addr)
    }

    pub fn demo(&self) -> &Demo {
        &self.demo
    }

    fn knobs(&self, vendor: Vendor) -> &Knobs {
        match vendor {
            Vendor::SolarEdge => &self.solaredge_knobs,
            Vendor::Solis => &self.solis_knobs,
        }
    }

    pub fn set_faults(&self, vendor: Vendor, faults: Faults) {
        *self
            .knobs(vendor)
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = faults;
    }

    /// Requests received so far, rejected ones included.
    pub fn requests(&self, vendor: Vendor) -> u64 {
        self.knobs(vendor).requests.load(Ordering::SeqCst)
    }

    /// Endpoints and demo keys, for people.
    pub fn describe(&self) -> String {
        let d = &self.demo;
        let mut s = String::new();
        s.push_str("Onramp sandbox: simulated vendors on loopback\n\n");
        s.push_str(&format!(
            "SolarEdge Monitoring API V2  {}\n",
            self.solaredge_url()
        ));
        s.push_str(&format!(
            "  installer account key  {}\n",
            d.solaredge_account_key
        ));
        for k in &d.solaredge_site_keys {
            s.push_str(&format!(
                "  customer key           {}  (site {} {})\n",
                k.api_key, k.site_id, k.site_name
            ));
        }
        s.push_str(&format!(
            "\nSolis Cloud                  {}\n",
            self.solis_url()
        ));
        s.push_str(&format!(
            "  installer account      KeyId {}  KeySecret {}\n",
            d.solis_account.key_id, d.solis_account.key_secret
        ));
        for k in &d.solis_customer_keys {
            s.push_str(&format!(
                "  customer key           KeyId {}  KeySecret {}  ({} station(s))\n",
                k.key_id,
                k.key_secret,
                k.station_ids.len()
            ));
        }
        s
    }

    pub async fn shutdown(self) {
        for server in [self.solaredge, self.solis] {
            let _ = server.stop.send(());
            let _ = server.task.await;
        }
    }
}
