//! Onramp's sandbox: simulated vendors as real HTTP servers on loopback.
//!
//! Each vendor is served at its own paths, with its own authentication, error shapes and rate
//! limits, so Onramp's clients are exercised exactly as against the vendor. Fleets and keys are
//! seeded and deterministic. Fault knobs (latency, 5xx, 429, malformed bodies) let tests show
//! Onramp reports clearly and loses nothing.

// Handlers short-circuit with a ready vendor response as the error value; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

pub mod browser;
mod derapi;
mod directory;
pub mod espi;
mod faults;
mod fleet;
mod ledger;
mod oauth;
mod pelm;
pub mod shared;
mod signing;
mod solaredge;
mod solis;
mod store;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::directory::{Directory, EnphasePartner, OAuthApp};
pub use crate::faults::Faults;
use crate::faults::Knobs;
pub use crate::oauth::{
    LostAnswer, OAuthClient, OAuthVendor, RedirectAt, RefreshStats, TokenRequest,
};
pub use crate::shared::SharedSandbox;
pub use crate::signing::{content_md5, sign};
pub use crate::store::FILE as KEPT_FILE;

/// What to serve where. Everything served is generated from `seed`.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Address to bind; loopback by default.
    pub host: IpAddr,
    /// 0 = any free port.
    pub solaredge_port: u16,
    /// 0 = any free port.
    pub solis_port: u16,
    /// Fleet and key generation seed: the same seed gives the same keys and fleets.
    pub seed: u64,
    /// Sites on the SolarEdge installer account.
    pub solaredge_sites: usize,
    /// Stations on the Solis installer portal account.
    pub solis_stations: usize,
    /// SolarEdge's budget per API key per minute (fixed minute from the key's first call).
    pub solaredge_per_minute: u32,
    /// Solis: this many calls per window per client IP (the vendor's rule: 3 per 5 s).
    pub solis_per_window: u32,
    /// Solis's rate-limit window.
    pub solis_window: Duration,
    /// Redirect URIs registered for every OAuth app, besides any port on 127.0.0.1 (RFC 8252).
    pub oauth_redirect_uris: Vec<String>,
    /// How long an authorization code may wait for its exchange.
    pub oauth_code_ttl: Duration,
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
            oauth_redirect_uris: vec!["onramp://oauth/callback".to_string()],
            oauth_code_ttl: Duration::from_secs(60),
            solis_per_window: 3,
            solis_window: Duration::from_secs(5),
        }
    }
}

/// A simulated vendor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Vendor {
    SolarEdge,
    Solis,
}

/// A Solis KeyId/KeySecret pair and the stations it sees.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DemoSolisKey {
    pub key_id: String,
    pub key_secret: String,
    pub station_ids: Vec<String>,
}

/// The keys the sandbox accepts. Demo keys, not secrets. SolarEdge V2 has no per-site key: a
/// homeowner shares their site by signing in (Site Access), so its only key is the company's.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Demo {
    /// The company's Monitoring API V2 key (Fleet Access): every site of the account.
    pub solaredge_account_key: String,
    pub solis_account: DemoSolisKey,
    pub solis_customer_keys: Vec<DemoSolisKey>,
}

/// A demo credential with a label for people, as the app and the CLI list them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabelledKey {
    pub vendor: Vendor,
    pub label: String,
    pub api_key: Option<String>,
    pub key_id: Option<String>,
    pub key_secret: Option<String>,
}

impl Demo {
    /// Every demo credential, the installer accounts first; labels are unique.
    pub fn keys(&self) -> Vec<LabelledKey> {
        let api_key = |label: String, key: &str| LabelledKey {
            vendor: Vendor::SolarEdge,
            label,
            api_key: Some(key.to_string()),
            key_id: None,
            key_secret: None,
        };
        let pair = |label: String, k: &DemoSolisKey| LabelledKey {
            vendor: Vendor::Solis,
            label,
            api_key: None,
            key_id: Some(k.key_id.clone()),
            key_secret: Some(k.key_secret.clone()),
        };
        let mut keys = vec![api_key(
            "Installer account key (fleet API key)".into(),
            &self.solaredge_account_key,
        )];
        keys.push(pair("Installer account key".into(), &self.solis_account));
        keys.extend(self.solis_customer_keys.iter().enumerate().map(|(i, k)| {
            let n = k.station_ids.len();
            pair(
                format!(
                    "Customer key {} ({n} station{})",
                    i + 1,
                    if n == 1 { "" } else { "s" }
                ),
                k,
            )
        }));
        keys
    }
}

