//! Operability: `/metrics` counts what happened.

use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, ADMIN_PASSWORD};

/// The value of the sample `series` (name and labels exactly as exposed), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

async fn scrape(app: &TestApp) -> String {
    let reply = app.get("/metrics", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let kind = reply.headers["content-type"].to_str().unwrap();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    reply.text
}

#[tokio::test]
async fn metrics_show_the_counters_moved_after_a_log_on_and_an_update() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let before = scrape(&app).await;
    let auth = r#"roster_http_requests_total{method="POST",route="/users/api/auth",status="200"}"#;
    assert_eq!(sample(&before, auth), None);
    assert_eq!(
        sample(&before, r#"roster_logons_total{outcome="succeeded"}"#),
        None
    );

    let token = app.log_on("admin@localhost", ADMIN_PASSWORD).await;
    let failed = app.try_log_on("admin@localhost", "Wr0ng!guess").await;
    assert_eq!(
        failed.json()["ok"],
        false,
        "ENSIMS answers a failure with 200"
    );
    let update = app
        .post("/users/api/user", r#"{"title":"Ops"}"#, Some(&token))
        .await;
    assert_eq!(update.status, StatusCode::OK, "{}", update.text);
    app.get("/no/such/thing/42", None).await;

    let after = scrape(&app).await;
    assert_eq!(sample(&after, auth), Some(2.0), "{after}");
    let update_series =
        r#"roster_http_requests_total{method="POST",route="/users/api/user",status="200"}"#;
    assert_eq!(sample(&after, update_series), Some(1.0));
    let latency = r#"roster_http_request_duration_seconds_count{method="POST",route="/users/api/user",status="200"}"#;
    assert_eq!(sample(&after, latency), Some(1.0));
    let unmatched = r#"roster_http_requests_total{method="GET",route="unmatched",status="404"}"#;
    assert_eq!(sample(&after, unmatched), Some(1.0));
    assert!(!after.contains("/no/such"), "a raw path as a label");
    for (outcome, count) in [("succeeded", 1.0), ("failed", 1.0)] {
        let series = format!(r#"roster_logons_total{{outcome="{outcome}"}}"#);
        assert_eq!(sample(&after, &series), Some(count), "{outcome}");
    }
    let checks = sample(&after, "roster_password_verifications_total").unwrap();
    assert!(checks >= 2.0, "{checks}");
    assert_eq!(checks as u64, app.accounts.password_checks());
    assert!(sample(&after, "roster_password_hash_busy_seconds_total").unwrap() > 0.0);
    assert_eq!(sample(&after, "roster_password_hash_queue"), Some(0.0));
    let max = r#"roster_db_pool_connections{pool="writer",state="max"}"#;
    assert!(sample(&after, max).unwrap() >= 1.0, "{after}");
}

#[tokio::test]
async fn throttled_log_ons_are_counted() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for _ in 0..5 {
        app.try_log_on("admin@localhost", "Wr0ng!guess").await;
    }
    let refused = app.try_log_on("admin@localhost", ADMIN_PASSWORD).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let text = scrape(&app).await;
    assert_eq!(
        sample(&text, r#"roster_logons_total{outcome="throttled"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"roster_logons_total{outcome="failed"}"#),
        Some(5.0)
    );
}
