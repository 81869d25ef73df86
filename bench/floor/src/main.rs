//! The floor of Onramp's start-up and memory benchmark (`onramp-bench startup`): a Tauri app
//! with one window and a static page, built with the same profile and Tauri as Onramp. It
//! prints `ui ready after N ms` when its page has painted, as Onramp does.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::time::Instant;

static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

#[tauri::command]
fn ui_ready() {
    let ms = STARTED.get().map_or(0, |t| t.elapsed().as_millis());
    println!("ui ready after {ms} ms");
}

fn main() {
    STARTED.get_or_init(Instant::now);
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![ui_ready])
        .run(tauri::generate_context!())
        .expect("the floor app failed to start");
}