/// One vendor's server, running until `stop` fires or is dropped.
struct Server {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn bind(host: IpAddr, port: u16) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(SocketAddr::new(host, port)).await
}

fn serve(listener: tokio::net::TcpListener, router: axum::Router) -> std::io::Result<Server> {
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

/// A server whose remembered port was taken at start, and the port it listens on instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MovedPort {
    /// `tesla`, `sma`, `solis`, ... (see the `ports` table of the sandbox's file).
    pub server: String,
    pub from: u16,
    pub to: u16,
}

/// Where each server listens.
enum Ports {
    /// Any free port (an in-memory sandbox).
    Any,
    /// The data folder's: each server's remembered port, or a new one remembered from then on.
    Kept {
        remembered: HashMap<String, u16>,
        chosen: HashMap<String, u16>,
        moved: Vec<MovedPort>,
        /// A remembered port still held is waited for until then: the process that served
        /// before may be letting go of it.
        patient_until: tokio::time::Instant,
    },
}

/// The ports a kept sandbox picks, once: below every desktop system's ephemeral range (Linux
/// starts it at 32768, macOS and Windows at 49152), so no outgoing connection takes them.
const KEPT_PORTS: std::ops::Range<u16> = 20_000..32_000;

impl Ports {
    async fn listen(
        &mut self,
        host: IpAddr,
        server: &str,
        fixed: u16,
    ) -> std::io::Result<tokio::net::TcpListener> {
        let Ports::Kept {
            remembered,
            chosen,
            moved,
            patient_until,
        } = self
        else {
            return bind(host, fixed).await;
        };
        let listener = if fixed != 0 {
            bind(host, fixed).await?
        } else if let Some(&port) = remembered.get(server) {
            loop {
                match bind(host, port).await {
                    Ok(l) => break l,
                    Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                        if tokio::time::Instant::now() < *patient_until {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                        let l = pick(host).await?;
                        let to = l.local_addr()?.port();
                        tracing::warn!(
                            server,
                            from = port,
                            to,
                            "a sandbox port was taken; it moved"
                        );
                        moved.push(MovedPort {
                            server: server.to_string(),
                            from: port,
                            to,
                        });
                        break l;
                    }
                    Err(e) => return Err(e),
                }
            }
        } else {
            pick(host).await?
        };
        chosen.insert(server.to_string(), listener.local_addr()?.port());
        Ok(listener)
    }
}

/// A port for a kept server: a free one in [`KEPT_PORTS`], else any free one.
async fn pick(host: IpAddr) -> std::io::Result<tokio::net::TcpListener> {
    use rand::Rng;
    for _ in 0..64 {
        let port = rand::thread_rng().gen_range(KEPT_PORTS);
        if let Ok(l) = bind(host, port).await {
            return Ok(l);
        }
    }
    bind(host, 0).await
}

/// A server's name in the sandbox's file (its port, its books).
fn server_name(vendor: OAuthVendor) -> &'static str {
    match vendor {
        OAuthVendor::Tesla => "tesla",
        OAuthVendor::Enphase => "enphase",
        OAuthVendor::Sma => "sma",
        OAuthVendor::SolarEdgeSite => "solaredge-site",
        OAuthVendor::UtilityApi => "utilityapi",
        OAuthVendor::Metry => "metry",
    }
}

