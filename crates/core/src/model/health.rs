//! The health board (who must act, how soon) and what the shell tells the UI in the
//! background (its event names, a sweep's news).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{ConnectionState, ProviderId};

/// Who must act on a row of the health board.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    /// The customer signs in again.
    Customer,
    /// The installer: a key, a setting, an installer account.
    Installer,
    /// Whoever manages the company's vendor app (its client id or secret).
    Company,
    /// Nobody while Onramp runs: it renews ahead of time.
    Onramp,
}

/// How soon a row of the health board needs someone. The order is the board's order: `Now`
/// sorts first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Broken now: the vendor refuses Onramp's access, or it lapsed.
    Now,
    /// A failed check, or a lapse within a day or two.
    Soon,
    /// Waiting for the customer to finish a sign-in.
    Waiting,
    /// Coming, and handled while Onramp runs.
    Later,
}

impl Urgency {
    /// Every urgency, most urgent first (the UI's sort order, exported with the bindings).
    pub const ALL: [Urgency; 4] = [
        Urgency::Now,
        Urgency::Soon,
        Urgency::Waiting,
        Urgency::Later,
    ];
}

/// The events the app's shell sends the UI, by name: the shell emits them under these names and
/// the UI listens under the same ones (generated into `bindings.ts` as `UI_EVENTS`).
pub mod ui_event {
    /// A background sweep changed something; the payload is a `ConnectionsChanged`.
    pub const CONNECTIONS_CHANGED: &str = "connections-changed";
    /// The keyring went away or came back; the payload is a `VaultStatus`.
    pub const VAULT_CHANGED: &str = "vault-changed";
    /// A usage import read more of its file; the payload is a `UsageImportProgress`.
    pub const USAGE_IMPORT_PROGRESS: &str = "usage-import-progress";
    /// Files were dropped on the window; the payload is a `FilesDropped`.
    pub const FILES_DROPPED: &str = "files-dropped";
    /// Every event, with the name the UI knows it by.
    pub const ALL: [(&str, &str); 4] = [
        ("connectionsChanged", CONNECTIONS_CHANGED),
        ("vaultChanged", VAULT_CHANGED),
        ("usageImportProgress", USAGE_IMPORT_PROGRESS),
        ("filesDropped", FILES_DROPPED),
    ];
}

/// A connection that needs someone, or will: one row of the health board.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct HealthItem {
    pub connection_id: String,
    pub customer_id: String,
    pub customer_name: String,
    pub provider: ProviderId,
    pub state: ConnectionState,
    /// What is wrong or coming, in a sentence ("Enphase's refresh token expires in 2 days
    /// unless Onramp runs").
    pub title: String,
    /// What to do about it.
    pub action: String,
    /// Who must act.
    pub who: Who,
    /// How soon; the board sorts by it, most urgent first.
    pub urgency: Urgency,
    /// When it lapses, if it does (RFC 3339).
    pub due_at: Option<String>,
    /// Whether the customer signing in again fixes it (the re-authorize button).
    pub can_reauthorize: bool,
    /// Not a customer's connection but the company's installer account, fixed in Settings
    /// (`connection_id` is then `installer_account/{provider}`, `customer_id` empty).
    pub in_settings: bool,
}

/// A connection that needs its customer after a sweep: its refresh token was lost when a
/// refresh was interrupted (Onramp was stopped, or the vendor's answer never arrived, after the
/// vendor had replaced the token), or the vendor refused it (withdrawn, lapsed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct LostGrant {
    pub connection_id: String,
    pub customer_id: String,
    pub customer_name: String,
    pub provider: ProviderId,
    /// What happened and when, for the installer.
    pub message: String,
}

/// What the background refresh tells the UI after a sweep that changed something.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ConnectionsChanged {
    /// "3 of 40 signed-in connections: 3 refreshed".
    pub summary: String,
    /// Connections whose sign-in was lost in an interrupted refresh: the customer must sign in
    /// again, and the installer should hear it at once.
    pub lost: Vec<LostGrant>,
    /// Connections whose grant the vendor refused in this sweep (the customer withdrew it, or
    /// it lapsed): the customer must sign in again, and the installer hears it by name.
    pub refused: Vec<LostGrant>,
}
