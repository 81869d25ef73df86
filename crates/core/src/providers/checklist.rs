//! Every provider is declared everywhere it must be: a vendor left out of one place fails
//! here, not in a customer's hands. (The sandbox wiring is checked in `crates/launch`.)
use super::*;

#[test]
fn every_provider_has_its_facts_its_name_and_its_binding() {
    let bindings = crate::bindings::typescript();
    let union = bindings
        .lines()
        .find(|l| l.starts_with("export type ProviderId ="))
        .expect("ProviderId is in the bindings");
    for id in ProviderId::ALL {
        let spec = spec(id);
        assert_eq!(
            spec.id, id,
            "{id}: the registry hands out another vendor's facts"
        );
        assert_eq!(ProviderId::parse(id.as_str()), Some(id));
        assert_eq!(
            serde_json::to_value(id).unwrap(),
            serde_json::Value::String(id.as_str().into()),
            "{id}: its JSON name is its name"
        );
        assert!(
            union.contains(&format!("\"{id}\"")),
            "{id} is missing from bindings.ts"
        );
        assert!(!spec.name.is_empty() && !spec.site_noun.is_empty());
        // A provider connects somehow: a customer key, an installer account, or a sign-in.
        assert!(
            spec.keyed() || !spec.installer_fields().is_empty() || spec.oauth.is_some(),
            "{id} has no way to connect"
        );
        if let Some(name) = spec.sign_in_name {
            assert!(
                spec.oauth.is_some(),
                "{id}: a sign-in name without a sign-in"
            );
            assert!(ProviderId::parse(name).is_none());
        }
    }
    // The hooks that go in pairs agree (a future that is made is not run).
    let (client, details) = (
        http::Client::new().unwrap(),
        crate::model::ConnectionDetails::default(),
    );
    let (access, endpoints) = (Sensitive::new(String::new()), oauth::Endpoints::same(""));
    for id in ProviderId::ALL {
        let v = vendor(id);
        let usage = v.usage(UsageRequest {
            client: &client,
            endpoints: &endpoints,
            access: &access,
            details: &details,
            year: 2026,
        });
        assert_eq!(
            v.gives_usage(),
            usage.is_some(),
            "{id}: gives_usage and usage differ"
        );
        if v.api_section() {
            let s = spec(id);
            assert!(
                s.keyed() || !s.installer_fields().is_empty(),
                "{id}: an API base section without a key"
            );
        }
        if v.account_signs_in() || v.answers_without_code() || v.polled_sign_in().is_some() {
            assert!(
                spec(id).oauth.is_some(),
                "{id}: a sign-in hook without a sign-in"
            );
        }
        if v.checks_with_app() || v.gives_usage() {
            assert!(
                spec(id).oauth.is_some(),
                "{id}: an app check without a sign-in"
            );
        }
    }
    let names: std::collections::HashSet<_> = ProviderId::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(
        names.len(),
        ProviderId::ALL.len(),
        "two providers share a name"
    );
}

/// A new plain OAuth vendor is its facts and its discovery: every other hook has the
/// default a plain vendor needs. (Registered, it is also a `providers!` line, its registry
/// line, and its sandbox routes and wiring: the checks above and in `crates/launch` fail
/// until those are there.)
#[test]
fn a_plain_oauth_vendor_is_its_file() {
    use crate::model::RedirectMode;
    static OAUTH: oauth::OAuthSpec = oauth::OAuthSpec {
        authorize_path: "/authorize",
        token_path: "/token",
        scopes: "read",
        style: oauth::TokenStyle::FormBody,
        authorize_extra: &[],
        audience: false,
        refresh_without_secret: false,
        needs_api_key: false,
        hosts: oauth::OAuthHosts {
            authorize: "https://auth.example.com",
            token: "https://auth.example.com",
            api: "https://api.example.com",
        },
        default_redirect: RedirectMode::Loopback,
        paste_redirect_path: None,
        refresh_lifetime: None,
        help: "The owner signs in.",
        refusals: super::refusal::RFC6749,
    };
    static SPEC: ProviderSpec = ProviderSpec {
        id: ProviderId::Sma, // a stand-in: a real vendor has its own `providers!` line
        name: "Example",
        site_noun: "plant",
        production_base_url: "https://api.example.com",
        fields: &[],
        customer_key_help: "",
        account_key_help: "",
        oauth: Some(&OAUTH),
        account_fields: None,
        category: crate::model::Category::Devices,
        note: None,
        sign_in_name: None,
    };
    struct Example;
    impl Vendor for Example {
        fn spec(&self) -> &'static ProviderSpec {
            &SPEC
        }
        fn discover<'a>(&'a self, _d: Discovery<'a>) -> VendorFuture<'a, Vec<VendorSite>> {
            Box::pin(async { Ok(Vec::new()) })
        }
    }
    let v: &dyn Vendor = &Example;
    let info = v.spec().info(false);
    let sign_in = info.sign_in.expect("it signs in");
    assert_eq!(
        sign_in.modes,
        [RedirectMode::Loopback, RedirectMode::DeepLink]
    );
    assert!(sign_in.choices.is_empty() && info.fields.is_empty());
    assert!(v.spec().signs_in());
    assert!(!v.gives_usage() && !v.checks_with_app() && !v.public_client_allowed());
    let e = v
        .customer_key(&KeyInput::empty(ProviderId::Sma))
        .unwrap_err();
    assert_eq!(
        e.message,
        "Example connects by the customer signing in, not with a key."
    );
    let ep = oauth::Endpoints::defaults(&OAUTH);
    let config = crate::config::Config::default();
    let kept = v
        .grant_endpoints(&config, &Default::default(), ep.clone())
        .unwrap();
    assert_eq!(kept.token_url, "https://auth.example.com/token");
}
