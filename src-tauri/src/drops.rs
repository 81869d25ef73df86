//! Files dropped on the window, as the window's own drop event gives them to the shell (not as
//! the webview says): each drop's paths are kept here under a number, and the UI is told the
//! number and the files' names (`files-dropped`). A file import names a drop and a name, so the
//! webview can import only what the installer dropped, never a path of its choosing.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Mutex;

use onramp_core::model::{ui_event, FilesDropped};
use tauri::{DragDropEvent, Emitter, Manager, Window, WindowEvent};

/// Drops kept: the UI imports a drop at once; older ones are forgotten.
const KEPT: usize = 8;

#[derive(Default)]
pub struct Drops(Mutex<Inner>);

#[derive(Default)]
struct Inner {
    next: u32,
    kept: VecDeque<(u32, Vec<PathBuf>)>,
}

impl Drops {
    /// Keeps a drop's paths; its number and the files' names, for the UI.
    pub fn add(&self, paths: Vec<PathBuf>) -> FilesDropped {
        let mut d = self.0.lock().unwrap_or_else(|e| e.into_inner());
        d.next = d.next.wrapping_add(1);
        let drop = d.next;
        let names = paths.iter().map(|p| name_of(p)).collect();
        d.kept.push_back((drop, paths));
        while d.kept.len() > KEPT {
            d.kept.pop_front();
        }
        FilesDropped { drop, names }
    }

    /// The path of the file called `name` in drop `drop`, if that drop is still kept.
    pub fn path(&self, drop: u32, name: &str) -> Option<PathBuf> {
        let d = self.0.lock().unwrap_or_else(|e| e.into_inner());
        d.kept
            .iter()
            .find(|(n, _)| *n == drop)
            .and_then(|(_, paths)| paths.iter().find(|p| name_of(p) == name).cloned())
    }
}

fn name_of(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The window's drop event: its paths kept, the UI told.
pub fn on_window_event(window: &Window, event: &WindowEvent) {
    if let WindowEvent::DragDrop(DragDropEvent::Drop { paths, .. }) = event {
        if paths.is_empty() {
            return;
        }
        let Some(state) = window.try_state::<crate::AppState>() else {
            return;
        };
        let dropped = state.drops.add(paths.clone());
        let _ = window.emit(ui_event::FILES_DROPPED, &dropped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drop_names_only_its_own_files_and_old_drops_are_forgotten() {
        let d = Drops::default();
        let first = d.add(vec![
            "/home/i/Downloads/usage.xml".into(),
            "/tmp/notes.txt".into(),
        ]);
        assert_eq!(first.names, ["usage.xml", "notes.txt"]);
        assert_eq!(
            d.path(first.drop, "usage.xml"),
            Some(PathBuf::from("/home/i/Downloads/usage.xml"))
        );
        assert_eq!(d.path(first.drop, "passwd"), None);
        assert_eq!(d.path(first.drop, "/etc/passwd"), None);
        assert_eq!(d.path(first.drop + 1, "usage.xml"), None);
        for _ in 0..KEPT {
            d.add(vec!["/x/y.xml".into()]);
        }
        assert_eq!(d.path(first.drop, "usage.xml"), None, "forgotten");
    }
}
