//! The health board's row for a connection: what it needs, from whom, how soon.

use std::time::Duration;

use time::OffsetDateTime;

use super::{parse, state_at, Policy};
use crate::error::Code;
use crate::model::{
    Connection, ConnectionState, CredentialKind, ErrorInfo, HealthItem, ProviderId, Urgency, Who,
};

/// How far ahead the health board lists refresh tokens that will lapse if Onramp does not run.
pub const HEALTH_HORIZON: Duration = Duration::from_secs(14 * 86_400);

fn in_words(d: time::Duration) -> String {
    let h = d.whole_hours();
    match h {
        h if h < 1 => "within the hour".into(),
        h if h < 48 => format!("in {}", crate::text::plural(h as u64, "hour")),
        _ => format!("in {} days", d.whole_days()),
    }
}

/// What a health board row is about: a customer's connection, or the company's installer
/// account (fixed in Settings). Its rows differ only in what they say ([`Subject::row`]).
pub struct Subject {
    pub connection_id: String,
    pub customer_id: String,
    pub customer_name: String,
    pub provider: ProviderId,
    /// The customer signing in again fixes what is theirs to fix (an OAuth connection).
    pub reauthorizable: bool,
    pub in_settings: bool,
}

/// What a row says of its subject.
pub struct Finding {
    pub state: ConnectionState,
    pub title: String,
    pub action: String,
    pub who: Who,
    pub urgency: Urgency,
    pub due_at: Option<String>,
}

impl Finding {
    /// What is found: the state, who must act and how soon, what it is and what to do.
    pub fn new(
        state: ConnectionState,
        who: Who,
        urgency: Urgency,
        title: impl Into<String>,
        action: impl Into<String>,
    ) -> Finding {
        Finding {
            state,
            title: title.into(),
            action: action.into(),
            who,
            urgency,
            due_at: None,
        }
    }

    /// By when (RFC 3339).
    pub fn due(self, due_at: Option<String>) -> Finding {
        Finding { due_at, ..self }
    }
}

impl Subject {
    /// The company's installer account at a vendor, fixed in Settings.
    pub fn installer_account(connection_id: String, provider: ProviderId, name: &str) -> Self {
        Subject {
            connection_id,
            customer_id: String::new(),
            customer_name: format!("Your {name} installer account"),
            provider,
            reauthorizable: false,
            in_settings: true,
        }
    }

    /// The board's row: the subject and what was found.
    pub fn row(&self, f: Finding) -> HealthItem {
        HealthItem {
            connection_id: self.connection_id.clone(),
            customer_id: self.customer_id.clone(),
            customer_name: self.customer_name.clone(),
            provider: self.provider,
            state: f.state,
            title: f.title,
            action: f.action,
            who: f.who,
            urgency: f.urgency,
            due_at: f.due_at,
            can_reauthorize: self.reauthorizable && f.who == Who::Customer,
            in_settings: self.in_settings,
        }
    }
}

/// What a connection needs, if anything: the health board's row for it.
pub fn health(
    conn: &Connection,
    customer_name: &str,
    now: OffsetDateTime,
    policy: &Policy,
) -> Option<HealthItem> {
    let name = crate::providers::spec(conn.provider).name;
    let state = state_at(conn, now, policy);
    let oauth = conn.kind == CredentialKind::Oauth;
    let about = Subject {
        connection_id: conn.id.clone(),
        customer_id: conn.customer_id.clone(),
        customer_name: customer_name.to_string(),
        provider: conn.provider,
        reauthorizable: oauth,
        in_settings: false,
    };
    let item = |urgency, who, title: String, action: String, due_at| {
        Some(about.row(Finding::new(state, who, urgency, title, action).due(due_at)))
    };
    let sign_in_again = format!(
        "Re-authorize with the customer: they sign in at {name} and approve Onramp again; the connection and its sites are kept."
    );
    match conn.state {
        ConnectionState::NeedsReauth | ConnectionState::Revoked => {
            let why = conn
                .last_error
                .as_ref()
                .map(|e| e.message.clone())
                .unwrap_or_else(|| format!("{name} no longer accepts Onramp's access."));
            return item(
                Urgency::Now,
                if oauth { Who::Customer } else { Who::Installer },
                why,
                if oauth {
                    sign_in_again
                } else {
                    "Ask the customer for a new key and connect again.".into()
                },
                None,
            );
        }
        ConnectionState::Error => {
            let e = conn.last_error.clone().unwrap_or(ErrorInfo {
                details: None,
                code: Code::Internal,
                message: format!("{name} failed the last check."),
                hint: None,
            });
            let who = match e.code {
                Code::ReauthRequired | Code::TokenLost if oauth => Who::Customer,
                // A signed-in connection that fails for want of a setting: the company's vendor
                // app (a refused client id or secret, a missing API key). Neither the customer
                // nor a key fixes it; whoever manages the company's app does.
                Code::NotConfigured if oauth => Who::Company,
                _ => Who::Installer,
            };
            return item(
                Urgency::Soon,
                who,
                e.message,
                e.hint
                    .unwrap_or_else(|| "Check the connection again.".into()),
                None,
            );
        }
        ConnectionState::Pending => {
            return item(
                Urgency::Waiting,
                Who::Customer,
                format!("Waiting for the customer to finish at {name}."),
                "Ask the customer to finish the sign-in, or start it again.".into(),
                None,
            )
        }
        ConnectionState::Active | ConnectionState::Expiring => {}
    }
    let expires = parse(&conn.refresh_expires_at)?;
    if expires <= now {
        return item(
            Urgency::Now,
            Who::Customer,
            format!("{name}'s refresh token lapsed while Onramp was not running."),
            sign_in_again,
            conn.refresh_expires_at.clone(),
        );
    }
    if expires - now > HEALTH_HORIZON {
        return None;
    }
    item(
        if expires - now < time::Duration::days(1) {
            Urgency::Soon
        } else {
            Urgency::Later
        },
        Who::Onramp,
        format!(
            "{name}'s refresh token expires {} unless Onramp runs.",
            in_words(expires - now)
        ),
        "Nothing to do while Onramp is open (it refreshes ahead of time); otherwise open Onramp before then.".into(),
        conn.refresh_expires_at.clone(),
    )
}
