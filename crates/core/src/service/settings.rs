//! The laptop's own settings: the installer's name, which every event they cause records (the
//! consent record names who acted), and the providers the company uses (the customer page lists
//! those).

use super::Onramp;
use crate::error::{Error, Result};
use crate::model::{CompanySettings, ProviderId};

impl Onramp {
    /// The installer's name and the company's providers.
    pub async fn company_settings(&self) -> Result<CompanySettings> {
        let chosen = self.store.company_providers().await?;
        Ok(CompanySettings {
            installer_name: self.store.installer_name(),
            providers: chosen.clone().unwrap_or_else(|| ProviderId::ALL.to_vec()),
            all_providers: chosen.is_none(),
        })
    }

    /// Saves the installer's name (blank: none) and the providers the company uses (every one
    /// of them, or none chosen: all). Nothing is saved when either is refused.
    pub async fn save_company_settings(&self, s: &CompanySettings) -> Result<CompanySettings> {
        let name = s
            .installer_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        if let Some(n) = name {
            if n.chars().count() > 80 || n.chars().any(char::is_control) {
                return Err(
                    Error::validation("Your name is too long or has line breaks.").hint(
                        "Write it as it should appear in the activity export, e.g. Sam Ortiz.",
                    ),
                );
            }
        }
        let mut providers: Vec<ProviderId> = Vec::new();
        for p in &s.providers {
            if !providers.contains(p) {
                providers.push(*p);
            }
        }
        if !s.all_providers && providers.is_empty() {
            return Err(
                Error::validation("Choose at least one provider your installers use.")
                    .hint("Or choose All providers."),
            );
        }
        let chosen = (!s.all_providers && providers.len() < ProviderId::ALL.len())
            .then_some(providers.as_slice());
        self.store.set_company_providers(chosen).await?;
        self.store.set_installer_name(name).await?;
        self.company_settings().await
    }
}
