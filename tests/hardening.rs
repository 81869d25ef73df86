//! The desktop shell's attack surface, read from the files Tauri builds it from: the window may
//! call Onramp's own commands and listen to its events, nothing else; the content security
//! policy allows no remote code; no shell, file-system or HTTP plugin is linked. A change that
//! widens any of these fails here and must be argued for.

use std::path::PathBuf;

fn shell_file(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../src-tauri")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn the_window_gets_onramps_commands_and_events_only() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../src-tauri/capabilities");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["default.json"], "one capability file");
    let cap: serde_json::Value =
        serde_json::from_str(&shell_file("capabilities/default.json")).unwrap();
    assert_eq!(cap["windows"], serde_json::json!(["main"]));
    assert_eq!(
        cap["permissions"],
        serde_json::json!(["core:event:default"]),
        "only listening to Onramp's own events (the drop and background-refresh notices)"
    );
    assert!(
        cap.get("remote").is_none(),
        "no remote origin may call commands"
    );
}

#[test]
fn the_content_security_policy_allows_no_remote_code() {
    let conf: serde_json::Value = serde_json::from_str(&shell_file("tauri.conf.json")).unwrap();
    let csp = conf["app"]["security"]["csp"]
        .as_str()
        .expect("a CSP is set");
    let directive = |name: &str| {
        csp.split(';')
            .map(str::trim)
            .find(|d| d.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in {csp}"))
            .to_string()
    };
    assert_eq!(directive("default-src"), "default-src 'self'");
    assert_eq!(directive("script-src"), "script-src 'self'");
    assert_eq!(directive("object-src"), "object-src 'none'");
    assert_eq!(directive("frame-ancestors"), "frame-ancestors 'none'");
    assert!(!csp.contains("unsafe-eval"), "{csp}");
    assert!(
        !csp.contains("https:") && !csp.contains("http://*") && !csp.contains(" *"),
        "no remote origins: {csp}"
    );
    assert!(
        conf["app"]["security"]
            .get("dangerousDisableAssetCspModification")
            .is_none()
            && conf["app"]
                .get("withGlobalTauri")
                .is_none_or(|v| v == false),
        "no CSP escape hatches, no global Tauri object"
    );
}

#[test]
fn no_shell_fs_or_http_plugin_is_linked() {
    let cargo = shell_file("Cargo.toml");
    for plugin in [
        "tauri-plugin-shell",
        "tauri-plugin-fs",
        "tauri-plugin-http",
        "tauri-plugin-process",
    ] {
        assert!(!cargo.contains(plugin), "{plugin} is linked");
    }
}

/// Every command the UI calls is one the shell registers, and the other way round: no
/// forgotten door stays open.
#[test]
fn the_ui_calls_exactly_the_registered_commands() {
    let lib = shell_file("src/lib.rs");
    let handler = lib
        .split("generate_handler![")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .expect("an invoke handler");
    let mut registered: Vec<String> = handler
        .split(',')
        .map(|c| c.trim().rsplit("::").next().unwrap_or_default().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    registered.sort();
    let ui = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/backend.ts"),
    )
    .unwrap();
    let mut called: Vec<String> = ui
        .split("call(\"")
        .skip(1)
        .chain(ui.split("invoke<UsageImport>(\"").skip(1))
        .map(|s| s.split('"').next().unwrap_or_default().to_string())
        .collect();
    called.sort();
    called.dedup();
    assert_eq!(registered, called);
}
