//! `GET /metrics`: Prometheus text exposition (format 0.0.4), written by hand.
//!
//! - `showrunner_http_requests_total{method,route,status}`: a counter of answered requests;
//!   `route` is the matched route template (`/api/v1/episodes/{id}`), never the raw path, and
//!   `unmatched` for a request no route took.
//! - `showrunner_http_request_duration_seconds{method,route}`: a histogram of the time to the
//!   answer's headers (an event stream counts until its headers are sent).
//! - `showrunner_episodes{status}`: a gauge of the episodes in each status, read from the
//!   engine's status index when scraped.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use showrunner_engine::EpisodeStatus;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};

/// The upper bounds of the duration histogram's buckets, in seconds.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The exposition's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One route's durations: a count per bucket (not cumulative), the sum and the count.
#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// The HTTP counters.
#[derive(Default)]
pub(crate) struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// (method, route, status) → count.
    requests: BTreeMap<(String, String, u16), u64>,
    /// (method, route) → durations.
    durations: BTreeMap<(String, String), Histogram>,
}

impl Metrics {
    fn record(&self, method: String, route: String, status: u16, seconds: f64) {
        let mut inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *inner
            .requests
            .entry((method.clone(), route.clone(), status))
            .or_default() += 1;
        let histogram = inner.durations.entry((method, route)).or_default();
        if let Some(i) = BUCKETS.iter().position(|&le| seconds <= le) {
            histogram.buckets[i] += 1;
        }
        histogram.sum += seconds;
        histogram.count += 1;
    }

    /// The HTTP part of the exposition.
    fn write(&self, out: &mut String) {
        let inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        out.push_str("# HELP showrunner_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE showrunner_http_requests_total counter\n");
        for ((method, route, status), count) in &inner.requests {
            let _ = writeln!(
                out,
                "showrunner_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {count}",
                escape(method),
                escape(route),
            );
        }
        out.push_str("# HELP showrunner_http_request_duration_seconds Time to answer an HTTP request.\n");
        out.push_str("# TYPE showrunner_http_request_duration_seconds histogram\n");
        for ((method, route), h) in &inner.durations {
            let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
            let mut cumulative = 0;
            for (le, n) in BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "showrunner_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "showrunner_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "showrunner_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "showrunner_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
    }
}

/// Escapes a label value: backslash, double quote and line feed.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The middleware: counts and times every request.
pub(crate) async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state
        .metrics
        .record(method, route, status, started.elapsed().as_secs_f64());
    response
}

/// Prometheus text exposition (format 0.0.4): requests by method, route template and status,
/// their durations, the episodes in each status and in memory, and on a shared store this
/// process's claims, takeovers, fenced commits and claim time.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "meta",
    responses(
        (status = 200, description = "The exposition", content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mut out = String::new();
    state.metrics.write(&mut out);
    out.push_str("# HELP showrunner_episodes Episodes in each status.\n");
    out.push_str("# TYPE showrunner_episodes gauge\n");
    for status in EpisodeStatus::ALL {
        let count = state.engine.episodes(status)?.len();
        let _ = writeln!(
            out,
            "showrunner_episodes{{status=\"{}\"}} {count}",
            escape(status.name())
        );
    }
    out.push_str("# HELP showrunner_episodes_loaded Episodes with an actor in this process.\n");
    out.push_str("# TYPE showrunner_episodes_loaded gauge\n");
    let _ = writeln!(out, "showrunner_episodes_loaded {}", state.engine.loaded());
    // The queue's gauges are left out while the database cannot be read; the rest still shows.
    if let Some(depth) = state.engine.queue_depth().await.and_then(|depth| {
        depth
            .map_err(|error| tracing::warn!(%error, "reading the run queue for /metrics"))
            .ok()
    }) {
        out.push_str(
            "# HELP showrunner_queue_runs Node runs in the queue workers take them from, by resource and state.
",
        );
        out.push_str(
            "# TYPE showrunner_queue_runs gauge
",
        );
        for (resource, ready, taken, reported) in &depth.by_resource {
            let resource = format!("{resource:?}").to_lowercase();
            for (state, n) in [("ready", ready), ("taken", taken), ("reported", reported)] {
                let _ = writeln!(
                    out,
                    "showrunner_queue_runs{{resource=\"{resource}\",state=\"{state}\"}} {n}"
                );
            }
        }
        out.push_str(
            "# HELP showrunner_queue_oldest_ready_seconds How long the oldest ready run has waited.
",
        );
        out.push_str(
            "# TYPE showrunner_queue_oldest_ready_seconds gauge
",
        );
        let oldest = depth.oldest_ready.map_or(0.0, |d| d.as_secs_f64());
        let _ = writeln!(out, "showrunner_queue_oldest_ready_seconds {oldest}");
    }
    if let Some(held) = state.engine.hold_stats() {
        for (name, help, kind, value) in [
            (
                "showrunner_claims_total",
                "Episodes claimed by this process (a shared store).",
                "counter",
                held.claims as f64,
            ),
            (
                "showrunner_lease_takeovers_total",
                "Claims that took an episode from a process that had died or paused.",
                "counter",
                held.takeovers as f64,
            ),
            (
                "showrunner_fenced_commits_total",
                "Commits refused because another process had claimed their episode since.",
                "counter",
                held.refused_commits as f64,
            ),
            (
                "showrunner_claim_seconds_total",
                "Seconds spent claiming episodes (over showrunner_claims_total: the mean claim latency).",
                "counter",
                held.claim_seconds,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
    }
    let mut response = out.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::{Metrics, escape};

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape("x\ny"), "x\\ny");
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let metrics = Metrics::default();
        metrics.record("GET".into(), "/r".into(), 200, 0.001);
        metrics.record("GET".into(), "/r".into(), 200, 0.2);
        let mut out = String::new();
        metrics.write(&mut out);
        assert!(out.contains("showrunner_http_requests_total{method=\"GET\",route=\"/r\",status=\"200\"} 2"));
        assert!(out.contains("_bucket{method=\"GET\",route=\"/r\",le=\"0.005\"} 1"));
        assert!(out.contains("_bucket{method=\"GET\",route=\"/r\",le=\"0.25\"} 2"));
        assert!(out.contains("_bucket{method=\"GET\",route=\"/r\",le=\"+Inf\"} 2"));
        assert!(out.contains("_count{method=\"GET\",route=\"/r\"} 2"));
    }
}
