use super::*;

/// `fetch-token` as Derapi's SDK reads it: camelCase, `expiresIn` a string.
#[test]
fn reads_a_fetch_token_answer() {
    let v = json!({"vendor": "enphasevpp", "accessToken": "at", "refreshToken": "rt",
        "expiresIn": "3600", "siteID": "s-1"});
    let t = session_tokens(&v).unwrap();
    assert_eq!(t.access_token.expose(), "at");
    assert_eq!(t.refresh_token.unwrap().expose(), "rt");
    assert_eq!(
        (t.expires_in, t.site_id.as_deref()),
        (Some(3600), Some("s-1"))
    );
    // Onramp's earlier picture (`token`) is not Derapi's.
    assert!(session_tokens(&json!({"token": "pt_1", "vendor": "sma"})).is_err());
}

#[test]
fn vendor_entries_name_stored_credentials() {
    assert_eq!(
        vendor_entry("tesla", Some("vc-1")),
        json!({"vendor": "tesla", "credentials": {"credentialsID": "vc-1"}})
    );
    assert_eq!(vendor_entry("solis", None), json!({"vendor": "solis"}));
    assert!(vendor_label("enphase_grid_services").is_none());
    assert!(vendor_label("enphasevpp").is_some());
}