/// Puts back a vendor's books as last saved, and makes every answer of `router` wait until
/// what it changed is saved.
async fn kept(
    router: axum::Router,
    store: &Arc<store::VendorStore>,
    vendor: &str,
    load: impl FnOnce(&str) -> serde_json::Result<()>,
    save: impl Fn() -> String + Send + Sync + 'static,
    restore: impl Fn(&str) + Send + Sync + 'static,
) -> std::io::Result<axum::Router> {
    let last = store.books(vendor).await?.unwrap_or_default();
    if !last.is_empty() {
        load(&last).map_err(|e| {
            std::io::Error::other(format!(
                "the {vendor} books in {} cannot be read ({e}); remove the file to start the \
                 sandbox afresh (every Sandbox connection will need connecting again)",
                store.path().display()
            ))
        })?;
    }
    let durable = Arc::new(store::Durable {
        vendor: vendor.to_string(),
        store: store.clone(),
        save: Box::new(save),
        restore: Box::new(restore),
        last: tokio::sync::Mutex::new(last),
    });
    Ok(router.layer(axum::middleware::from_fn_with_state(
        durable,
        store::durable,
    )))
}

impl Server {
    /// Stops accepting, lets requests in flight finish (for a few seconds at most).
    async fn stop(mut self) {
        let _ = self.stop.send(());
        if tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

/// Both simulated vendors, serving until [`Sandbox::shutdown`] or drop.
pub struct Sandbox {
    ledger: ledger::Ledger,
    demo: Demo,
    solaredge: Server,
    solis: Server,
    oauth: Vec<(OAuthVendor, Arc<oauth::Server>, Server)>,
    pelm: (Arc<pelm::Server>, Server),
    derapi: (Arc<derapi::Server>, Server),
    solaredge_knobs: Arc<Knobs>,
    solis_knobs: Arc<Knobs>,
    /// Where armed redirects point: counts every request that reaches it.
    elsewhere: (Arc<AtomicU64>, Server),
    ports: Ports,
}

/// The redirect target: answers 200 to anything, and counts.
fn elsewhere_router(hits: Arc<AtomicU64>) -> axum::Router {
    axum::Router::new().fallback(move || {
        let hits = hits.clone();
        async move {
            hits.fetch_add(1, Ordering::SeqCst);
            axum::Json(serde_json::json!({"access_token": "elsewhere", "response": []}))
        }
    })
}

impl Sandbox {
    /// Seeds both fleets from `cfg.seed` and starts both servers, in memory: everything the
    /// vendors issue is forgotten when the sandbox stops (tests' isolation).
    pub async fn start(cfg: SandboxConfig) -> std::io::Result<Sandbox> {
        Sandbox::launch(cfg, Ports::Any, None).await
    }

    /// Starts the vendors kept in `store` (persistent mode): the seed recorded there, each
    /// server on its remembered port, every vendor's books as last saved, and each answer saved
    /// before it goes out. Only one process may serve a store at a time ([`shared`]).
    pub(crate) async fn start_kept(
        mut cfg: SandboxConfig,
        store: Arc<store::VendorStore>,
        patience: Duration,
    ) -> std::io::Result<Sandbox> {
        cfg.seed = store.seed(cfg.seed).await?;
        let ports = Ports::Kept {
            remembered: store.ports().await?,
            chosen: HashMap::new(),
            moved: Vec::new(),
            patient_until: tokio::time::Instant::now() + patience,
        };
        let sb = Sandbox::launch(cfg, ports, Some(store.clone())).await?;
        if let Ports::Kept { chosen, .. } = &sb.ports {
            store.save_ports(chosen).await?;
        }
        let directory = serde_json::to_string(&sb.directory()).map_err(std::io::Error::other)?;
        store.set_meta("directory", &directory).await?;
        Ok(sb)
    }

    async fn launch(
        cfg: SandboxConfig,
        mut ports: Ports,
        store: Option<Arc<store::VendorStore>>,
    ) -> std::io::Result<Sandbox> {
        let se = solaredge::State::seeded(&cfg);
        let so = solis::State::seeded(&cfg);
        let demo = Demo {
            solaredge_account_key: se.account_key.clone(),
            solis_account: so.account_demo(),
            solis_customer_keys: so.customer_demos(),
        };
        let solaredge_knobs = Arc::new(Knobs::default());
        let solis_knobs = Arc::new(Knobs::default());
        let solaredge = serve(
            ports
                .listen(cfg.host, "solaredge", cfg.solaredge_port)
                .await?,
            solaredge::router(se, solaredge_knobs.clone()),
        )?;
        let solis = serve(
            ports.listen(cfg.host, "solis", cfg.solis_port).await?,
            solis::router(so, solis_knobs.clone()),
        )?;
        let hits = Arc::new(AtomicU64::new(0));
        let elsewhere = serve(
            Ports::Any.listen(cfg.host, "elsewhere", 0).await?,
            elsewhere_router(hits.clone()),
        )?;
        let elsewhere_url = format!("http://{}", elsewhere.addr);
        let ledger = ledger::Ledger::default();
        let mut oauth = Vec::new();
        let utility_vendors = [OAuthVendor::UtilityApi, OAuthVendor::Metry];
        for vendor in OAuthVendor::ALL.into_iter().chain(utility_vendors) {
            let mut registered = cfg.oauth_redirect_uris.clone();
            let state = oauth::Server::new(
                vendor,
                cfg.seed,
                Vec::new(),
                cfg.oauth_code_ttl,
                ledger.clone(),
            );
            let name = server_name(vendor);
            let mut router = oauth::router(state.clone());
            if let Some(store) = &store {
                let (save, restore) = (state.clone(), state.clone());
                router = kept(
                    router,
                    store,
                    &format!("oauth:{name}"),
                    |json| state.restore_books(json),
                    move || save.saved_books(),
                    move |json| {
                        let _ = restore.restore_books(json);
                    },
                )
                .await?;
            }
            let server = serve(ports.listen(cfg.host, name, 0).await?, router)?;
            let base = format!("http://{}", server.addr);
            if vendor == OAuthVendor::Enphase {
                // Enphase's default redirect page, which shows the code to paste.
                registered.push(format!("{base}/oauth/redirect_uri"));
            }
            state.set_registered(registered);
            if vendor == OAuthVendor::Tesla {
                // Tesla's sign-in names its issuer (its OpenID issuer, auth host + /oauth2/v3).
                state.set_issuer(Some(format!("{base}/oauth2/v3")));
            }
            *state.redirect_to.lock().unwrap_or_else(|p| p.into_inner()) = elsewhere_url.clone();
            *state.base_url.lock().unwrap_or_else(|p| p.into_inner()) = base;
            oauth.push((vendor, state, server));
        }
        let pelm_state =
            pelm::Server::new(cfg.seed, cfg.oauth_redirect_uris.clone(), ledger.clone());
        let mut pelm_router = pelm::router(pelm_state.clone());
        if let Some(store) = &store {
            let (save, restore) = (pelm_state.clone(), pelm_state.clone());
            pelm_router = kept(
                pelm_router,
                store,
                "pelm",
                |json| pelm_state.restore_books(json),
                move || save.saved_books(),
                move |json| {
                    let _ = restore.restore_books(json);
                },
            )
            .await?;
        }
        let pelm_server = serve(ports.listen(cfg.host, "pelm", 0).await?, pelm_router)?;
        let derapi_state = derapi::Server::new(cfg.seed, ledger.clone());
        let mut derapi_router = derapi::router(derapi_state.clone());
        if let Some(store) = &store {
            let (save, restore) = (derapi_state.clone(), derapi_state.clone());
            derapi_router = kept(
                derapi_router,
                store,
                "derapi",
                |json| derapi_state.restore_books(json),
                move || save.saved_books(),
                move |json| {
                    let _ = restore.restore_books(json);
                },
            )
            .await?;
        }
        let derapi_server = serve(ports.listen(cfg.host, "derapi", 0).await?, derapi_router)?;
        Ok(Sandbox {
            ledger,
            demo,
            oauth,
            pelm: (pelm_state, pelm_server),
            derapi: (derapi_state, derapi_server),
            solaredge,
            solis,
            solaredge_knobs,
            solis_knobs,
            elsewhere: (hits, elsewhere),
            ports,
        })
    }

    /// The servers whose remembered port was taken by something else at start, and where each
    /// listens now (persistent mode; connections made before that point at the old port).
    pub fn moved_ports(&self) -> &[MovedPort] {
        match &self.ports {
            Ports::Kept { moved, .. } => moved,
            Ports::Any => &[],
        }
    }

    /// Everything a client needs to talk to this sandbox: endpoints, demo apps and keys.
    pub fn directory(&self) -> Directory {
        Directory {
            solaredge_url: self.solaredge_url(),
            solis_url: self.solis_url(),
            demo: self.demo.clone(),
            oauth: self
                .oauth
                .iter()
                .map(|(v, state, _)| OAuthApp {
                    vendor: *v,
                    url: self.oauth_url(*v),
                    client: state.client.clone(),
                    public_client: state.public_client.clone(),
                    issuer: state.issuer(),
                })
                .collect(),
            pelm_url: self.pelm_url(),
            pelm_client: self.pelm_client(),
            derapi_url: self.derapi_url(),
            derapi_client: self.derapi_client(),
            derapi_vendor_credentials: self.derapi_vendor_credentials(),
            enphase_partner: self.enphase_partner(),
        }
    }

    /// SolarEdge's base URL; clients append `/v2/...`.
    pub fn solaredge_url(&self) -> String {
        format!("http://{}", self.solaredge.addr)
    }

    /// Solis's base URL; clients append `/v1/api/...`.
    pub fn solis_url(&self) -> String {
        format!("http://{}", self.solis.addr)
    }

    /// The keys both servers accept.
    pub fn demo(&self) -> &Demo {
        &self.demo
    }

    fn knobs(&self, vendor: Vendor) -> &Knobs {
        match vendor {
            Vendor::SolarEdge => &self.solaredge_knobs,
            Vendor::Solis => &self.solis_knobs,
        }
    }

    /// Arms faults for the following requests of `vendor`, replacing any still armed.
    pub fn set_faults(&self, vendor: Vendor, faults: Faults) {
        self.knobs(vendor).set(faults);
    }

    /// Requests received so far, rejected ones included.
    pub fn requests(&self, vendor: Vendor) -> u64 {
        self.knobs(vendor).requests()
    }

    /// Endpoints and demo keys, for people.
    pub fn describe(&self) -> String {
        self.directory().describe()
    }

    /// Endpoints, demo keys and demo apps as JSON, for clients written elsewhere (the contract
    /// tests in tests/contract): nothing here is a real secret.
    pub fn describe_json(&self) -> serde_json::Value {
        self.directory().describe_json()
    }

    /// Stops every server.
    pub async fn shutdown(self) {
        for (_, _, server) in self.oauth {
            server.stop().await;
        }
        self.pelm.1.stop().await;
        self.derapi.1.stop().await;
        self.elsewhere.1.stop().await;
        tokio::join!(self.solaredge.stop(), self.solis.stop());
    }

    fn oauth(&self, vendor: OAuthVendor) -> (&Arc<oauth::Server>, &Server) {
        let (_, state, server) = self
            .oauth
            .iter()
            .find(|(v, _, _)| *v == vendor)
            .expect("every OAuth vendor is served");
        (state, server)
    }

    /// An OAuth vendor's base URL: its authorize, token and data paths hang off it.
    pub fn oauth_url(&self, vendor: OAuthVendor) -> String {
        format!("http://{}", self.oauth(vendor).1.addr)
    }

    /// The app registration (client id and secret) the vendor's sandbox accepts.
    pub fn oauth_client(&self, vendor: OAuthVendor) -> OAuthClient {
        self.oauth(vendor).0.client.clone()
    }

    /// The client id of the vendor's public client (PKCE only, no secret), where the vendor
    /// allows one ([`OAuthVendor::allows_public_client`]: Tesla). Its authorize requests must
    /// carry a PKCE challenge; its token requests must carry no secret.
    pub fn oauth_public_client(&self, vendor: OAuthVendor) -> Option<String> {
        self.oauth(vendor).0.public_client.clone()
    }

    /// The issuer the vendor's authorization answers name (RFC 9207), if they name one: Tesla's
    /// (`{oauth_url}/oauth2/v3`, sent as Tesla's `issuer` parameter) from the start; any other
    /// vendor only once [`Sandbox::set_authorization_issuer`] gives it one (sent as `iss`).
    pub fn oauth_issuer(&self, vendor: OAuthVendor) -> Option<String> {
        self.oauth(vendor).0.issuer()
    }

    /// The issuer the vendor's authorization answers name from now on (None: none), e.g.
    /// another server's, to play a mix-up.
    pub fn set_authorization_issuer(&self, vendor: OAuthVendor, issuer: Option<String>) {
        self.oauth(vendor).0.set_issuer(issuer);
    }

    /// Every access token the vendor issued so far expires now, as if its lifetime had passed
    /// (the data API answers 401 to it); refresh tokens still work.
    pub fn expire_access_tokens(&self, vendor: OAuthVendor) {
        self.oauth(vendor).0.expire_access_tokens();
    }

    /// The test account declines (`access_denied`) from now on, or consents again.
    pub fn set_decline(&self, vendor: OAuthVendor, decline: bool) {
        self.oauth(vendor).0.set_decline(decline);
    }

    /// Tesla: the test account lives in another region, so the default API answers 421 and
    /// `/api/1/users/region` names the right one.
    pub fn set_tesla_other_region(&self, other: bool) {
        self.oauth(OAuthVendor::Tesla).0.set_other_region(other);
    }

    /// The vendor's next `times` token requests fail: 429 (with `Retry-After: 30`), a 5xx, or
    /// with 400 the vendor's answer for a revoked grant (`invalid_grant`; Tesla answers 401
    /// `login_required`, as it documents).
    pub fn set_token_fault(&self, vendor: OAuthVendor, status: u16, times: u32) {
        self.oauth(vendor).0.set_token_fault(status, times);
    }

    /// The vendor's next `times` successful token answers are lost on the way (truncated JSON,
    /// or a connection reset after the headers): the exchange happened, the client never has it.
    /// Presenting the old refresh token again is then a retry only inside the vendor's reuse
    /// window ([`Sandbox::set_reuse_window`]); with the default (zero) it is a replay.
    pub fn set_lost_token_answers(&self, vendor: OAuthVendor, how: LostAnswer, times: u32) {
        self.oauth(vendor).0.set_lost_answers(how, times);
    }

    /// Grants for `n` customers who signed in with `scope` (include `offline_access`), as the
    /// refresh tokens a client would hold: for benchmark clients that bring their own tokens.
    pub fn issue_grants(&self, vendor: OAuthVendor, scope: &str, n: usize) -> Vec<String> {
        self.oauth(vendor).0.issue_grants(scope, n)
    }

    /// How long the vendor's server has spent answering requests so far (its own share of a
    /// client's wait; the body of a streamed answer is not counted).
    pub fn busy_time(&self, vendor: OAuthVendor) -> std::time::Duration {
        self.oauth(vendor).0.busy()
    }

    /// The vendor's token endpoint waits this long before answering (zero: at once).
    pub fn set_token_latency(&self, vendor: OAuthVendor, latency: std::time::Duration) {
        self.oauth(vendor).0.set_token_latency(latency);
    }

    /// Arms faults (5xx, 429, truncated JSON, latency) on the vendor's data API, replacing any
    /// still armed. Sign-in and the token endpoint are not affected.
    pub fn set_api_faults(&self, vendor: OAuthVendor, faults: Faults) {
        self.oauth(vendor).0.api_knobs.set(faults);
    }

    /// Requests the vendor's data API received, rejected ones included.
    pub fn api_requests(&self, vendor: OAuthVendor) -> u64 {
        self.oauth(vendor).0.api_knobs.requests()
    }

    /// Every secret this sandbox issued or accepts: the tokens and codes it handed out so far,
    /// the PKCE verifiers presented to it,
    /// every app's client secret and API key, the partner account, and the demo keys. None of
    /// them may appear anywhere Onramp writes or shows outside the keyring.
    pub fn issued_secrets(&self) -> Vec<String> {
        let mut all = self.ledger.all();
        for (_, state, _) in &self.oauth {
            all.push(state.client.client_secret.clone());
            all.extend(state.client.api_key.clone());
        }
        all.push(self.pelm.0.secret.clone());
        all.push(self.derapi.0.secret.clone());
        let p = self.enphase_partner();
        all.extend([p.client_secret, p.api_key, p.password]);
        let d = &self.demo;
        all.push(d.solaredge_account_key.clone());
        all.push(d.solis_account.key_secret.clone());
        all.extend(d.solis_customer_keys.iter().map(|k| k.key_secret.clone()));
        all
    }

    /// Every PKCE verifier presented at the sandbox's token endpoints (also among
    /// [`Self::issued_secrets`]).
    pub fn pkce_verifiers(&self) -> Vec<String> {
        self.ledger.verifiers()
    }

    /// Every OAuth `state` the sandbox's authorization pages were sent. A `state` may travel in
    /// the authorize and callback addresses (that is its job) and nowhere else.
    pub fn sign_in_states(&self) -> Vec<String> {
        self.ledger.states()
    }

    /// Requests the vendor's token endpoint received, rejected ones included.
    pub fn token_requests(&self, vendor: OAuthVendor) -> u64 {
        self.oauth(vendor).0.token_requests()
    }

    pub fn token_log(&self, vendor: OAuthVendor) -> Vec<TokenRequest> {
        self.oauth(vendor).0.token_log()
    }

    /// UtilityAPI Green Button: utilities `demo` (electric and gas) and `demo_gas` hang off it.
    pub fn utilityapi_url(&self) -> String {
        self.oauth_url(OAuthVendor::UtilityApi)
    }

    pub fn utilityapi_client(&self) -> OAuthClient {
        self.oauth_client(OAuthVendor::UtilityApi)
    }

    pub fn set_utilityapi_decline(&self, decline: bool) {
        self.set_decline(OAuthVendor::UtilityApi, decline);
    }

    pub fn utilityapi_token_log(&self) -> Vec<TokenRequest> {
        self.token_log(OAuthVendor::UtilityApi)
    }

    /// What the `demo` utility's feed holds, per meter and local month, as generated.
    pub fn utilityapi_expected(&self) -> Vec<espi::ExpectedSeries> {
        self.oauth(OAuthVendor::UtilityApi).0.feed("demo").1
    }

    pub fn metry_url(&self) -> String {
        self.oauth_url(OAuthVendor::Metry)
    }

    pub fn metry_client(&self) -> OAuthClient {
        self.oauth_client(OAuthVendor::Metry)
    }

    pub fn set_metry_decline(&self, decline: bool) {
        self.set_decline(OAuthVendor::Metry, decline);
    }

    /// Each Metry meter's 2025 monthly kWh.
    pub fn metry_expected_2025(&self) -> Vec<(String, [f64; 12])> {
        let s = self.oauth(OAuthVendor::Metry).0;
        s.metry_meter_ids()
            .into_iter()
            .map(|m| {
                let v = oauth::metry_months(s, &m);
                (m, v)
            })
            .collect()
    }

    /// Pelm's API (`/auth/...`, `/accounts`).
    pub fn pelm_url(&self) -> String {
        format!("http://{}", self.pelm.1.addr)
    }

    /// Pelm's hosted Connect page.
    pub fn pelm_connect_url(&self) -> String {
        format!("{}/connect/", self.pelm_url())
    }

    /// (client id, secret) for the `Pelm-Client-Id` and `Pelm-Secret` headers.
    pub fn pelm_client(&self) -> (String, String) {
        (self.pelm.0.client_id.clone(), self.pelm.0.secret.clone())
    }

    /// The `user_id`s with a completed Pelm connection.
    pub fn pelm_users(&self) -> Vec<String> {
        self.pelm.0.users()
    }

    pub fn pelm_token_requests(&self) -> u64 {
        self.pelm
            .0
            .token_requests
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Derapi's auth and API host.
    pub fn derapi_url(&self) -> String {
        format!("http://{}", self.derapi.1.addr)
    }

    pub fn derapi_client(&self) -> (String, String) {
        (
            self.derapi.0.client_id.clone(),
            self.derapi.0.secret.clone(),
        )
    }

    /// The vendor credentials stored at the sandbox's Derapi account, (Derapi vendor name,
    /// credentials id): what each Join entry for those vendors must name.
    pub fn derapi_vendor_credentials(&self) -> Vec<(String, String)> {
        self.derapi.0.vendor_credentials()
    }

    /// Derapi cannot reach `vendor` from now on (its site list names it in `errors` with `why`),
    /// or can again (`None`).
    pub fn set_derapi_unreachable(&self, vendor: &str, why: Option<&str>) {
        self.derapi.0.set_unreachable(vendor, why);
    }

    /// The next Derapi API call answers this status (502, 504) once.
    pub fn set_derapi_fault(&self, status: Option<u16>) {
        self.derapi.0.set_fault(status);
    }

    /// The Enphase partner plan: the partner application and the Enlighten user it signs in as.
    pub fn enphase_partner(&self) -> EnphasePartner {
        let p = self
            .oauth(OAuthVendor::Enphase)
            .0
            .partner
            .as_ref()
            .expect("Enphase has a partner account");
        EnphasePartner {
            client_id: p.app.client_id.clone(),
            client_secret: p.app.client_secret.clone(),
            api_key: p.app.api_key.clone().unwrap_or_default(),
            username: p.username.clone(),
            password: p.password.clone(),
        }
    }

    /// How long a used refresh token may be presented again (a retry whose answer was lost),
    /// counted from its first use, while its successor is unused: answered afresh, the
    /// successor voided. Zero (every vendor's default, see
    /// [`OAuthVendor::default_reuse_window`]): strictly single use, so presenting a used refresh
    /// token is a replay that revokes the grant. Past the window, or once the successor was
    /// used (its refresh token presented, or its access token used), a replay too.
    pub fn set_reuse_window(&self, vendor: OAuthVendor, window: Duration) {
        self.oauth(vendor).0.set_reuse_window(window);
    }

    /// What the vendor's token endpoint did with refresh requests so far.
    pub fn refresh_stats(&self, vendor: OAuthVendor) -> RefreshStats {
        self.oauth(vendor).0.refresh_stats()
    }

    /// Whether presenting `refresh_token` now would be answered with tokens: issued by this
    /// vendor, current (or a retry the reuse window still allows), unexpired, and its grant not
    /// revoked. Spends nothing and counts nothing.
    pub fn grant_alive(&self, vendor: OAuthVendor, refresh_token: &str) -> bool {
        self.oauth(vendor).0.grant_alive(refresh_token)
    }

    /// The vendor's token revocation endpoint, at the vendor's own path, if the vendor documents
    /// one (SolarEdge V2 only: see [`OAuthVendor::revoke_path`]).
    pub fn revoke_url(&self, vendor: OAuthVendor) -> Option<String> {
        vendor
            .revoke_path()
            .map(|path| format!("{}{path}", self.oauth_url(vendor)))
    }

    /// Revocation requests the vendor accepted (answered 200, unknown tokens included).
    pub fn revocations(&self, vendor: OAuthVendor) -> u64 {
        self.oauth(vendor).0.revocations()
    }

    /// The vendor's next `times` token requests (or data API requests) answer `status` (301,
    /// 302, 303, 307 or 308) with `Location:` [`Sandbox::elsewhere_url`]`/elsewhere`, a
    /// loopback server that counts what reaches it. A client that follows carries its request
    /// there (307/308: the body too, secrets included).
    pub fn set_redirects(&self, vendor: OAuthVendor, at: RedirectAt, status: u16, times: u32) {
        assert!(
            matches!(status, 301 | 302 | 303 | 307 | 308),
            "{status} is not a redirect"
        );
        self.oauth(vendor).0.set_redirects(at, status, times);
    }

    /// The redirect target's base URL (another port on loopback).
    pub fn elsewhere_url(&self) -> String {
        format!("http://{}", self.elsewhere.1.addr)
    }

    /// Requests that reached the redirect target.
    pub fn elsewhere_requests(&self) -> u64 {
        self.elsewhere.0.load(Ordering::SeqCst)
    }

    /// The ids of the systems the vendor's test account owns.
    pub fn oauth_sites(&self, vendor: OAuthVendor) -> Vec<String> {
        self.oauth(vendor).0.site_ids()
    }
}
