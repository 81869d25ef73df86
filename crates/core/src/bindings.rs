//! Generates `ui/src/lib/bindings.ts` from the Rust types that cross to the UI.
//!
//! `cargo test -p onramp-core bindings` fails when the committed file is stale;
//! `UPDATE_BINDINGS=1` (or `make bindings`) rewrites it.

use ts_rs::{Config, TS};

use crate::error::Code;
use crate::model::*;

const HEADER: &str =
    "// This file was generated from Onramp's Rust types. Do not edit it by hand.\n";

/// The whole bindings file.
pub fn typescript() -> String {
    let cfg = Config::new().with_large_int("number");
    let mut decls = vec![
        AppSource::decl(&cfg),
        AppStatus::decl(&cfg),
        BackupSummary::decl(&cfg),
        Code::decl(&cfg),
        ConnectAccountSites::decl(&cfg),
        ConnectionsChanged::decl(&cfg),
        Connection::decl(&cfg),
        ConnectionState::decl(&cfg),
        CredentialKind::decl(&cfg),
        Customer::decl(&cfg),
        CustomerDetail::decl(&cfg),
        CustomerSummary::decl(&cfg),
        Environment::decl(&cfg),
        ErrorInfo::decl(&cfg),
        Event::decl(&cfg),
        FieldSpec::decl(&cfg),
        HealthItem::decl(&cfg),
        InstallerAccount::decl(&cfg),
        KeyInput::decl(&cfg),
        LostGrant::decl(&cfg),
        NewCustomer::decl(&cfg),
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
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    #[test]
    fn bindings_are_fresh() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings.ts");
        let want = super::typescript();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "ui/src/lib/bindings.ts is stale: run `make bindings` and commit the result"
        );
    }
}
