//! The HTTP client every provider uses: timeouts, a user agent, per-vendor pacing, no
//! redirects, and the mapping of transport failures to Onramp's error codes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Code, Error, Result};

#[derive(Clone)]
pub struct Client {
    pub(crate) http: reqwest::Client,
    pacers: Arc<Mutex<HashMap<String, Arc<Pacer>>>>,
}

/// How long a vendor call may take in all, by default.
pub const TIMEOUT: Duration = Duration::from_secs(30);

impl Client {
    pub fn new() -> Result<Client> {
        Client::with_timeout(TIMEOUT)
    }

    /// A client whose calls give up after `timeout` (connecting: at most 10 s of it).
    pub fn with_timeout(timeout: Duration) -> Result<Client> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("Onramp/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .redirect(no_redirects())
            .build()
            .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            http,
            pacers: Arc::default(),
        })
    }

    /// The pacer for one vendor host: at most `max` calls per `window`.
    pub(crate) fn pacer(&self, key: &str, max: usize, window: Duration) -> Arc<Pacer> {
        let mut map = self.pacers.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key.to_string())
            .or_insert_with(|| Arc::new(Pacer::new(max, window)))
            .clone()
    }
}

/// Keeps a client under a vendor's "N calls per window" rule by waiting, not by failing.
pub struct Pacer {
    max: usize,
    window: Duration,
    sent: tokio::sync::Mutex<VecDeque<Instant>>,
}

impl Pacer {
    pub fn new(max: usize, window: Duration) -> Pacer {
        Pacer {
            max: max.max(1),
            window,
            sent: tokio::sync::Mutex::new(VecDeque::new()),
        }
    }

    /// Waits until one more call fits in the window, and records it.
    pub async fn acquire(&self) {
        let mut sent = self.sent.lock().await;
        loop {
            let now = Instant::now();
            while sent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= self.window)
            {
                sent.pop_front();
            }
            if sent.len() < self.max {
                sent.push_back(now);
                return;
            }
            let oldest = *sent.front().expect("window is full");
            // A little margin so the vendor's clock sees the window as passed.
            tokio::time::sleep_until(oldest + self.window + Duration::from_millis(50)).await;
        }
    }
}

/// Why a redirect was not followed (the error inside reqwest's redirect error).
#[derive(Debug)]
struct RedirectRefused;

impl std::fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("redirects are not followed")
    }
}

impl std::error::Error for RedirectRefused {}

/// Every request carries a secret (a key, a token, a client secret, a signature), so none is
/// ever sent on to wherever a 3xx points. Like `Policy::none()`, nothing is followed; unlike
/// it, the answer surfaces as a redirect error from `send()` (`is_redirect()`), which every
/// provider already maps with [`network`], instead of as a 3xx each one would read differently.
fn no_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| attempt.error(RedirectRefused))
}

/// A vendor answered with a redirect, which Onramp did not follow.
pub fn redirected(vendor: &str) -> Error {
    Error::new(
        Code::VendorError,
        format!(
            "{vendor} answered with a redirect to another address; Onramp does not follow redirects with your credentials. Nothing was saved."
        ),
    )
    .hint(format!(
        "Check {vendor}'s address in onramp.toml: it should be the vendor's API address itself. A network that redirects traffic (a captive portal, a proxy) can also cause this; try another network."
    ))
}

/// A transport failure: the vendor was not reached or did not answer in time, or it
/// answered with a redirect (never followed).
pub fn network(vendor: &str, err: &reqwest::Error) -> Error {
    if err.is_redirect() {
        return redirected(vendor);
    }
    let what = if err.is_timeout() {
        "did not answer in time"
    } else if err.is_connect() {
        "could not be reached"
    } else {
        "dropped the connection"
    };
    Error::new(
        Code::Network,
        format!("{vendor} {what}. Nothing was saved."),
    )
    .hint("Check the laptop's internet connection (hotspot, Wi-Fi), then try again.")
}

/// `Retry-After` in seconds (the delta-seconds form; an HTTP date counts from now).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs);
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .map(|d| d.as_secs() + 1)
            .unwrap_or(0),
    )
}

/// A vendor's JSON answer read into `T`, which must be a JSON object: serde would otherwise
/// read a struct from an array, field by field in order (`["token"]` as an access token), and
/// no vendor answers a token, a site list or an envelope that way.
pub fn json_object<T: serde::de::DeserializeOwned>(body: &[u8]) -> serde_json::Result<T> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => serde_json::from_slice(body),
        _ => Err(serde::de::Error::custom("the answer is not a JSON object")),
    }
}

/// A vendor's 5xx or unreadable answer.
pub fn vendor_failed(vendor: &str, detail: impl std::fmt::Display) -> Error {
    Error::new(
        Code::VendorError,
        format!("{vendor} answered with an error. Nothing was saved."),
    )
    .hint(format!(
        "This is on {vendor}'s side. Try again in a few minutes; if it persists, check {vendor}'s status page."
    ))
    .details(detail.to_string())
}

/// Reads a body with a size limit; vendors' list pages are small.
pub async fn read_body(vendor: &str, resp: reqwest::Response) -> Result<Vec<u8>> {
    const LIMIT: usize = 16 * 1024 * 1024;
    let mut resp = resp;
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| network(vendor, &e))? {
        if body.len() + chunk.len() > LIMIT {
            return Err(vendor_failed(vendor, "the answer was too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pacer_spreads_calls_over_the_window() {
        let p = Pacer::new(3, Duration::from_secs(5));
        let start = Instant::now();
        for _ in 0..3 {
            p.acquire().await;
        }
        assert!(start.elapsed() < Duration::from_millis(10));
        p.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(5));
    }

    /// A server on loopback that answers every connection with `answer`, counting them.
    async fn answering(answer: String) -> (String, Arc<std::sync::atomic::AtomicU64>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let _ = conn.write_all(answer.as_bytes()).await;
                let _ = conn.shutdown().await;
            }
        });
        (url, hits)
    }

    #[tokio::test]
    async fn a_redirect_is_never_followed_and_reads_as_the_vendors() {
        let (target, target_hits) =
            answering("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}".into())
                .await;
        for status in [
            "302 Found",
            "307 Temporary Redirect",
            "308 Permanent Redirect",
        ] {
            let (vendor_url, vendor_hits) = answering(format!(
                "HTTP/1.1 {status}\r\nlocation: {target}/elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            ))
            .await;
            let client = Client::new().unwrap();
            let err = client
                .http
                .post(format!("{vendor_url}/oauth2/token"))
                .form(&[("client_secret", "s3cret"), ("refresh_token", "rt")])
                .send()
                .await
                .unwrap_err();
            let e = network("Tesla", &err);
            assert_eq!(e.code, Code::VendorError, "{status}: {e:?}");
            assert!(
                e.message.starts_with("Tesla answered with a redirect"),
                "{status}: {}",
                e.message
            );
            assert!(!e.message.contains("s3cret") && !e.message.contains(&target));
            assert!(e.hint.is_some());
            assert_eq!(vendor_hits.load(std::sync::atomic::Ordering::SeqCst), 1);
        }
        assert_eq!(
            target_hits.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "the redirect target received nothing"
        );
    }

    #[test]
    fn retry_after_reads_seconds() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "17".parse().unwrap());
        assert_eq!(retry_after(&h), Some(17));
        h.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
