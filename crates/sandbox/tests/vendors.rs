//! The sandbox checks what the vendors check, and answers in their shapes.

use std::time::{Duration, SystemTime};

use onramp_sandbox::{content_md5, sign, Faults, Sandbox, SandboxConfig, Vendor};
use serde_json::{json, Value};

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::default()).await.unwrap()
}

async fn se_get(sb: &Sandbox, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut r = reqwest::Client::new().get(format!("{}{path}", sb.solaredge_url()));
    if let Some(k) = key {
        r = r.header("X-API-Key", k);
    }
    r.send().await.unwrap()
}

struct SolisCall<'a> {
    key_id: &'a str,
    secret: &'a str,
    path: &'a str,
    body: Value,
    date: SystemTime,
    tamper_body: bool,
}

async fn solis(sb: &Sandbox, c: SolisCall<'_>) -> (u16, Value, Option<String>) {
    let bytes = serde_json::to_vec(&c.body).unwrap();
    let md5 = content_md5(&bytes);
    let date = httpdate::fmt_http_date(c.date);
    let sig = sign(c.secret, &md5, "application/json", &date, c.path);
    let sent = if c.tamper_body {
        br#"{"pageNo":2}"#.to_vec()
    } else {
        bytes
    };
    let resp = reqwest::Client::new()
        .post(format!("{}{}", sb.solis_url(), c.path))
        .header("Content-MD5", md5)
        .header("Content-Type", "application/json")
        .header("Date", date)
        .header("Authorization", format!("API {}:{sig}", c.key_id))
        .body(sent)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, resp.json().await.unwrap_or(Value::Null), retry)
}

fn call<'a>(key_id: &'a str, secret: &'a str) -> SolisCall<'a> {
    SolisCall {
        key_id,
        secret,
        path: "/v1/api/userStationList",
        body: json!({"pageNo": 1, "pageSize": 100}),
        date: SystemTime::now(),
        tamper_body: false,
    }
}

