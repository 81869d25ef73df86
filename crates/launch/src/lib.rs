//! Opening Onramp the same way from the app and the CLI: read `onramp.toml`; in the Sandbox
//! environment open the data folder's simulated vendors (served by this process, or by another
//! Onramp on the same folder: see `onramp_sandbox::shared`) and point every provider, key-based
//! and OAuth, at them with the sandbox's demo keys and demo apps; then open the service.

use std::path::PathBuf;

use onramp_core::config::{Config, Utility};
use onramp_core::model::{Environment, ProviderId, SandboxDemoKey};
use onramp_core::providers::oauth::{AppCredentials, Endpoints};
use onramp_core::vault::Sensitive;
use onramp_core::{Error, Onramp, OpenOptions, Result};
use onramp_sandbox::{Directory, OAuthVendor, SandboxConfig, SharedSandbox, Vendor};

/// The service, and the data folder's sandbox beside it (Sandbox environment only).
pub struct Launched {
    pub onramp: Onramp,
    pub sandbox: Option<SharedSandbox>,
}

pub struct Launch {
    pub data_dir: PathBuf,
    pub config_file: PathBuf,
    /// `app` or `cli`, for the activity log.
    pub actor: &'static str,
}

fn provider_of(v: OAuthVendor) -> ProviderId {
    match v {
        OAuthVendor::Tesla => ProviderId::Tesla,
        OAuthVendor::Enphase => ProviderId::Enphase,
        OAuthVendor::Sma => ProviderId::Sma,
        OAuthVendor::SolarEdgeSite => ProviderId::Solaredge,
        OAuthVendor::UtilityApi => ProviderId::Utilityapi,
        OAuthVendor::Metry => ProviderId::Metry,
    }
}

/// Demo keys as the UI lists them.
pub fn sandbox_keys(sb: &Directory) -> Vec<SandboxDemoKey> {
    let p = sb.enphase_partner();
    let partner = SandboxDemoKey {
        provider: ProviderId::Enphase,
        label: "Installer account (partner plan)".into(),
        api_key: Some(p.api_key),
        key_id: None,
        key_secret: None,
        client_id: Some(p.client_id),
        client_secret: Some(p.client_secret),
        username: Some(p.username),
        password: Some(p.password),
    };
    sb.demo()
        .keys()
        .into_iter()
        .map(|k| SandboxDemoKey {
            provider: match k.vendor {
                Vendor::SolarEdge => ProviderId::Solaredge,
                Vendor::Solis => ProviderId::Solis,
            },
            label: k.label,
            api_key: k.api_key,
            key_id: k.key_id,
            key_secret: k.key_secret,
            client_id: None,
            client_secret: None,
            username: None,
            password: None,
        })
        .chain(std::iter::once(partner))
        .collect()
}

fn app(client_id: String, secret: String) -> AppCredentials {
    AppCredentials {
        client_id,
        client_secret: Some(Sensitive::new(secret)),
        api_key: None,
    }
}

/// Points `config` at the sandbox (a running `Sandbox` or a `Directory`) and returns its demo
/// apps.
pub fn wire(sb: impl Into<Directory>, config: &mut Config) -> Vec<(ProviderId, AppCredentials)> {
    let sb: Directory = sb.into();
    config.set_base_url(ProviderId::Solaredge, sb.solaredge_url());
    config.set_base_url(ProviderId::Solis, sb.solis_url());
    let ua = sb.utilityapi_url();
    config.utilities = [
        ("demo", "Sandbox Utility (electric and gas)"),
        ("demo_gas", "Sandbox Gas Company"),
    ]
    .into_iter()
    .map(|(id, name)| Utility {
        id: id.into(),
        name: name.into(),
        authorize_url: format!("{ua}/DataCustodian/{id}/oauth/authorize"),
        token_url: format!("{ua}/DataCustodian/{id}/oauth/token"),
    })
    .collect();
    config.set_oauth_endpoints(ProviderId::Utilityapi, Endpoints::same(&ua));
    config.set_oauth_endpoints(ProviderId::Metry, Endpoints::same(&sb.metry_url()));
    config.set_oauth_endpoints(
        ProviderId::Pelm,
        Endpoints {
            authorize_url: sb.pelm_connect_url(),
            token_url: sb.pelm_url(),
            api_url: sb.pelm_url(),
        },
    );
    config.set_oauth_endpoints(ProviderId::Derapi, Endpoints::same(&sb.derapi_url()));
    config
        .oauth
        .entry(ProviderId::Derapi.as_str().to_string())
        .or_default()
        .vendor_credentials
        .extend(sb.derapi_vendor_credentials());
    let ua_client = sb.utilityapi_client();
    let metry = sb.metry_client();
    let (pelm_id, pelm_secret) = sb.pelm_client();
    let (derapi_id, derapi_secret) = sb.derapi_client();
    let mut apps = vec![
        (
            ProviderId::Utilityapi,
            app(ua_client.client_id, ua_client.client_secret),
        ),
        (ProviderId::Metry, app(metry.client_id, metry.client_secret)),
        (ProviderId::Pelm, app(pelm_id, pelm_secret)),
        (ProviderId::Derapi, app(derapi_id, derapi_secret)),
    ];
    apps.extend(OAuthVendor::ALL.into_iter().map(|v| {
        let p = provider_of(v);
        config.set_oauth_endpoints(p, Endpoints::same(&sb.oauth_url(v)));
        let c = config.oauth.entry(p.as_str().to_string()).or_default();
        c.revoke_url = sb.revoke_url(v);
        // The sandbox's issuer, where its answers name one (Tesla).
        c.issuer = sb.oauth_issuer(v);
        let c = sb.oauth_client(v);
        (
            p,
            AppCredentials {
                client_id: c.client_id,
                client_secret: Some(Sensitive::new(c.client_secret)),
                api_key: c.api_key.map(Sensitive::new),
            },
        )
    }));
    apps
}

