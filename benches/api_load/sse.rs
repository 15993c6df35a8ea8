//! SSE delivery: subscribers to one episode's events, rounds of actions, and the delay of each
//! (subscriber, event) pair from the moment the event was published.

use serde_json::json;
use showrunner::engine::{EpisodeId, EventKind};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::PATIENCE;
use crate::client::{Conn, SubTally, post_request, subscriber};
use crate::stats::{Samples, cpu_by_thread, cpu_used, nanos};

/// An event as the in-process subscription saw it.
pub(crate) struct Seen {
    pub(crate) seq: u64,
    pub(crate) at: Instant,
    pub(crate) at_ms: u64,
    pub(crate) kind: EventKind,
}

/// One action and the events it led to.
pub(crate) struct Round {
    pub(crate) action: String,
    pub(crate) sent: Instant,
    pub(crate) returned: Instant,
    pub(crate) post: Duration,
    pub(crate) events: usize,
}

pub(crate) struct SseReport {
    pub(crate) subscribers: usize,
    pub(crate) connect: Duration,
    pub(crate) rounds: Vec<Round>,
    pub(crate) events: usize,
    pub(crate) expected: usize,
    pub(crate) delivered: usize,
    pub(crate) from_publish: Samples,
    pub(crate) early: usize,
    pub(crate) from_at: Samples,
    pub(crate) from_return: Samples,
    pub(crate) spread: Samples,
    pub(crate) out_of_order: usize,
    pub(crate) errors: Vec<String>,
    /// CPU by thread group over the rounds (pauses between rounds included).
    pub(crate) cpu: String,
}

