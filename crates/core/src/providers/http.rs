//! The HTTP client every provider uses: timeouts, a user agent, per-vendor pacing, and the
//! mapping of transport failures to Onramp's error codes.

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

/// A transport failure: the vendor was not reached or did not answer in time.
pub fn network(vendor: &str, err: &reqwest::Error) -> Error {
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

/// A vendor's 5xx or unreadable answer.
pub fn vendor_failed(vendor: &str, detail: impl std::fmt::Display) -> Error {
    Error::new(
        Code::VendorError,
        format!("{vendor} answered with an error: {detail}. Nothing was saved."),
    )
    .hint(format!(
        "This is on {vendor}'s side. Try again in a few minutes; if it persists, check the vendor's status page."
    ))
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

    #[test]
    fn retry_after_reads_seconds() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "17".parse().unwrap());
        assert_eq!(retry_after(&h), Some(17));
        h.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