pub async fn open(launch: Launch) -> Result<Launched> {
    let mut config = Config::load(&launch.config_file)?;
    let mut sandbox = None;
    let mut keys = Vec::new();
    let mut apps = Vec::new();
    if config.environment == Environment::Sandbox {
        onramp_core::private::create_dir(&launch.data_dir).map_err(|e| {
            Error::internal(format!(
                "Cannot create the data folder {}: {e}",
                launch.data_dir.display()
            ))
            .hint("Choose a data folder you can write to (--data-dir, or ONRAMP_DATA_DIR).")
        })?;
        let sb = SharedSandbox::open(
            &launch.data_dir,
            SandboxConfig {
                solaredge_port: config.sandbox.solaredge_port,
                solis_port: config.sandbox.solis_port,
                ..SandboxConfig::default()
            },
        )
        .await
        .map_err(|e| {
            Error::internal(format!("The sandbox could not start: {e}")).hint(
                "Check the [sandbox] ports in onramp.toml (0: the ones this data folder \
                 remembers), and that no other Onramp on this data folder is stuck.",
            )
        })?;
        for m in sb.moved_ports() {
            tracing::warn!(
                server = %m.server,
                from = m.from,
                to = m.to,
                "a sandbox vendor's port was taken by another program: it moved; Sandbox \
                 connections made before may need connecting again"
            );
        }
        apps = wire(sb.directory(), &mut config);
        keys = sandbox_keys(sb.directory());
        let d = sb.directory();
        tracing::info!(serving = sb.served().is_some(), solaredge = %d.solaredge_url(),
            solis = %d.solis_url(), "sandbox open");
        sandbox = Some(sb);
    }
    let onramp = Onramp::open(OpenOptions {
        data_dir: launch.data_dir,
        config_file: launch.config_file,
        config,
        actor: launch.actor,
        sandbox_keys: keys,
        oauth_apps: apps,
    })
    .await?;
    Ok(Launched { onramp, sandbox })
}

#[cfg(test)]
mod tests {
    use onramp_core::config::Config;
    use onramp_core::model::ProviderId;
    use onramp_core::providers;
    use onramp_sandbox::{Sandbox, SandboxConfig};

    /// The checklist's sandbox half: every provider core declares is wired to the sandbox (its
    /// API or its sign-in endpoints on loopback, a demo app for each sign-in), so a vendor added
    /// to core and forgotten here fails.
    #[tokio::test]
    async fn every_provider_is_wired_to_the_sandbox() {
        let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
        let mut config = Config::default();
        let apps = super::wire(&sb, &mut config);
        let on_loopback = |url: &str| url.starts_with("http://127.0.0.1:");
        for id in ProviderId::ALL {
            let spec = providers::spec(id);
            match config.oauth_endpoints(id) {
                Some(ep) => {
                    for url in [&ep.authorize_url, &ep.token_url, &ep.api_url] {
                        assert!(on_loopback(url), "{id}: {url} is not the sandbox");
                    }
                    assert!(
                        apps.iter().any(|(p, _)| *p == id),
                        "{id}: the sandbox has no demo app"
                    );
                }
                None => assert!(spec.oauth.is_none()),
            }
            if spec.keyed() || (spec.oauth.is_none() && !spec.installer_fields().is_empty()) {
                let url = config.base_url(id);
                assert!(on_loopback(url), "{id}: its API {url} is not the sandbox");
            }
        }
    }
}
