//! Request counting and injected faults, applied to every request of one vendor's server
//! before its own routes see it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Faults injected into the following requests of one vendor. Counters decrement per request;
/// when several are armed, 503s come first, then 429s, then malformed bodies.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Added before answering every request.
    pub latency: Duration,
    /// The next N requests answer 503 in the vendor's error shape.
    pub fail_next_5xx: u32,
    /// The next N requests answer 429 with `Retry-After: 2`.
    pub rate_limit_next: u32,
    /// The next N requests answer 200 with a truncated JSON body.
    pub malformed_next: u32,
}

/// How one vendor answers each injected fault.
pub(crate) struct Shapes {
    pub(crate) unavailable: fn() -> Response,
    /// Given the Retry-After seconds.
    pub(crate) rate_limited: fn(u64) -> Response,
    pub(crate) malformed: fn() -> Response,
}

/// Per-vendor request counter and fault knobs, shared by the server and [`crate::Sandbox`].
#[derive(Default)]
pub(crate) struct Knobs {
    faults: Mutex<Faults>,
    requests: AtomicU64,
}

impl Knobs {
    pub(crate) fn set(&self, faults: Faults) {
        *self.faults.lock().unwrap_or_else(|p| p.into_inner()) = faults;
    }

    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Counts the request and takes one armed fault; returns the latency to add and the fault.
    fn take(&self, shapes: &Shapes) -> (Duration, Option<Response>) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let mut f = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let fault = if f.fail_next_5xx > 0 {
            f.fail_next_5xx -= 1;
            Some((shapes.unavailable)())
        } else if f.rate_limit_next > 0 {
            f.rate_limit_next -= 1;
            Some((shapes.rate_limited)(2))
        } else if f.malformed_next > 0 {
            f.malformed_next -= 1;
            Some((shapes.malformed)())
        } else {
            None
        };
        (f.latency, fault)
    }
}

/// Middleware: count, wait, and answer with an injected fault or pass the request on.
pub(crate) async fn inject(
    State((knobs, shapes)): State<(Arc<Knobs>, Arc<Shapes>)>,
    request: Request,
    next: Next,
) -> Response {
    let (latency, fault) = knobs.take(&shapes);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fault {
        Some(response) => response,
        None => next.run(request).await,
    }
}
