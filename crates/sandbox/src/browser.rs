//! A test browser for the sandbox's own consent pages (Pelm Connect, Derapi Join): it reads the
//! page's one form, presses Connect/Authorize or Cancel/Decline, and reports where the vendor
//! sends the customer back.

/// Submits the form on `page_url` with `decision` (`allow` or `deny`) and `overrides`; returns the
/// `Location` of the answer (empty when the page does not redirect, as a Join session's does not).
pub async fn submit_form(
    page_url: &str,
    decision: &str,
    overrides: &[(&str, &str)],
) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let page = client
        .get(page_url)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !page.status().is_success() {
        return Err(format!("the page answered {}", page.status()));
    }
    let html = page.text().await.map_err(|e| e.to_string())?;
    let action = attr(
        html.split("<form").nth(1).ok_or("no form on the page")?,
        "action",
    )
    .ok_or("no form action")?;
    let mut fields: Vec<(String, String)> = Vec::new();
    for input in html.split("<input").skip(1) {
        let tag = input.split('>').next().unwrap_or_default();
        if let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value")) {
            fields.push((n, v));
        }
    }
    if let Some(sel) = html.split("<select name=\"").nth(1) {
        let name = sel.split('"').next().unwrap_or_default().to_string();
        if let Some(first) = sel.split("<option").nth(1) {
            let value = attr(first, "value").unwrap_or_else(|| {
                first
                    .split('>')
                    .nth(1)
                    .unwrap_or_default()
                    .split('<')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            });
            fields.push((name, value));
        }
    }
    for (k, v) in overrides {
        fields.retain(|(n, _)| n != k);
        fields.push((k.to_string(), v.to_string()));
    }
    fields.push(("decision".into(), decision.into()));
    let target = url::Url::parse(page_url)
        .and_then(|u| u.join(&action))
        .map_err(|e| e.to_string())?;
    let resp = client
        .post(target)
        .form(&fields)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status().is_redirection() {
        return Ok(resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string());
    }
    if resp.status().is_success() {
        return Ok(String::new());
    }
    Err(format!("the form answered {}", resp.status()))
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let end = tag[start..].find('"')? + start;
    Some(
        tag[start..end]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&amp;", "&"),
    )
}