/// SolarEdge's V2 site list: `{"sites": {"count": N, "site": [...]}}`, each site's state in
/// `activationStatus` (the shape SolarEdge's V2 clients read; docs/vendors/solaredge.md).
#[tokio::test]
async fn solaredge_fleet_key_pages_through_every_site_in_the_v2_shape() {
    let sb = sandbox().await;
    let d = sb.demo().clone();
    let mut ids = Vec::new();
    for page in 1..=4 {
        let v: Value = se_get(
            &sb,
            &format!("/v2/sites?page={page}&sites-in-page=100"),
            Some(&d.solaredge_account_key),
        )
        .await
        .json()
        .await
        .unwrap();
        assert_eq!(v["sites"]["count"], 320, "{v}");
        assert!(v.get("totalCount").is_none(), "no V1-era totalCount: {v}");
        let site = v["sites"]["site"]
            .as_array()
            .expect("a singular `site` array");
        for s in site {
            let st = s["activationStatus"].as_str().unwrap();
            assert!(["ACTIVE", "PENDING"].contains(&st), "{s}");
            assert!(s.get("status").is_none(), "{s}");
        }
        ids.extend(site.iter().map(|s| s["siteId"].as_u64().unwrap()));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 320);
    // The preview's second header is accepted, and not needed.
    let r = reqwest::Client::new()
        .get(format!("{}/v2/sites?sites-in-page=1", sb.solaredge_url()))
        .header("X-API-Key", &d.solaredge_account_key)
        .header("X-Account-Key", "ANY")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let one = ids[0];
    let r = se_get(
        &sb,
        &format!("/v2/sites/{one}"),
        Some(&d.solaredge_account_key),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["siteId"], one);
    assert!(v["activationStatus"].is_string(), "{v}");
    let r = se_get(&sb, "/v2/sites/1", Some(&d.solaredge_account_key)).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn solaredge_refuses_wrong_keys_in_problem_json_and_retired_v1() {
    let sb = sandbox().await;
    for key in [None, Some("WRONGKEY")] {
        let r = se_get(&sb, "/v2/sites", key).await;
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["detail"], "Unauthorized - Authentication Failed");
    }
    let r = se_get(&sb, "/sites/list?api_key=X", None).await;
    assert_eq!(r.status(), 410);
    let r = se_get(
        &sb,
        "/v2/sites?sites-in-page=5000",
        Some(&sb.demo().solaredge_account_key.clone()),
    )
    .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn solaredge_budget_per_key_per_minute() {
    let sb = Sandbox::start(SandboxConfig {
        solaredge_per_minute: 3,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let key = sb.demo().solaredge_account_key.clone();
    for left in [2, 1, 0] {
        let r = se_get(&sb, "/v2/sites", Some(&key)).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["x-ratelimit-remaining-minute"],
            left.to_string().as_str()
        );
    }
    let r = se_get(&sb, "/v2/sites", Some(&key)).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-ratelimit-remaining-minute"], "0");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
}

#[tokio::test]
async fn solis_checks_signature_md5_and_clock() {
    let sb = Sandbox::start(SandboxConfig {
        solis_per_window: 100,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let d = sb.demo().clone();
    let k = &d.solis_customer_keys[0];

    let (status, v, _) = solis(&sb, call(&k.key_id, &k.key_secret)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["success"], true);
    let records = v["data"]["page"]["records"].as_array().unwrap();
    assert_eq!(records.len(), k.station_ids.len());
    assert_eq!(records[0]["id"], k.station_ids[0].as_str());

    let (status, v, _) = solis(&sb, call(&k.key_id, "0000000000000000000000000000000f")).await;
    assert_eq!((status, v["code"].as_str()), (403, Some("R0000")));

    let (status, v, _) = solis(
        &sb,
        SolisCall {
            tamper_body: true,
            ..call(&k.key_id, &k.key_secret)
        },
    )
    .await;
    assert_eq!((status, v["code"].as_str()), (400, Some("I0000")));

    let old = SystemTime::now() - Duration::from_secs(20 * 60);
    let (status, v, _) = solis(
        &sb,
        SolisCall {
            date: old,
            ..call(&k.key_id, &k.key_secret)
        },
    )
    .await;
    assert_eq!((status, v["code"].as_str()), (408, Some("408")));

    let (status, v, _) = solis(&sb, call("1111111111111111111", &k.key_secret)).await;
    assert_eq!((status, v["code"].as_str()), (403, Some("B0011")));

    let (status, v, _) = solis(
        &sb,
        SolisCall {
            path: "/v1/api/stationDetail",
            body: json!({"id": d.solis_account.station_ids[0]}),
            ..call(&k.key_id, &k.key_secret)
        },
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (200, Some("R0000")),
        "another installer's station"
    );
}

#[tokio::test]
async fn solis_allows_three_calls_per_five_seconds() {
    let sb = sandbox().await;
    let a = sb.demo().solis_account.clone();
    for _ in 0..3 {
        assert_eq!(solis(&sb, call(&a.key_id, &a.key_secret)).await.0, 200);
    }
    let (status, v, retry) = solis(&sb, call(&a.key_id, &a.key_secret)).await;
    assert_eq!((status, v["code"].as_str()), (429, Some("429")));
    let retry: u64 = retry.unwrap().parse().unwrap();
    assert!((1..=5).contains(&retry));
}

#[tokio::test]
async fn faults_answer_5xx_429_malformed_and_slowly() {
    let sb = sandbox().await;
    let key = sb.demo().solaredge_account_key.clone();
    sb.set_faults(
        Vendor::SolarEdge,
        Faults {
            fail_next_5xx: 1,
            rate_limit_next: 1,
            malformed_next: 1,
            ..Faults::default()
        },
    );
    assert_eq!(se_get(&sb, "/v2/sites", Some(&key)).await.status(), 503);
    let r = se_get(&sb, "/v2/sites", Some(&key)).await;
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["retry-after"].to_str().unwrap()
        ),
        (429, "2")
    );
    let r = se_get(&sb, "/v2/sites", Some(&key)).await;
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.is_err(), "a truncated body");
    assert_eq!(se_get(&sb, "/v2/sites", Some(&key)).await.status(), 200);

    sb.set_faults(
        Vendor::SolarEdge,
        Faults {
            latency: Duration::from_millis(300),
            ..Faults::default()
        },
    );
    let t = std::time::Instant::now();
    se_get(&sb, "/v2/sites", Some(&key)).await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(sb.requests(Vendor::SolarEdge), 5);
    assert_eq!(sb.requests(Vendor::Solis), 0);
}

#[tokio::test]
async fn the_same_seed_gives_the_same_keys_and_fleets() {
    let a = sandbox().await;
    let b = sandbox().await;
    assert_eq!(
        a.demo().solaredge_account_key,
        b.demo().solaredge_account_key
    );
    assert_eq!(
        a.demo().solis_customer_keys[2].key_secret,
        b.demo().solis_customer_keys[2].key_secret
    );
    assert_eq!(
        a.demo().solis_account.station_ids,
        b.demo().solis_account.station_ids
    );
    let c = Sandbox::start(SandboxConfig {
        seed: 8,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    assert_ne!(
        a.demo().solaredge_account_key,
        c.demo().solaredge_account_key
    );
    assert!(a.describe().contains(&a.demo().solaredge_account_key));
}

#[tokio::test]
async fn solis_installer_account_pages_through_every_station_and_details_one() {
    let sb = Sandbox::start(SandboxConfig {
        solis_per_window: 100,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let a = sb.demo().solis_account.clone();
    let mut ids = Vec::new();
    for page in 1..=2 {
        let (status, v, _) = solis(
            &sb,
            SolisCall {
                body: json!({"pageNo": page, "pageSize": 100}),
                ..call(&a.key_id, &a.key_secret)
            },
        )
        .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["data"]["page"]["total"], 180);
        assert_eq!(v["data"]["page"]["pages"], 2);
        assert_eq!(v["data"]["stationStatusVo"]["all"], 180);
        for r in v["data"]["page"]["records"].as_array().unwrap() {
            let id = r["id"].as_str().unwrap().to_string();
            assert_eq!(id.len(), 19);
            assert!(id.bytes().all(|b| b.is_ascii_digit()));
            ids.push(id);
        }
    }
    assert_eq!(ids, a.station_ids);

    let (status, v, _) = solis(
        &sb,
        SolisCall {
            path: "/v1/api/stationDetail",
            body: json!({"id": a.station_ids[42]}),
            ..call(&a.key_id, &a.key_secret)
        },
    )
    .await;
    assert_eq!((status, v["code"].as_str()), (200, Some("0")), "{v}");
    assert_eq!(v["data"]["id"], a.station_ids[42].as_str());
    let cap = v["data"]["capacity"].as_f64().unwrap();
    assert!((3.0..=25.0).contains(&cap));

    // Default page size is 20.
    let (_, v, _) = solis(
        &sb,
        SolisCall {
            body: json!({}),
            ..call(&a.key_id, &a.key_secret)
        },
    )
    .await;
    assert_eq!(v["data"]["page"]["size"], 20);
    assert_eq!(v["data"]["page"]["records"].as_array().unwrap().len(), 20);
}

#[tokio::test]
async fn solis_faults_use_the_vendor_envelope() {
    let sb = sandbox().await;
    let a = sb.demo().solis_account.clone();
    sb.set_faults(
        Vendor::Solis,
        Faults {
            fail_next_5xx: 1,
            malformed_next: 1,
            latency: Duration::from_millis(200),
            ..Faults::default()
        },
    );
    let t = std::time::Instant::now();
    let (status, v, _) = solis(&sb, call(&a.key_id, &a.key_secret)).await;
    assert_eq!((status, v["success"].as_bool()), (503, Some(false)));
    let (status, v, _) = solis(&sb, call(&a.key_id, &a.key_secret)).await;
    assert_eq!((status, v), (200, Value::Null), "a truncated body");
    assert!(t.elapsed() >= Duration::from_millis(400));
    assert_eq!(sb.requests(Vendor::Solis), 2);
    assert_eq!(sb.requests(Vendor::SolarEdge), 0);
    sb.shutdown().await;
}

#[tokio::test]
async fn every_request_is_counted_even_refused_ones() {
    let sb = sandbox().await;
    let r = se_get(&sb, "/site/4012345/details?api_key=X", None).await;
    assert_eq!(r.status(), 410);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], 410);
    assert_eq!(se_get(&sb, "/v2/nowhere", None).await.status(), 404);
    assert_eq!(se_get(&sb, "/v2/sites", Some("NOPE")).await.status(), 401);
    assert_eq!(sb.requests(Vendor::SolarEdge), 3);
    sb.shutdown().await;
}

#[tokio::test]
async fn fleets_look_like_real_installer_fleets() {
    let a = sandbox().await;
    let b = sandbox().await;
    let key = a.demo().solaredge_account_key.clone();
    let page = |sb: &Sandbox| {
        let url = format!("{}/v2/sites?sites-in-page=1000", sb.solaredge_url());
        let key = key.clone();
        async move {
            reqwest::Client::new()
                .get(url)
                .header("X-API-Key", key)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let (va, vb) = (page(&a).await, page(&b).await);
    assert_eq!(va, vb, "the same seed gives the same fleet");
    let sites = va["sites"]["site"].as_array().unwrap();
    assert_eq!(sites.len(), 320);
    let active = sites
        .iter()
        .filter(|s| s["activationStatus"] == "ACTIVE")
        .count();
    assert!(active > 280, "mostly active: {active}");
    for s in sites {
        let kw = s["peakPower"].as_f64().unwrap();
        assert!((3.0..=25.0).contains(&kw));
        assert!(s["location"]["zip"].as_str().unwrap().len() == 5);
        assert!(s["installationDate"].as_str().unwrap()[..10] <= *"2026-09-30");
    }
    let demo = a.demo();
    assert!(demo.solaredge_account_key.len() == 32);
    assert!(demo
        .solaredge_account_key
        .bytes()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    for k in std::iter::once(&demo.solis_account).chain(&demo.solis_customer_keys) {
        assert_eq!(k.key_id.len(), 19);
        assert!(k.key_id.bytes().all(|c| c.is_ascii_digit()));
        assert_eq!(k.key_secret.len(), 32);
        assert!(k
            .key_secret
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
    }
    assert!(demo
        .solis_customer_keys
        .iter()
        .all(|k| (1..=2).contains(&k.station_ids.len())));
    a.shutdown().await;
    b.shutdown().await;
}
