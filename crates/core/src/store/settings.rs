//! This laptop's settings that are not a vendor's: the installer's name (written with every
//! event they cause) and the providers the company uses. Kept in `meta`; the installer's name is
//! also held in memory, since every event reads it.

use super::*;

const INSTALLER_NAME: &str = "installer_name";
const COMPANY_PROVIDERS: &str = "company_providers";

impl Store {
    /// Reads the settings held in memory (at open).
    pub(super) async fn load_settings(&self) -> Result<()> {
        let name: Option<String> = sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(INSTALLER_NAME)
            .fetch_optional(&self.pool)
            .await?;
        *self.installer.write().unwrap_or_else(|p| p.into_inner()) = name;
        Ok(())
    }

    /// The installer's name, as events record it.
    pub fn installer_name(&self) -> Option<String> {
        self.installer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sets (or, with `None`, clears) the installer's name.
    pub async fn set_installer_name(&self, name: Option<&str>) -> Result<()> {
        self.set_meta(INSTALLER_NAME, name).await?;
        *self.installer.write().unwrap_or_else(|p| p.into_inner()) = name.map(str::to_string);
        Ok(())
    }

    /// The providers the company uses, in its order; `None`: every provider (never chosen).
    pub async fn company_providers(&self) -> Result<Option<Vec<ProviderId>>> {
        let v: Option<String> = sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(COMPANY_PROVIDERS)
            .fetch_optional(&self.pool)
            .await?;
        let Some(v) = v else { return Ok(None) };
        let names: Vec<String> = serde_json::from_str(&v)
            .map_err(|e| Error::unreadable("the company's providers", e))?;
        // A provider this version no longer knows is left out, not an error.
        Ok(Some(
            names.iter().filter_map(|n| ProviderId::parse(n)).collect(),
        ))
    }

    /// Sets the providers the company uses (`None`: every provider).
    pub async fn set_company_providers(&self, providers: Option<&[ProviderId]>) -> Result<()> {
        let v = providers.map(|ps| {
            serde_json::Value::from(ps.iter().map(|p| p.as_str()).collect::<Vec<_>>()).to_string()
        });
        self.set_meta(COMPANY_PROVIDERS, v.as_deref()).await
    }

    async fn set_meta(&self, key: &str, value: Option<&str>) -> Result<()> {
        match value {
            Some(v) => {
                sqlx::query(
                    "INSERT INTO meta (key, value) VALUES (?, ?)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .bind(key)
                .bind(v)
                .execute(&self.writer)
                .await?
            }
            None => {
                sqlx::query("DELETE FROM meta WHERE key = ?")
                    .bind(key)
                    .execute(&self.writer)
                    .await?
            }
        };
        Ok(())
    }
}
