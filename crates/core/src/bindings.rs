//! Generates `ui/src/lib/bindings.ts` from the Rust types that cross to the UI (with the shell's
//! event names and the health board's order), and `ui/src/lib/providers.json`, every provider's
//! facts for the UI's fake backend.
//!
//! `cargo test -p onramp-core bindings` fails when a committed file is stale;
//! `UPDATE_BINDINGS=1` (or `make bindings`) rewrites both.

use ts_rs::{Config, TS};

use crate::error::Code;
use crate::model::*;

const HEADER: &str =
    "// This file was generated from Onramp's Rust types. Do not edit it by hand.\n";

/// The whole bindings file.
pub fn typescript() -> String {
    let cfg = Config::new().with_large_int("number");
    let mut decls = vec![
        ActivityFilter::decl(&cfg),
        AppSource::decl(&cfg),
        AppStatus::decl(&cfg),
        FirstScreen::decl(&cfg),
        HandOff::decl(&cfg),
        HandOffItem::decl(&cfg),
        CompanySettings::decl(&cfg),
        BackupSummary::decl(&cfg),
        Category::decl(&cfg),
        Code::decl(&cfg),
        ConnectAccountSites::decl(&cfg),
        ConnectionsChanged::decl(&cfg),
        Connection::decl(&cfg),
        ConnectionDetails::decl(&cfg),
        ConnectionState::decl(&cfg),
        CredentialKind::decl(&cfg),
        Customer::decl(&cfg),
        CustomerDetail::decl(&cfg),
        CustomerSummary::decl(&cfg),
        CustomerList::decl(&cfg),
        Environment::decl(&cfg),
        ErrorInfo::decl(&cfg),
        Event::decl(&cfg),
        EventKind::decl(&cfg),
        FieldSpec::decl(&cfg),
        HealthItem::decl(&cfg),
        InstallerAccount::decl(&cfg),
        KeyChars::decl(&cfg),
        KeyInput::decl(&cfg),
        KeyShape::decl(&cfg),
        LostGrant::decl(&cfg),
        NewCustomer::decl(&cfg),
        ConnectionsOnRemove::decl(&cfg),
        SimilarCustomer::decl(&cfg),
        ImportDuplicate::decl(&cfg),
        ImportRow::decl(&cfg),
        ImportPreview::decl(&cfg),
        ImportOutcome::decl(&cfg),
        OAuthStart::decl(&cfg),
        ProviderId::decl(&cfg),
        ProviderInfo::decl(&cfg),
        RedirectMode::decl(&cfg),
        RemoteSite::decl(&cfg),
        SandboxDemoKey::decl(&cfg),
        SignInChoice::decl(&cfg),
        SignInInfo::decl(&cfg),
        SignInOptions::decl(&cfg),
        SignInReturn::decl(&cfg),
        SignInStatus::decl(&cfg),
        Site::decl(&cfg),
        SiteSearch::decl(&cfg),
        Urgency::decl(&cfg),
        UsageImport::decl(&cfg),
        UsageImportProgress::decl(&cfg),
        FilesDropped::decl(&cfg),
        UsageMonth::decl(&cfg),
        UsageSeries::decl(&cfg),
        VaultState::decl(&cfg),
        VaultStatus::decl(&cfg),
        VendorApp::decl(&cfg),
        VendorAppInput::decl(&cfg),
        Who::decl(&cfg),
    ];
    decls.sort();
    let mut out = String::from(HEADER);
    for d in decls {
        out.push_str("export ");
        out.push_str(d.trim());
        out.push('\n');
    }
    out.push_str(&constants());
    out
}

/// Every provider's facts as the UI receives them (`ProviderSpec::info`, no installer account
/// set up yet): the fixture the UI's fake backend is built on, so it cannot drift from core.
pub fn provider_fixture() -> String {
    let all: Vec<crate::model::ProviderInfo> = ProviderId::ALL
        .iter()
        .map(|id| crate::providers::spec(*id).info(false))
        .collect();
    let mut out = serde_json::to_string_pretty(&all).expect("provider facts serialize");
    out.push('\n');
    out
}

/// Values the UI needs beside the types: the shell's event names and the board's order.
fn constants() -> String {
    let quoted = |s: &str| serde_json::to_string(s).expect("a string serializes");
    let mut out = String::from(
        "/** The events the shell sends the UI, by name. */\nexport const UI_EVENTS = {\n",
    );
    for (key, name) in crate::model::ui_event::ALL {
        out.push_str(&format!("  {key}: {},\n", quoted(name)));
    }
    out.push_str("} as const;\n");
    out.push_str("/** Every urgency, most urgent first: the health board's order. */\nexport const URGENCIES: readonly Urgency[] = [");
    let all: Vec<String> = Urgency::ALL
        .iter()
        .map(|u| serde_json::to_string(u).expect("an urgency serializes"))
        .collect();
    out.push_str(&all.join(", "));
    out.push_str("];\n");
    out.push_str("/** Every kind of activity event (the Activity page's filter). */\nexport const EVENT_KINDS: readonly EventKind[] = [");
    let kinds: Vec<String> = EventKind::ALL
        .iter()
        .map(|k| serde_json::to_string(k).expect("an event kind serializes"))
        .collect();
    out.push_str(&kinds.join(", "));
    out.push_str("];\n");
    out.push_str(&format!(
        "/** How many entries the Activity page reads at once, newest first. */\nexport const ACTIVITY_PAGE = {};\n",
        crate::model::ACTIVITY_PAGE
    ));
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    /// Writes `file` (under `ui/src/lib`) with `UPDATE_BINDINGS`; otherwise fails when it is stale.
    fn fresh(file: &str, want: String) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../ui/src/lib")
            .join(file);
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "ui/src/lib/{file} is stale: run `make bindings` and commit the result"
        );
    }

    #[test]
    fn the_ui_sorts_urgencies_as_the_board_does() {
        use crate::model::Urgency;
        assert!(Urgency::ALL.windows(2).all(|w| w[0] < w[1]));
        assert!(super::typescript().contains(
            r#"export const URGENCIES: readonly Urgency[] = ["now", "soon", "waiting", "later"];"#
        ));
    }

    #[test]
    fn bindings_are_fresh() {
        fresh("bindings.ts", super::typescript());
    }

    #[test]
    fn the_ui_fixture_of_provider_facts_is_fresh() {
        fresh("providers.json", super::provider_fixture());
    }
}
