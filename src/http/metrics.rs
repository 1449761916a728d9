//! `GET /metrics` (`OpenMetrics` text, which Prometheus reads) and the middleware that counts
//! and times every request by matched route and status and writes its access-log line.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use std::future::Future;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use crate::accounts::Accounts;
use crate::telemetry::{noting, Notes};

/// The route label of a request that matched no route (never the raw path: unbounded).
pub(super) const UNMATCHED: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: String,
    state: String,
}

type Latency = Family<RequestLabels, Histogram, fn() -> Histogram>;

/// One server's metrics (not global: every app, and every test server, has its own).
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Latency,
    logons: Family<OutcomeLabels, Counter>,
    verifications: Counter,
    hash_seconds: Counter<f64, AtomicU64>,
    hash_queue: Gauge,
    pool: Family<PoolLabels, Gauge>,
    accounts: Accounts,
    /// Scrapes bring the hasher's and the pool's figures up to date one at a time.
    scrape: Mutex<()>,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s: a password check costs tens of milliseconds, a stalled store seconds.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Metrics {
    /// Registers every metric, reading the hasher and the store pools at each scrape.
    pub fn new(accounts: Accounts) -> Metrics {
        let mut registry = Registry::with_prefix("roster");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Latency = Family::new_with_constructor(latency_histogram);
        let logons = Family::<OutcomeLabels, Counter>::default();
        let verifications = Counter::default();
        let hash_seconds = Counter::<f64, AtomicU64>::default();
        let hash_queue = Gauge::default();
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, matched route and status",
            requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "HTTP request latency by method, matched route and status",
            Unit::Seconds,
            latency.clone(),
        );
        registry.register(
            "logons",
            "Credential checks by outcome: succeeded, failed, throttled (refused unchecked)",
            logons.clone(),
        );
        registry.register(
            "password_verifications",
            "Password hash verifications started",
            verifications.clone(),
        );
        registry.register_with_unit(
            "password_hash_busy",
            "Time the hashing threads spent hashing and verifying",
            Unit::Seconds,
            hash_seconds.clone(),
        );
        registry.register(
            "password_hash_queue",
            "Hashing jobs waiting for a thread or running",
            hash_queue.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database pool connections by pool and state: idle, in_use, max",
            pool.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            logons,
            verifications,
            hash_seconds,
            hash_queue,
            pool,
            accounts,
            scrape: Mutex::new(()),
        }
    }

    /// The text exposition, with the hasher's and the pools' figures read now.
    pub fn render(&self) -> String {
        let _one = self
            .scrape
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let stats = self.accounts.hash_stats();
        self.verifications
            .inc_by(stats.verifications.saturating_sub(self.verifications.get()));
        let busy = stats.busy_nanos as f64 / 1e9;
        self.hash_seconds
            .inc_by((busy - self.hash_seconds.get()).max(0.0));
        self.hash_queue.set(stats.queued);
        for pool in self.accounts.pool_use() {
            let in_use = pool.open.saturating_sub(pool.idle);
            for (state, value) in [("idle", pool.idle), ("in_use", in_use), ("max", pool.max)] {
                let labels = PoolLabels {
                    pool: pool.pool.into(),
                    state: state.into(),
                };
                self.pool.get_or_create(&labels).set(i64::from(value));
            }
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    fn record(&self, labels: &RequestLabels, seconds: f64, notes: &Notes) {
        self.requests.get_or_create(labels).inc();
        self.latency.get_or_create(labels).observe(seconds);
        let outcome = match notes.outcome() {
            Some("logon_succeeded") => "succeeded",
            Some("logon_failed") => "failed",
            Some("throttled") => "throttled",
            _ => return,
        };
        let labels = OutcomeLabels {
            outcome: outcome.into(),
        };
        self.logons.get_or_create(&labels).inc();
    }
}

/// The method as a label; any other than the standard ones is `other` (bounded labels).
fn method_label(method: &axum::http::Method) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT",
    ];
    KNOWN
        .into_iter()
        .find(|m| *m == method.as_str())
        .unwrap_or("other")
}

/// `GET /metrics`.
pub async fn metrics(State(metrics): State<Arc<Metrics>>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(CONTENT_TYPE, content_type)], metrics.render()).into_response()
}

impl Metrics {
    /// Counts and times `work`, the serving of one request, and writes its access-log line
    /// (method, route and request id come from the request's span).
    pub(super) async fn observe(
        &self,
        method: &Method,
        route: String,
        address: Option<String>,
        work: impl Future<Output = Response>,
    ) -> Response {
        let start = Instant::now();
        let method = method_label(method);
        let notes = Arc::new(Notes::default());
        let response = noting(notes.clone(), work).await;
        let elapsed = start.elapsed();
        let status = response.status().as_u16();
        tracing::info!(
            target: "access",
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            address = address.as_deref().unwrap_or("-"),
            account = notes.account(),
            outcome = notes.outcome(),
            "{method} {route} {status}"
        );
        let labels = RequestLabels {
            method: method.to_owned(),
            route,
            status: status.to_string(),
        };
        self.record(&labels, elapsed.as_secs_f64(), &notes);
        response
    }
}
