//! The activity log: what an event records ([`EventKind`], stored by its snake_case name) and an
//! entry as read back.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::ProviderId;

/// What an event of the activity log records (its `kind`). Written by the service, stored as
/// its snake_case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A customer was added.
    CustomerCreated,
    /// A customer's name, address or contact was changed.
    CustomerUpdated,
    /// A customer was removed (their connections revoked, or moved to another customer).
    CustomerRemoved,
    /// A connection moved to another customer.
    ConnectionMoved,
    /// A connection was made, or sites were added to one.
    Connected,
    /// The customer signed in again for an existing connection.
    Reauthorized,
    /// A connection's tokens were renewed.
    Refreshed,
    /// Asking the vendor again failed (the summary is the reason).
    CheckFailed,
    /// The vendor no longer accepts the grant: it lapsed.
    NeedsReauth,
    /// The customer or the vendor withdrew the grant.
    Revoked,
    /// The refresh token was spent by a refresh whose answer a crash lost.
    TokenLost,
    /// A refresh was refused for a reason that is not the grant's (its app).
    RefreshRefused,
    /// A connection was removed, with its secrets and sites.
    ConnectionRemoved,
    /// The installer chose which of a connection's sites are the customer's.
    SitesChosen,
    /// A connection's secrets were missing from the keyring at adoption.
    SecretsMissing,
    /// Usage summaries were imported.
    UsageImported,
    /// An imported usage series was removed.
    UsageRemoved,
    /// A vendor app (client id and secret) was saved.
    AppSaved,
    /// An installer account's key was saved.
    InstallerAccountSaved,
    /// An installer account was signed in.
    InstallerAccountSignedIn,
    /// An installer account was removed.
    InstallerAccountRemoved,
    /// An installer account's sign-in was renewed.
    InstallerAccountRenewed,
    /// An installer account must be signed in again.
    InstallerAccountNeedsSignIn,
    /// An installer account's renewal was lost in a crash; it must be signed in again.
    InstallerAccountTokenLost,
    /// The data key sealing the secrets was rotated.
    KeyRotated,
    /// A backup was written.
    BackupCreated,
    /// A backup was restored.
    BackupRestored,
}

impl EventKind {
    pub const ALL: [EventKind; 27] = [
        EventKind::CustomerCreated,
        EventKind::CustomerUpdated,
        EventKind::CustomerRemoved,
        EventKind::ConnectionMoved,
        EventKind::Connected,
        EventKind::Reauthorized,
        EventKind::Refreshed,
        EventKind::CheckFailed,
        EventKind::NeedsReauth,
        EventKind::Revoked,
        EventKind::TokenLost,
        EventKind::RefreshRefused,
        EventKind::ConnectionRemoved,
        EventKind::SecretsMissing,
        EventKind::UsageImported,
        EventKind::UsageRemoved,
        EventKind::AppSaved,
        EventKind::InstallerAccountSaved,
        EventKind::InstallerAccountSignedIn,
        EventKind::InstallerAccountRemoved,
        EventKind::InstallerAccountRenewed,
        EventKind::InstallerAccountNeedsSignIn,
        EventKind::InstallerAccountTokenLost,
        EventKind::KeyRotated,
        EventKind::BackupCreated,
        EventKind::BackupRestored,
        EventKind::SitesChosen,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CustomerCreated => "customer_created",
            EventKind::CustomerUpdated => "customer_updated",
            EventKind::CustomerRemoved => "customer_removed",
            EventKind::ConnectionMoved => "connection_moved",
            EventKind::Connected => "connected",
            EventKind::Reauthorized => "reauthorized",
            EventKind::Refreshed => "refreshed",
            EventKind::CheckFailed => "check_failed",
            EventKind::NeedsReauth => "needs_reauth",
            EventKind::Revoked => "revoked",
            EventKind::TokenLost => "token_lost",
            EventKind::RefreshRefused => "refresh_refused",
            EventKind::ConnectionRemoved => "connection_removed",
            EventKind::SecretsMissing => "secrets_missing",
            EventKind::UsageImported => "usage_imported",
            EventKind::UsageRemoved => "usage_removed",
            EventKind::AppSaved => "app_saved",
            EventKind::InstallerAccountSaved => "installer_account_saved",
            EventKind::InstallerAccountSignedIn => "installer_account_signed_in",
            EventKind::InstallerAccountRemoved => "installer_account_removed",
            EventKind::InstallerAccountRenewed => "installer_account_renewed",
            EventKind::InstallerAccountNeedsSignIn => "installer_account_needs_sign_in",
            EventKind::InstallerAccountTokenLost => "installer_account_token_lost",
            EventKind::KeyRotated => "key_rotated",
            EventKind::BackupCreated => "backup_created",
            EventKind::BackupRestored => "backup_restored",
            EventKind::SitesChosen => "sites_chosen",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A kind compares with its stored name (`kind == "refreshed"`).
impl PartialEq<&str> for EventKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An entry of the activity log. Never carries a secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Event {
    #[ts(type = "number")]
    pub id: i64,
    pub at: String,
    pub customer_id: Option<String>,
    /// The customer's name, while the customer exists (a removed customer's entries keep only
    /// its id).
    pub customer_name: Option<String>,
    pub connection_id: Option<String>,
    pub provider: Option<ProviderId>,
    pub kind: EventKind,
    pub summary: String,
    /// `app` or `cli`.
    pub actor: String,
    /// The installer who acted (Settings: your name), when one was set; none for what Onramp
    /// did on its own (a background refresh).
    pub installer: Option<String>,
    /// The scopes a sign-in granted, with its event.
    pub scopes: Option<String>,
}

/// How many entries the Activity page reads at once, newest first (generated into `bindings.ts`);
/// an export has them all.
pub const ACTIVITY_PAGE: u32 = 500;

/// Which events to list or export: a customer's, a provider's, one kind, between two days
/// (`YYYY-MM-DD`, inclusive, UTC); anything left out lets every event through.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct ActivityFilter {
    pub customer_id: Option<String>,
    pub provider: Option<ProviderId>,
    pub kind: Option<EventKind>,
    pub since: Option<String>,
    pub until: Option<String>,
}
