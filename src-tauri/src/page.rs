//! The window's page, served with the first screen's data in it.
//!
//! The page is the built UI embedded in the binary. When the window asks for `index.html`, the
//! service is usually open already (it opens beside the window, and WebKit takes longer to
//! start its web process), so the first screen's data (the status, the providers, the first
//! page of customers) is read then and written into the page as a JSON block. The UI reads it
//! before it mounts, and its first frame is the finished screen: no call to the backend, and
//! no wait for the reply, sits between the page and the customers list.
//!
//! If the service is not open within [`WAIT_FOR_SERVICE`], or its read fails, the page goes out
//! as built and the UI asks for the same data by the usual commands.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::Duration;

use onramp_core::model::FirstScreen;
use tauri::utils::assets::{AssetKey, AssetsIter, CspHash};
use tauri::{App, AppHandle, Assets, Manager, Runtime};

use crate::AppState;

/// How long the page waits for the service before it goes out without the data.
const WAIT_FOR_SERVICE: Duration = Duration::from_millis(250);

/// The id of the JSON block in the page (read by the UI's `main.ts`).
pub const FIRST_SCREEN_ID: &str = "first-screen";

/// The embedded UI, with `index.html` carrying the first screen.
pub struct Page<R: Runtime> {
    built: Box<dyn Assets<R>>,
    app: OnceLock<AppHandle<R>>,
    /// Customers in the first page (the UI's `CUSTOMERS_PAGE`).
    first_page: u32,
}

impl<R: Runtime> Page<R> {
    pub fn new(built: Box<dyn Assets<R>>, first_page: u32) -> Self {
        Page {
            built,
            app: OnceLock::new(),
            first_page,
        }
    }

    /// The first screen's data, if the service opens in time and can read it.
    fn first_screen(&self) -> Option<FirstScreen> {
        let app = self.app.get()?;
        let state = app.try_state::<AppState>()?;
        let read = async {
            let onramp = tokio::time::timeout(WAIT_FOR_SERVICE, state.onramp())
                .await
                .ok()?
                .ok()?;
            match onramp.first_screen(self.first_page).await {
                Ok(screen) => Some(screen),
                Err(e) => {
                    tracing::warn!(code = ?e.code, "the first screen was not read with the page");
                    None
                }
            }
        };
        // Pages are served from a task on the async runtime: this one waits in place, and the
        // runtime's other work moves to the other threads meanwhile.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => tokio::task::block_in_place(|| rt.block_on(read)),
            Err(_) => tauri::async_runtime::block_on(read),
        }
    }
}

/// `html` with the first screen's JSON before `</head>`. The JSON is made safe to sit inside a
/// `<script>` element: no `<`, `>` or `&` is left in it (each is written as its `\u` escape,
/// which JSON reads back as the same character), so no text in it can close the element.
pub fn with_first_screen(html: &str, screen: &impl serde::Serialize) -> Option<String> {
    let json = serde_json::to_string(screen).ok()?;
    let json = json
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let at = html.find("</head>")?;
    let block =
        format!(r#"<script id="{FIRST_SCREEN_ID}" type="application/json">{json}</script>"#);
    Some(format!("{}{block}{}", &html[..at], &html[at..]))
}

impl<R: Runtime> Assets<R> for Page<R> {
    fn setup(&self, app: &App<R>) {
        let _ = self.app.set(app.handle().clone());
        self.built.setup(app);
    }

    fn get(&self, key: &AssetKey) -> Option<Cow<'_, [u8]>> {
        let built = self.built.get(key)?;
        if key.as_ref().trim_start_matches('/') != "index.html" {
            return Some(built);
        }
        let started = std::time::Instant::now();
        let html = std::str::from_utf8(&built).ok()?;
        let Some(page) = self
            .first_screen()
            .and_then(|screen| with_first_screen(html, &screen))
        else {
            tracing::debug!("page served without the first screen");
            return Some(built);
        };
        tracing::debug!(
            "page served with the first screen, read in {} ms",
            started.elapsed().as_millis()
        );
        Some(Cow::Owned(page.into_bytes()))
    }

    fn iter(&self) -> Box<AssetsIter<'_>> {
        self.built.iter()
    }

    fn csp_hashes(&self, html_path: &AssetKey) -> Box<dyn Iterator<Item = CspHash<'_>> + '_> {
        self.built.csp_hashes(html_path)
    }
}

/// Holds no files: it stands in the context for the moment the built files move into [`Page`].
pub struct NoFiles;

impl<R: Runtime> Assets<R> for NoFiles {
    fn get(&self, _key: &AssetKey) -> Option<Cow<'_, [u8]>> {
        None
    }

    fn iter(&self) -> Box<AssetsIter<'_>> {
        Box::new(std::iter::empty())
    }

    fn csp_hashes(&self, _html_path: &AssetKey) -> Box<dyn Iterator<Item = CspHash<'_>> + '_> {
        Box::new(std::iter::empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HTML: &str =
        "<!doctype html><html><head><title>Onramp</title></head><body></body></html>";

    /// The JSON text of the block in `page`, as the UI reads it.
    fn block(page: &str) -> &str {
        let open = format!(r#"<script id="{FIRST_SCREEN_ID}" type="application/json">"#);
        let from = page.find(&open).expect("the block is in the page") + open.len();
        let to = from + page[from..].find("</script>").expect("the block is closed");
        &page[from..to]
    }

    #[test]
    fn the_block_sits_in_the_head_and_reads_back_as_the_same_data() {
        let screen =
            serde_json::json!({"customers": {"total": 2, "customers": [{"name": "Ada & Co"}]}});
        let page = with_first_screen(HTML, &screen).unwrap();
        assert!(page.find(FIRST_SCREEN_ID).unwrap() < page.find("</head>").unwrap());
        assert!(page.ends_with("</head><body></body></html>"));
        let back: serde_json::Value = serde_json::from_str(block(&page)).unwrap();
        assert_eq!(back, screen);
    }

    #[test]
    fn no_name_can_close_the_block_or_open_markup() {
        let name = "</script><script>alert(1)</script><!-- & </SCRIPT >";
        let screen = serde_json::json!({"name": name});
        let page = with_first_screen(HTML, &screen).unwrap();
        let json = block(&page);
        for c in ['<', '>', '&'] {
            assert!(!json.contains(c), "{c} is left in the block: {json}");
        }
        // The one "</script>" after the block's start is its own end.
        assert_eq!(page.matches("</script>").count(), 1);
        let back: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(back["name"], name);
    }

    #[test]
    fn a_page_without_a_head_is_left_as_built() {
        assert_eq!(
            with_first_screen("<p>no head</p>", &serde_json::json!({})),
            None
        );
    }
}
