//! `onramp.toml` (`config::Config`). Properties: an accepted file's addresses are URLs, and
//! the configuration written back as TOML reads as the same configuration.

use std::path::Path;

use onramp_core::config::Config;

pub fn config(data: &[u8]) {
    let Some(text) = super::text(data) else {
        return;
    };
    let path = Path::new("onramp.toml");
    let Ok(c) = Config::from_toml(text, path) else {
        return;
    };
    for ep in c.apis.values() {
        assert!(url::Url::parse(&ep.base_url).is_ok());
    }
    let written = match toml::to_string(&c) {
        Ok(t) => t,
        // TOML cannot write every value (a NaN-free float, a map key order): nothing to compare.
        Err(_) => return,
    };
    match Config::from_toml(&written, path) {
        Ok(again) => assert_eq!(again, c, "{written}"),
        Err(e) => panic!(
            "the configuration written back is refused ({}):\n{written}",
            e.message
        ),
    }
}
