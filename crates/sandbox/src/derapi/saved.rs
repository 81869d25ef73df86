//! Derapi's books as saved in the sandbox's SQLite file (persistent mode): client tokens, Join
//! flows and sessions, and the sites of completed enrollments. Moments are saved as wall-clock
//! milliseconds; client tokens expired an hour ago are left out. Which vendors Derapi cannot
//! reach is a test's knob, not the vendor's books: it is not saved.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Books, Flow, Server, Session};
use crate::store::{instant, unix_ms};

#[derive(Serialize, Deserialize)]
struct Saved {
    tokens: Vec<(String, i64)>,
    flows: Vec<SavedFlow>,
    sessions: Vec<SavedSession>,
    sites: Vec<Value>,
    enrollments: u64,
}

#[derive(Serialize, Deserialize)]
struct SavedFlow {
    id: String,
    redirect: String,
    program: Option<String>,
    vendors: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct SavedSession {
    id: String,
    /// `pending`, `declined` or `done`.
    state: String,
    #[serde(default)]
    vendors: Vec<String>,
    #[serde(default)]
    access: String,
    #[serde(default)]
    refresh: String,
    #[serde(default)]
    vendor: String,
    #[serde(default)]
    sites: Vec<String>,
}

impl Server {
    /// The books as JSON: the same books give the same text.
    pub(crate) fn saved_books(&self) -> String {
        let b = self.books();
        let cutoff = Instant::now().checked_sub(Duration::from_secs(3600));
        let mut tokens: Vec<(String, i64)> = b
            .tokens
            .iter()
            .filter(|(_, e)| cutoff.is_none_or(|c| **e >= c))
            .map(|(t, e)| (t.clone(), unix_ms(*e)))
            .collect();
        tokens.sort();
        let mut flows: Vec<SavedFlow> = b
            .flows
            .iter()
            .map(|(id, f)| SavedFlow {
                id: id.clone(),
                redirect: f.redirect.clone(),
                program: f.program.clone(),
                vendors: f.vendors.clone(),
            })
            .collect();
        flows.sort_by(|a, b| a.id.cmp(&b.id));
        let mut sessions: Vec<SavedSession> = b
            .sessions
            .iter()
            .map(|(id, s)| {
                let mut saved = SavedSession {
                    id: id.clone(),
                    state: String::new(),
                    vendors: Vec::new(),
                    access: String::new(),
                    refresh: String::new(),
                    vendor: String::new(),
                    sites: Vec::new(),
                };
                match s {
                    Session::Pending(v) => {
                        saved.state = "pending".into();
                        saved.vendors = v.clone();
                    }
                    Session::Declined => saved.state = "declined".into(),
                    Session::Done {
                        access,
                        refresh,
                        vendor,
                        sites,
                    } => {
                        saved.state = "done".into();
                        saved.access = access.clone();
                        saved.refresh = refresh.clone();
                        saved.vendor = vendor.clone();
                        saved.sites = sites.clone();
                    }
                }
                saved
            })
            .collect();
        sessions.sort_by(|a, b| a.id.cmp(&b.id));
        let saved = Saved {
            tokens,
            flows,
            sessions,
            sites: b.sites.clone(),
            enrollments: b.enrollments,
        };
        serde_json::to_string(&saved).expect("the books serialize")
    }

    /// Puts back the books [`Server::saved_books`] wrote (the test knobs stay as they are).
    pub(crate) fn restore_books(&self, json: &str) -> serde_json::Result<()> {
        let s: Saved = serde_json::from_str(json)?;
        let sessions: HashMap<String, Session> = s
            .sessions
            .into_iter()
            .map(|x| {
                let session = match x.state.as_str() {
                    "pending" => Session::Pending(x.vendors),
                    "done" => Session::Done {
                        access: x.access,
                        refresh: x.refresh,
                        vendor: x.vendor,
                        sites: x.sites,
                    },
                    _ => Session::Declined,
                };
                (x.id, session)
            })
            .collect();
        let mut b = self.books();
        let unreachable = std::mem::take(&mut b.unreachable);
        *b = Books {
            tokens: s.tokens.into_iter().map(|(t, e)| (t, instant(e))).collect(),
            flows: s
                .flows
                .into_iter()
                .map(|f| {
                    (
                        f.id,
                        Flow {
                            redirect: f.redirect,
                            program: f.program,
                            vendors: f.vendors,
                        },
                    )
                })
                .collect(),
            sessions,
            sites: s.sites,
            enrollments: s.enrollments,
            unreachable,
        };
        Ok(())
    }
}
