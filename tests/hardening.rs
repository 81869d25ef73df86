//! The desktop shell's attack surface, read from the files Tauri builds it from: every command
//! is declared to Tauri, gated and granted (the same set in build.rs, the capability and the
//! invoke handler); the window may listen to Onramp's events and nothing else of Tauri's; no
//! CSP escape hatch; no shell, file-system or HTTP plugin is linked. A change that widens any
//! of these fails here and must be argued for. What these files mean at run time is tested by
//! behaviour in the real window (tests/e2e: a command not granted is refused, the CSP blocks
//! inline and foreign scripts) and for the relay page in WebKitGTK (tests/relay).

use std::path::PathBuf;

fn shell_file(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../src-tauri")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The commands the invoke handler in `src/lib.rs` registers, by name.
fn registered_commands() -> Vec<String> {
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
    registered
}

/// The commands `build.rs` declares to Tauri (`AppManifest::commands`): each is gated by an
/// `allow-<command>` permission.
fn declared_commands() -> Vec<String> {
    let build = shell_file("build.rs");
    assert!(
        build.contains(".app_manifest(tauri_build::AppManifest::new().commands(COMMANDS))"),
        "build.rs declares the app's commands to Tauri"
    );
    let list = build
        .split("const COMMANDS: &[&str] = &[")
        .nth(1)
        .and_then(|s| s.split("];").next())
        .expect("a COMMANDS list in build.rs");
    let mut declared: Vec<String> = list
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_string())
        .filter(|c| !c.is_empty())
        .collect();
    declared.sort();
    declared
}

/// A command registered but not declared would be callable with no permission at all; one
/// declared but not granted is refused, one granted but not registered is a stale door. The
/// three lists are the same set. (The real window's e2e shows Tauri refusing what is not
/// granted.)
#[test]
fn every_command_is_declared_gated_and_granted() {
    let registered = registered_commands();
    assert!(registered.len() > 30, "{registered:?}");
    assert_eq!(
        declared_commands(),
        registered,
        "build.rs == invoke handler"
    );

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../src-tauri/capabilities");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["default.json"], "one capability file");
    let cap: serde_json::Value =
        serde_json::from_str(&shell_file("capabilities/default.json")).unwrap();
    assert_eq!(cap["windows"], serde_json::json!(["main"]));
    assert!(
        cap.get("remote").is_none(),
        "no remote origin may call commands"
    );
    let permissions: Vec<&str> = cap["permissions"]
        .as_array()
        .expect("a permission list")
        .iter()
        .map(|p| p.as_str().expect("permissions by name"))
        .collect();
    let (core, app): (Vec<&str>, Vec<&str>) = permissions.iter().partition(|p| p.contains(':'));
    assert_eq!(
        core,
        ["core:event:default"],
        "of Tauri's own, only listening to Onramp's events (the drop and background notices)"
    );
    let mut granted: Vec<String> = app
        .iter()
        .map(|p| {
            p.strip_prefix("allow-")
                .unwrap_or_else(|| panic!("{p}: only allow- permissions"))
                .replace('-', "_")
        })
        .collect();
    granted.sort();
    assert_eq!(granted, registered, "capability == invoke handler");
}

/// The webview never names a file: a file to read comes as the bytes of one picked in the
/// window's file chooser, or as a drop's number and a file's name, looked up in what the
/// window's own drop event gave the shell. So no command takes a path (or a folder) as an
/// argument. (The e2e picks real files through the chooser; `drops.rs` tests the lookup.)
#[test]
fn no_command_takes_a_path_from_the_webview() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../src-tauri/src");
    let mut commands = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let file = entry.unwrap().path();
        let source = std::fs::read_to_string(&file).unwrap();
        for command in source.split("#[tauri::command]").skip(1) {
            let signature = command.split('{').next().unwrap_or_default();
            let name = signature
                .split("fn ")
                .nth(1)
                .and_then(|s| s.split('(').next())
                .unwrap_or_default()
                .trim();
            let params = signature
                .split_once('(')
                .map(|(_, p)| p)
                .unwrap_or_default();
            for param in params.split(',') {
                let Some((arg, ty)) = param.split_once(':') else {
                    continue;
                };
                let (arg, ty) = (arg.trim(), ty.trim());
                assert!(
                    !ty.contains("Path") && !["path", "file", "folder", "dir"].contains(&arg),
                    "{}: `{name}` takes `{arg}: {ty}` from the webview",
                    file.display()
                );
            }
            commands += 1;
        }
    }
    assert!(commands > 30, "found {commands} commands");
}

/// What the real window does not show by itself: the policy's other directives and no escape
/// hatch. (Scripts are tested by behaviour in the e2e: inline, another origin's and eval are
/// blocked and reported.)
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
    assert_eq!(directive("object-src"), "object-src 'none'");
    assert_eq!(directive("frame-ancestors"), "frame-ancestors 'none'");
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
    let registered = registered_commands();
    let ui = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/backend.ts"),
    )
    .unwrap();
    // `call("name", …)`, and `invoke<Type>("name", bytes, …)` for a file's raw bytes.
    let raw = ui
        .split("invoke<")
        .skip(1)
        .filter_map(|s| s.split_once(">(\""));
    let mut called: Vec<String> = ui
        .split("call(\"")
        .skip(1)
        .chain(raw.map(|(_, rest)| rest))
        .map(|s| s.split('"').next().unwrap_or_default().to_string())
        .collect();
    called.sort();
    called.dedup();
    assert_eq!(registered, called);
}
