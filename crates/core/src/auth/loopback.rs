//! The loopback redirect (RFC 8252 §7.3): a one-shot listener on 127.0.0.1 that waits for the
//! browser to come back with this sign-in's state, answers with a short "return to Onramp" page,
//! and stops after that hit, a timeout, or when dropped (cancel).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use tokio::sync::{mpsc, Mutex};

use super::callback::parse_url;
use crate::error::{Code, Error, Result};

pub const PATH: &str = "/callback";

pub struct Loopback {
    listener: tokio::net::TcpListener,
    port: u16,
}

const DONE: &str = "<!doctype html><meta charset=utf-8><title>Onramp</title>\
<style>body{font:16px system-ui,sans-serif;margin:15vh auto;max-width:32em;text-align:center;color:#1c2430}</style>\
<h1>Done</h1><p>You can close this tab and return to Onramp.</p>";
const WRONG: &str = "<!doctype html><meta charset=utf-8><title>Onramp</title>\
<style>body{font:16px system-ui,sans-serif;margin:15vh auto;max-width:32em;text-align:center;color:#1c2430}</style>\
<h1>Not this sign-in</h1><p>This page does not belong to the sign-in Onramp is waiting for. Return to Onramp and start again.</p>";

impl Loopback {
    /// Binds 127.0.0.1 (not `localhost`) on `port`, or on any free port when `port` is 0.
    pub async fn bind(port: u16) -> Result<Loopback> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .await
            .map_err(|e| {
                Error::new(Code::NotConfigured, format!("Onramp cannot wait for the browser on this laptop's port {port}: another program uses it."))
                    .hint("Close the other program and start again, or ask whoever set up Onramp to choose another port.")
                    .details(e.to_string())
            })?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::internal(e.to_string()))?
            .port();
        Ok(Loopback { listener, port })
    }

    /// The exact redirect URI to register and send: the port actually bound.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{PATH}", self.port)
    }

    /// Waits for the browser to return with `state`; returns the full callback URL.
    /// Hits with another state or path get a "not this sign-in" page and do not stop the wait.
    pub async fn wait(self, state: &str, timeout: Duration) -> Result<String> {
        let (tx, mut rx) = mpsc::channel::<String>(1);
        let ctx = Arc::new((self.redirect_uri(), state.to_string(), Mutex::new(Some(tx))));
        let app = axum::Router::new().fallback(hit).with_state(ctx);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(self.listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await;
        });
        let got = tokio::time::timeout(timeout, rx.recv()).await;
        let _ = stop_tx.send(());
        // Let the "return to Onramp" page reach the browser before the listener goes.
        let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
        match got {
            Ok(Some(url)) => Ok(url),
            Ok(None) => Err(Error::internal("the loopback listener stopped")),
            Err(_) => Err(Error::new(
                Code::Validation,
                format!(
                    "No answer from the browser within {}.",
                    crate::text::plural(timeout.as_secs().div_ceil(60), "minute")
                ),
            )
            .hint(
                "Start the connection again and finish the sign-in in the browser window it opens.",
            )),
        }
    }
}

type Ctx = Arc<(String, String, Mutex<Option<mpsc::Sender<String>>>)>;

async fn hit(State(ctx): State<Ctx>, uri: Uri) -> Response {
    let (redirect, state, tx) = &*ctx;
    let full = format!("{}{}", redirect.trim_end_matches(PATH), uri);
    let ours = uri.path() == PATH
        && parse_url(&full)
            .is_ok_and(|cb| cb.state.as_ref().map(|s| s.expose()) == Some(state.as_str()));
    if !ours {
        return (StatusCode::BAD_REQUEST, Html(WRONG)).into_response();
    }
    if let Some(tx) = tx.lock().await.take() {
        let _ = tx.send(full).await;
    }
    Html(DONE).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_first_hit_with_the_right_state_only() {
        let lb = Loopback::bind(0).await.unwrap();
        let uri = lb.redirect_uri();
        assert!(uri.starts_with("http://127.0.0.1:") && uri.ends_with("/callback"));
        let waiter =
            tokio::spawn(async move { lb.wait("good-state", Duration::from_secs(10)).await });
        let client = reqwest::Client::new();
        let wrong = client
            .get(format!("{uri}?code=x&state=forged"))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 400);
        let other_path = client
            .get(uri.replace("/callback", "/favicon.ico"))
            .send()
            .await
            .unwrap();
        assert_eq!(other_path.status(), 400);
        let ok = client
            .get(format!("{uri}?code=abc&state=good-state"))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert!(ok.text().await.unwrap().contains("return to Onramp"));
        let got = waiter.await.unwrap().unwrap();
        assert_eq!(got, format!("{uri}?code=abc&state=good-state"));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_timeout() {
        let lb = Loopback::bind(0).await.unwrap();
        let e = lb.wait("s", Duration::from_secs(120)).await.unwrap_err();
        assert!(
            e.message
                .contains("No answer from the browser within 2 minutes"),
            "{}",
            e.message
        );
    }
}
