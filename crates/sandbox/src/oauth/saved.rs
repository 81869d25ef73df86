//! An OAuth vendor's books as saved in the sandbox's SQLite file (persistent mode): grants,
//! codes, access and refresh tokens with their rotation links and reuse-window marks, client
//! tokens and the refresh counters. Moments are saved as wall-clock milliseconds.
//!
//! What no answer can depend on any more is left out: access tokens expired an hour ago, codes
//! issued an hour ago, refresh tokens rotated out thirty days ago or expired a day ago (a client
//! presenting one of those is refused `invalid_grant` all the same; a thirty-day-old replay no
//! longer revokes its grant).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Books, CodeGrant, Grant, RefreshStats, RefreshToken, Server};
use crate::store::{instant, unix_ms};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

#[derive(Serialize, Deserialize)]
struct Saved {
    next_grant: u64,
    grants: Vec<SavedGrant>,
    codes: Vec<SavedCode>,
    access: Vec<SavedAccess>,
    refresh: Vec<SavedRefresh>,
    client_tokens: Vec<(String, i64)>,
    stats: RefreshStats,
}

#[derive(Serialize, Deserialize)]
struct SavedGrant {
    id: u64,
    revoked: bool,
    public: bool,
    #[serde(default)]
    partner: bool,
    scope: String,
    offline: bool,
    utility: String,
}

#[derive(Serialize, Deserialize)]
struct SavedCode {
    code: String,
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    scope: String,
    issued: i64,
    used: bool,
    grant: u64,
}

#[derive(Serialize, Deserialize)]
struct SavedAccess {
    token: String,
    grant: u64,
    expires: i64,
    issued_with: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct SavedRefresh {
    token: String,
    grant: u64,
    current: bool,
    expires: Option<i64>,
    successor: Option<String>,
    used: bool,
    first_used: Option<i64>,
    access: String,
}

fn before(now: Instant, ago: Duration) -> Option<Instant> {
    now.checked_sub(ago)
}

impl Server {
    /// The books as JSON: the same books give the same text.
    pub(crate) fn saved_books(&self) -> String {
        let b = self.books.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let past = |at: Instant, ago: Duration| before(now, ago).is_some_and(|t| at < t);
        let mut grants: Vec<SavedGrant> = b
            .grants
            .iter()
            .map(|(id, g)| SavedGrant {
                id: *id,
                revoked: g.revoked,
                public: g.public,
                partner: g.partner,
                scope: g.scope.clone(),
                offline: g.offline,
                utility: g.utility.clone(),
            })
            .collect();
        grants.sort_by_key(|g| g.id);
        let mut codes: Vec<SavedCode> = b
            .codes
            .iter()
            .filter(|(_, c)| !past(c.issued, HOUR))
            .map(|(code, c)| SavedCode {
                code: code.clone(),
                client_id: c.client_id.clone(),
                redirect_uri: c.redirect_uri.clone(),
                challenge: c.challenge.clone(),
                scope: c.scope.clone(),
                issued: unix_ms(c.issued),
                used: c.used,
                grant: c.grant,
            })
            .collect();
        codes.sort_by(|a, b| a.code.cmp(&b.code));
        let mut access: Vec<SavedAccess> = b
            .access
            .iter()
            .filter(|(_, (_, expires))| !past(*expires, HOUR))
            .map(|(token, (grant, expires))| SavedAccess {
                token: token.clone(),
                grant: *grant,
                expires: unix_ms(*expires),
                issued_with: b.issued_with.get(token).cloned(),
            })
            .collect();
        access.sort_by(|a, b| a.token.cmp(&b.token));
        let mut refresh: Vec<SavedRefresh> = b
            .refresh
            .iter()
            .filter(|(_, t)| {
                let rotated_long_ago =
                    !t.current && t.first_used.is_some_and(|f| past(f, 30 * DAY));
                let expired_long_ago = t.expires.is_some_and(|e| past(e, DAY));
                !rotated_long_ago && !expired_long_ago
            })
            .map(|(token, t)| SavedRefresh {
                token: token.clone(),
                grant: t.grant,
                current: t.current,
                expires: t.expires.map(unix_ms),
                successor: t.successor.clone(),
                used: t.used,
                first_used: t.first_used.map(unix_ms),
                access: t.access.clone(),
            })
            .collect();
        refresh.sort_by(|a, b| a.token.cmp(&b.token));
        let mut client_tokens: Vec<(String, i64)> = b
            .client_tokens
            .iter()
            .filter(|(_, e)| !past(**e, HOUR))
            .map(|(t, e)| (t.clone(), unix_ms(*e)))
            .collect();
        client_tokens.sort();
        let saved = Saved {
            next_grant: b.next_grant,
            grants,
            codes,
            access,
            refresh,
            client_tokens,
            stats: b.stats,
        };
        serde_json::to_string(&saved).expect("the books serialize")
    }

    /// Puts back the books [`Server::saved_books`] wrote.
    pub(crate) fn restore_books(&self, json: &str) -> serde_json::Result<()> {
        let s: Saved = serde_json::from_str(json)?;
        let mut books = Books {
            next_grant: s.next_grant,
            stats: s.stats,
            ..Books::default()
        };
        books.grants = s
            .grants
            .into_iter()
            .map(|g| {
                (
                    g.id,
                    Grant {
                        revoked: g.revoked,
                        public: g.public,
                        partner: g.partner,
                        scope: g.scope,
                        offline: g.offline,
                        utility: g.utility,
                    },
                )
            })
            .collect();
        books.codes = s
            .codes
            .into_iter()
            .map(|c| {
                (
                    c.code,
                    CodeGrant {
                        client_id: c.client_id,
                        redirect_uri: c.redirect_uri,
                        challenge: c.challenge,
                        scope: c.scope,
                        issued: instant(c.issued),
                        used: c.used,
                        grant: c.grant,
                    },
                )
            })
            .collect();
        let mut issued_with = HashMap::new();
        books.access = s
            .access
            .into_iter()
            .map(|a| {
                if let Some(rt) = a.issued_with {
                    issued_with.insert(a.token.clone(), rt);
                }
                (a.token, (a.grant, instant(a.expires)))
            })
            .collect();
        books.issued_with = issued_with;
        books.refresh = s
            .refresh
            .into_iter()
            .map(|t| {
                (
                    t.token,
                    RefreshToken {
                        grant: t.grant,
                        current: t.current,
                        expires: t.expires.map(instant),
                        successor: t.successor,
                        used: t.used,
                        first_used: t.first_used.map(instant),
                        access: t.access,
                    },
                )
            })
            .collect();
        books.client_tokens = s
            .client_tokens
            .into_iter()
            .map(|(t, e)| (t, instant(e)))
            .collect();
        *self.books.lock().unwrap_or_else(|p| p.into_inner()) = books;
        Ok(())
    }
}
