//! The test account's own "connected apps" page, as each vendor offers its customers (Tesla's
//! app → Security → Third-party apps, Enphase's and SMA's account pages): the customer sees which
//! apps hold a grant and withdraws one. A withdrawn grant's refresh and access tokens stop
//! working at once, as a revocation at the vendor's endpoint does.

use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::Server;

pub(super) const PAGE: &str = "/account/apps";
pub(super) const WITHDRAW: &str = "/account/apps/withdraw";

/// The grants the test account has given and not withdrawn, one form each.
pub(super) async fn page(State(s): State<Arc<Server>>) -> Html<String> {
    let b = s.books.lock().unwrap_or_else(|p| p.into_inner());
    let mut live: Vec<_> = b.grants.iter().filter(|(_, g)| !g.revoked).collect();
    live.sort_by_key(|(id, _)| **id);
    let rows: String = live
        .iter()
        .map(|(id, g)| {
            format!(
                "<li><form method=\"post\" action=\"{WITHDRAW}\"><input type=\"hidden\" name=\"grant\" value=\"{id}\">\
                 {} ({})<button type=\"submit\">Remove access</button></form></li>",
                escape(&s.client.client_id),
                escape(&g.scope)
            )
        })
        .collect();
    Html(format!(
        "<!doctype html><title>Connected apps</title><h1>Apps with access to your account</h1>\
         <ul>{}</ul>",
        if rows.is_empty() {
            "<li>No app has access.</li>".to_string()
        } else {
            rows
        }
    ))
}

#[derive(Deserialize)]
pub(super) struct Withdraw {
    grant: u64,
}

/// The customer removes an app's access: its grant is revoked.
pub(super) async fn withdraw(State(s): State<Arc<Server>>, Form(w): Form<Withdraw>) -> Response {
    let mut b = s.books.lock().unwrap_or_else(|p| p.into_inner());
    match b.grants.get_mut(&w.grant).filter(|g| !g.revoked) {
        Some(g) => {
            g.revoked = true;
            Redirect::to(PAGE).into_response()
        }
        None => (StatusCode::NOT_FOUND, "No such app access.").into_response(),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
