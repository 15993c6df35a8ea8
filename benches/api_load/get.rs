//! GET throughput: keep-alive connections sending GETs in turn over the episodes, a warm-up
//! and then a measured window.

use showrunner::engine::EpisodeId;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use crate::client::{Conn, get_request};
use crate::stats::{Samples, cpu_by_thread, cpu_used, nanos};

pub(crate) const WARM: u8 = 0;
pub(crate) const MEASURE: u8 = 1;
pub(crate) const STOP: u8 = 2;

#[derive(Default)]
pub(crate) struct GetTally {
    pub(crate) latencies: Vec<u64>,
    pub(crate) errors: usize,
    pub(crate) first_error: Option<String>,
    pub(crate) body_bytes: u64,
    pub(crate) body_min: usize,
    pub(crate) body_max: usize,
}

pub(crate) async fn get_client(
    addr: SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    first: usize,
    phase: Arc<AtomicU8>,
) -> GetTally {
    let mut tally = GetTally {
        body_min: usize::MAX,
        ..GetTally::default()
    };
    let mut conn = match Conn::open(addr).await {
        Ok(conn) => conn,
        Err(e) => {
            tally.errors += 1;
            tally.first_error = Some(format!("connect: {e}"));
            return tally;
        }
    };
    let mut i = first;
    loop {
        let p = phase.load(Ordering::Relaxed);
        if p == STOP {
            return tally;
        }
        let request = &requests[i % requests.len()];
        i += 1;
        let started = Instant::now();
        match conn.call(request).await {
            Ok((200, body)) if body.starts_with(b"{\"data\":") => {
                let took = started.elapsed();
                if p == MEASURE && phase.load(Ordering::Relaxed) == MEASURE {
                    tally.latencies.push(nanos(took));
                    tally.body_bytes += body.len() as u64;
                    tally.body_min = tally.body_min.min(body.len());
                    tally.body_max = tally.body_max.max(body.len());
                }
            }
            Ok((code, body)) => {
                tally.errors += 1;
                let body = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                tally.first_error.get_or_insert(format!("status {code}: {body}"));
            }
            Err(e) => {
                tally.errors += 1;
                tally.first_error.get_or_insert(format!("{e}"));
                return tally;
            }
        }
    }
}

pub(crate) struct GetReport {
    pub(crate) requests: usize,
    pub(crate) window: Duration,
    pub(crate) cpu: String,
    pub(crate) latencies: Samples,
    pub(crate) errors: usize,
    pub(crate) first_error: Option<String>,
    pub(crate) body_min: usize,
    pub(crate) body_mean: f64,
    pub(crate) body_max: usize,
}

pub(crate) async fn get_load(
    addr: SocketAddr,
    ids: &[EpisodeId],
    conns: usize,
    warm: Duration,
    window: Duration,
    cores: usize,
) -> GetReport {
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        ids.iter()
            .map(|id| get_request(&format!("/api/v1/episodes/{id}")))
            .collect(),
    );
    let phase = Arc::new(AtomicU8::new(WARM));
    let tasks: Vec<_> = (0..conns)
        .map(|c| tokio::spawn(get_client(addr, requests.clone(), c, phase.clone())))
        .collect();
    tokio::time::sleep(warm).await;
    phase.store(MEASURE, Ordering::Relaxed);
    let started = Instant::now();
    let cpu_before = cpu_by_thread();
    tokio::time::sleep(window).await;
    phase.store(STOP, Ordering::Relaxed);
    let window = started.elapsed();
    let cpu = cpu_used(&cpu_before, &cpu_by_thread(), window, cores);
    let mut all = Vec::new();
    let (mut errors, mut first_error, mut bytes, mut body_min, mut body_max) = (0, None, 0u64, usize::MAX, 0);
    for task in tasks {
        let t = task.await.expect("a GET client");
        all.extend(t.latencies);
        errors += t.errors;
        first_error = first_error.or(t.first_error);
        bytes += t.body_bytes;
        body_min = body_min.min(t.body_min);
        body_max = body_max.max(t.body_max);
    }
    let requests = all.len();
    GetReport {
        requests,
        window,
        cpu,
        latencies: Samples::new(all),
        errors,
        first_error,
        body_min: if requests == 0 { 0 } else { body_min },
        body_mean: bytes as f64 / requests.max(1) as f64,
        body_max,
    }
}
