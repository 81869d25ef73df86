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
        AppStatus::decl(&cfg),
        BackupSummary::decl(&cfg),
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
        Environment::decl(&cfg),
        ErrorInfo::decl(&cfg),
        Event::decl(&cfg),
        EventKind::decl(&cfg),
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
        UsageImport::decl(&cfg),
        UsageMonth::decl(&cfg),
        UsageSeries::decl(&cfg),
        VaultState::decl(&cfg),
        VaultStatus::decl(&cfg),
        VendorApp::decl(&cfg),
        VendorAppInput::decl(&cfg),
    ];
    decls.sort();
    let mut out = String::from(HEADER);
    for d in decls {
        out.push_str("export ");
        out.push_str(d.trim());
        out.push('\n');
    }
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
