//! What a client needs to talk to a sandbox: its endpoints, demo apps and demo keys. A running
//! [`crate::Sandbox`] gives its own; a sandbox served by another process on the same data folder
//! gives it through their shared file ([`crate::SharedSandbox`]), so every process wires itself
//! to the same vendors.

use serde::{Deserialize, Serialize};

use crate::{Demo, OAuthClient, OAuthVendor, Sandbox};

/// One OAuth vendor's endpoints and demo app.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OAuthApp {
    pub vendor: OAuthVendor,
    /// Its base URL: authorize, token and data paths hang off it.
    pub url: String,
    pub client: OAuthClient,
    pub public_client: Option<String>,
    pub issuer: Option<String>,
}

/// A sandbox's endpoints, demo apps and demo keys (nothing here is a real secret).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Directory {
    pub solaredge_url: String,
    pub solis_url: String,
    pub demo: Demo,
    pub oauth: Vec<OAuthApp>,
    pub pelm_url: String,
    pub pelm_client: (String, String),
    pub derapi_url: String,
    pub derapi_client: (String, String),
    pub derapi_vendor_credentials: Vec<(String, String)>,
    pub enphase_partner: EnphasePartner,
}

/// Enphase's partner plan in the sandbox: the partner application (client id, secret, API key)
/// and the Enlighten user it signs in as (the password grant).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnphasePartner {
    pub client_id: String,
    pub client_secret: String,
    pub api_key: String,
    pub username: String,
    pub password: String,
}

impl From<&Sandbox> for Directory {
    fn from(sb: &Sandbox) -> Directory {
        sb.directory()
    }
}

impl From<&Directory> for Directory {
    fn from(d: &Directory) -> Directory {
        d.clone()
    }
}

/// The same names as [`Sandbox`]'s, for code that wires either.
impl Directory {
    fn app(&self, vendor: OAuthVendor) -> &OAuthApp {
        self.oauth
            .iter()
            .find(|a| a.vendor == vendor)
            .expect("every OAuth vendor is served")
    }

    pub fn solaredge_url(&self) -> String {
        self.solaredge_url.clone()
    }

    pub fn solis_url(&self) -> String {
        self.solis_url.clone()
    }

    pub fn demo(&self) -> &Demo {
        &self.demo
    }

    pub fn oauth_url(&self, vendor: OAuthVendor) -> String {
        self.app(vendor).url.clone()
    }

    pub fn oauth_client(&self, vendor: OAuthVendor) -> OAuthClient {
        self.app(vendor).client.clone()
    }

    pub fn oauth_public_client(&self, vendor: OAuthVendor) -> Option<String> {
        self.app(vendor).public_client.clone()
    }

    pub fn oauth_issuer(&self, vendor: OAuthVendor) -> Option<String> {
        self.app(vendor).issuer.clone()
    }

    pub fn revoke_url(&self, vendor: OAuthVendor) -> Option<String> {
        vendor
            .revoke_path()
            .map(|path| format!("{}{path}", self.oauth_url(vendor)))
    }

    pub fn utilityapi_url(&self) -> String {
        self.oauth_url(OAuthVendor::UtilityApi)
    }

    pub fn utilityapi_client(&self) -> OAuthClient {
        self.oauth_client(OAuthVendor::UtilityApi)
    }

    pub fn metry_url(&self) -> String {
        self.oauth_url(OAuthVendor::Metry)
    }

    pub fn metry_client(&self) -> OAuthClient {
        self.oauth_client(OAuthVendor::Metry)
    }

    pub fn pelm_url(&self) -> String {
        self.pelm_url.clone()
    }

    pub fn pelm_connect_url(&self) -> String {
        format!("{}/connect/", self.pelm_url)
    }

    pub fn pelm_client(&self) -> (String, String) {
        self.pelm_client.clone()
    }

    pub fn derapi_url(&self) -> String {
        self.derapi_url.clone()
    }

    pub fn derapi_client(&self) -> (String, String) {
        self.derapi_client.clone()
    }

    pub fn derapi_vendor_credentials(&self) -> Vec<(String, String)> {
        self.derapi_vendor_credentials.clone()
    }

    pub fn enphase_partner(&self) -> EnphasePartner {
        self.enphase_partner.clone()
    }

    /// Endpoints and demo keys, for people.
    pub fn describe(&self) -> String {
        let d = &self.demo;
        let mut s = String::new();
        s.push_str("Onramp sandbox: simulated vendors on loopback\n\n");
        s.push_str(&format!(
            "SolarEdge Monitoring API V2  {}\n",
            self.solaredge_url()
        ));
        s.push_str(&format!(
            "  fleet API key          {}  (homeowners sign in: Site Access)\n",
            d.solaredge_account_key
        ));
        s.push_str(&format!(
            "\nSolis Cloud                  {}\n",
            self.solis_url()
        ));
        s.push_str(&format!(
            "  installer account      KeyId {}  KeySecret {}\n",
            d.solis_account.key_id, d.solis_account.key_secret
        ));
        for k in &d.solis_customer_keys {
            s.push_str(&format!(
                "  customer key           KeyId {}  KeySecret {}  ({} station(s))\n",
                k.key_id,
                k.key_secret,
                k.station_ids.len()
            ));
        }
        s.push_str(&format!(
            "\nUtilityAPI Green Button      {} (utilities demo, demo_gas)\nMetry                        {}\nPelm                         {} (Connect {})\nDerapi                       {}\n",
            self.utilityapi_url(),
            self.metry_url(),
            self.pelm_url(),
            self.pelm_connect_url(),
            self.derapi_url()
        ));
        let p = self.enphase_partner();
        s.push_str(&format!(
            "\nEnphase partner plan (installer account)\n  partner app            client id {}  secret {}  API key {}\n  Enlighten user         {}  password {}\n",
            p.client_id, p.client_secret, p.api_key, p.username, p.password
        ));
        s
    }

    /// Endpoints, demo keys and demo apps as JSON, for clients written elsewhere (the contract
    /// tests in tests/contract): nothing here is a real secret.
    pub fn describe_json(&self) -> serde_json::Value {
        let d = &self.demo;
        let app = |v: OAuthVendor| {
            let c = self.oauth_client(v);
            serde_json::json!({"url": self.oauth_url(v), "client_id": c.client_id,
                "client_secret": c.client_secret, "api_key": c.api_key})
        };
        let (derapi_id, derapi_secret) = self.derapi_client();
        serde_json::json!({
            "solaredge": {"url": self.solaredge_url(), "fleet_api_key": d.solaredge_account_key,
                "site_access": app(OAuthVendor::SolarEdgeSite)},
            "solis": {"url": self.solis_url(), "account": d.solis_account,
                "customers": d.solis_customer_keys},
            "tesla": app(OAuthVendor::Tesla),
            "enphase": app(OAuthVendor::Enphase),
            "sma": app(OAuthVendor::Sma),
            "derapi": {"url": self.derapi_url(), "client_id": derapi_id,
                "client_secret": derapi_secret,
                "vendor_credentials": self.derapi_vendor_credentials().into_iter()
                    .collect::<std::collections::BTreeMap<_, _>>()},
        })
    }
}