/// The SSE scenario on episode `id` (at its `outline` gate, version `version`), from sequence
/// number `from`; `seen` is the in-process subscription's feed. Stops the server at the end.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn sse_load(
    addr: SocketAddr,
    id: EpisodeId,
    from: u64,
    mut version: u32,
    mut seen: mpsc::UnboundedReceiver<Seen>,
    n: usize,
    rounds: usize,
    stop: oneshot::Sender<()>,
    cores: usize,
) -> SseReport {
    let request = Arc::new(
        format!(
            "GET /api/v1/episodes/{id}/events?from={from} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        )
        .into_bytes(),
    );
    let gate = Arc::new(Semaphore::new(64));
    let ready = Arc::new(AtomicUsize::new(0));
    let delivered = Arc::new(AtomicUsize::new(0));
    let connecting = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            tokio::spawn(subscriber(
                addr,
                request.clone(),
                from,
                gate.clone(),
                ready.clone(),
                delivered.clone(),
            ))
        })
        .collect();
    let deadline = Instant::now() + PATIENCE;
    while ready.load(Ordering::Relaxed) < n && Instant::now() < deadline && tasks.iter().all(|t| !t.is_finished()) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let connect = connecting.elapsed();
    let mut observed: Vec<Seen> = Vec::new();
    let mut done_rounds = Vec::new();
    let mut cpu_before = BTreeMap::new();
    let mut rounds_started = Instant::now();
    let mut errors = Vec::new();
    if ready.load(Ordering::Relaxed) < n {
        errors.push(format!(
            "only {} of {n} subscribers connected",
            ready.load(Ordering::Relaxed)
        ));
    } else {
        let mut conn = Conn::open(addr).await.expect("a connection for actions");
        cpu_before = cpu_by_thread();
        rounds_started = Instant::now();
        for round in 0..rounds {
            let last = round + 1 == rounds;
            let (action, body, next_gate) = if last {
                ("approve", json!({"version": version}), "characters")
            } else {
                let feedback = format!("round {round}: make it darker");
                (
                    "regenerate",
                    json!({"version": version, "feedback": feedback}),
                    "outline",
                )
            };
            let request = post_request(&format!("/api/v1/episodes/{id}/nodes/outline/{action}"), &body);
            let sent = Instant::now();
            let (code, answer) = conn.call(&request).await.expect("the action's answer");
            let returned = Instant::now();
            if code != 200 {
                errors.push(format!("{action} answered {code}: {}", String::from_utf8_lossy(answer)));
                break;
            }
            let before = observed.len();
            // Until the next gate opens: the round's last event.
            let opened = loop {
                match tokio::time::timeout(PATIENCE, seen.recv()).await {
                    Ok(Some(event)) => {
                        let gate = match &event.kind {
                            EventKind::GateOpened { key, versions, .. } if key.node == next_gate => {
                                versions.last().copied()
                            }
                            _ => None,
                        };
                        observed.push(event);
                        if let Some(v) = gate {
                            break Some(v);
                        }
                    }
                    _ => break None,
                }
            };
            let Some(opened) = opened else {
                errors.push(format!("round {round}: `{next_gate}` did not open"));
                break;
            };
            version = opened;
            let want = n * observed.len();
            let deadline = Instant::now() + Duration::from_secs(30);
            while delivered.load(Ordering::Relaxed) < want && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            done_rounds.push(Round {
                action: action.into(),
                sent,
                returned,
                post: returned - sent,
                events: observed.len() - before,
            });
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Anything published after the last gate opened.
        tokio::time::sleep(Duration::from_millis(200)).await;
        while let Ok(event) = seen.try_recv() {
            observed.push(event);
        }
        let want = n * observed.len();
        let deadline = Instant::now() + Duration::from_secs(10);
        while delivered.load(Ordering::Relaxed) < want && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let cpu = cpu_used(&cpu_before, &cpu_by_thread(), rounds_started.elapsed(), cores);
    // Shutting the server down ends every stream.
    let _ = stop.send(());
    let mut tallies = Vec::new();
    for task in tasks {
        match tokio::time::timeout(Duration::from_secs(30), task).await {
            Ok(Ok(t)) => tallies.push(t),
            Ok(Err(e)) => errors.push(format!("a subscriber panicked: {e}")),
            Err(_) => errors.push("a subscriber did not end".into()),
        }
    }
    let mut report = sse_report(n, connect, done_rounds, &observed, tallies, errors);
    report.cpu = cpu;
    report
}

pub(crate) fn sse_report(
    n: usize,
    connect: Duration,
    rounds: Vec<Round>,
    observed: &[Seen],
    tallies: Vec<SubTally>,
    mut errors: Vec<String>,
) -> SseReport {
    let by_seq: std::collections::HashMap<u64, &Seen> = observed.iter().map(|s| (s.seq, s)).collect();
    // Instants to wall-clock milliseconds, for the `at` cross-check.
    let (base, base_wall) = (Instant::now(), SystemTime::now());
    let wall_ms = |t: Instant| -> f64 {
        let wall = base_wall.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64() * 1e3;
        wall - base.duration_since(t).as_secs_f64() * 1e3
    };
    // The POST an event was published during, if any: its return is the brief's reference.
    let during = |at: Instant| {
        rounds
            .iter()
            .find(|r| r.sent <= at && at <= r.returned)
            .map(|r| r.returned)
    };
    let (mut from_publish, mut from_at, mut from_return) = (Vec::new(), Vec::new(), Vec::new());
    let mut first_last: std::collections::HashMap<u64, (Instant, Instant)> = std::collections::HashMap::new();
    let (mut delivered, mut early, mut out_of_order) = (0, 0, 0);
    for tally in tallies {
        out_of_order += tally.out_of_order;
        if let Some(e) = tally.error
            && errors.len() < 5
        {
            errors.push(e);
        }
        for (seq, t) in tally.got {
            let Some(seen) = by_seq.get(&seq) else { continue };
            delivered += 1;
            if t < seen.at {
                early += 1;
            }
            from_publish.push(nanos(t.saturating_duration_since(seen.at)));
            from_at.push(((wall_ms(t) - seen.at_ms as f64).max(0.0) * 1e6) as u64);
            if let Some(returned) = during(seen.at) {
                from_return.push(nanos(t.saturating_duration_since(returned)));
            }
            let e = first_last.entry(seq).or_insert((t, t));
            e.0 = e.0.min(t);
            e.1 = e.1.max(t);
        }
    }
    let spread = first_last.values().map(|(a, b)| nanos(*b - *a)).collect();
    SseReport {
        subscribers: n,
        connect,
        rounds,
        events: observed.len(),
        expected: n * observed.len(),
        delivered,
        from_publish: Samples::new(from_publish),
        early,
        from_at: Samples::new(from_at),
        from_return: Samples::new(from_return),
        spread: Samples::new(spread),
        out_of_order,
        errors,
        cpu: String::new(),
    }
}
