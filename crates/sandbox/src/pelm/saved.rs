//! Pelm's books as saved in the sandbox's SQLite file (persistent mode): connect tokens, codes,
//! access tokens and the users with a completed connection. Moments are saved as wall-clock
//! milliseconds; connect tokens and codes issued a day ago are left out (they live 30 and 10
//! minutes).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Books, ConnectToken, Server};
use crate::store::{instant, unix_ms};

#[derive(Serialize, Deserialize)]
struct Saved {
    connect: Vec<SavedConnect>,
    codes: Vec<(String, String, i64, bool)>,
    access: Vec<(String, String)>,
    users: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct SavedConnect {
    token: String,
    user_id: String,
    utility: Option<String>,
    issued: i64,
    used: bool,
}

impl Server {
    /// The books as JSON: the same books give the same text.
    pub(crate) fn saved_books(&self) -> String {
        let b = self.books();
        let cutoff = Instant::now().checked_sub(Duration::from_secs(86_400));
        let recent = |at: &Instant| cutoff.is_none_or(|c| *at >= c);
        let mut connect: Vec<SavedConnect> = b
            .connect
            .iter()
            .filter(|(_, t)| recent(&t.issued))
            .map(|(token, t)| SavedConnect {
                token: token.clone(),
                user_id: t.user_id.clone(),
                utility: t.utility.clone(),
                issued: unix_ms(t.issued),
                used: t.used,
            })
            .collect();
        connect.sort_by(|a, b| a.token.cmp(&b.token));
        let mut codes: Vec<(String, String, i64, bool)> = b
            .codes
            .iter()
            .filter(|(_, (_, issued, _))| recent(issued))
            .map(|(code, (user, issued, used))| {
                (code.clone(), user.clone(), unix_ms(*issued), *used)
            })
            .collect();
        codes.sort();
        let mut access: Vec<(String, String)> = b
            .access
            .iter()
            .map(|(t, u)| (t.clone(), u.clone()))
            .collect();
        access.sort();
        let saved = Saved {
            connect,
            codes,
            access,
            users: b.users.clone(),
        };
        serde_json::to_string(&saved).expect("the books serialize")
    }

    /// Puts back the books [`Server::saved_books`] wrote.
    pub(crate) fn restore_books(&self, json: &str) -> serde_json::Result<()> {
        let s: Saved = serde_json::from_str(json)?;
        *self.books() = Books {
            connect: s
                .connect
                .into_iter()
                .map(|c| {
                    (
                        c.token,
                        ConnectToken {
                            user_id: c.user_id,
                            utility: c.utility,
                            issued: instant(c.issued),
                            used: c.used,
                        },
                    )
                })
                .collect(),
            codes: s
                .codes
                .into_iter()
                .map(|(code, user, issued, used)| (code, (user, instant(issued), used)))
                .collect(),
            access: s.access.into_iter().collect(),
            users: s.users,
        };
        Ok(())
    }
}
