//! The event stream: a subscriber that disconnects mid-episode and resumes from the sequence
//! number it saw last sees every event exactly once, in order.

use std::time::Duration;

use showrunner::engine::{EpisodeStatus, EventKind, InstanceKey, NodeState};

use crate::support::{Runs, cast_input, cast_workflow, gated_workflow, open, wait_state};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_from_any_sequence_number_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = Runs::default();
    let engine = open(dir.path(), vec![cast_workflow(&runs)]).await;
    let id = engine.create_episode("cast", cast_input(), 3).await.expect("create");

    let mut seen = Vec::new();
    let mut stream = engine.subscribe(id, 1).await.expect("subscribe");
    // Take a few events, then drop the connection.
    for _ in 0..5 {
        let event = stream.next().await.expect("open").expect("event");
        seen.push(event);
    }
    drop(stream);
    // Reconnect from the next sequence number, several times, while the episode runs.
    loop {
        let last = seen.last().map_or(0, |e| e.seq);
        let mut stream = engine.subscribe(id, last + 1).await.expect("resubscribe");
        let mut completed = false;
        for _ in 0..7 {
            match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
                Ok(Some(event)) => {
                    let event = event.expect("event");
                    completed |= event.kind == EventKind::EpisodeCompleted;
                    seen.push(event);
                }
                other => panic!("stream ended: {other:?}"),
            }
            if completed {
                break;
            }
        }
        if completed {
            break;
        }
    }
    let seqs: Vec<u64> = seen.iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "every event exactly once, in order");
    let snapshot = engine.snapshot(id).await.expect("snapshot");
    assert_eq!(snapshot.header.status, EpisodeStatus::Completed);
    assert_eq!(snapshot.header.next_seq, seqs.len() as u64 + 1);
    assert!(matches!(seen[0].kind, EventKind::EpisodeCreated { .. }));
}

#[tokio::test]
async fn a_live_subscriber_sees_an_approval_only_after_it_is_durable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = Runs::default();
    let engine = open(dir.path(), vec![gated_workflow(&runs)]).await;
    let id = engine
        .create_episode("gated", serde_json::json!("idea"), 1)
        .await
        .expect("create");
    let draft = InstanceKey::single("draft");
    let at_gate = wait_state(&engine, id, &draft, NodeState::AwaitingApproval {}).await;
    let mut live = engine.subscribe(id, at_gate.header.next_seq).await.expect("subscribe");
    engine.approve(id, draft.clone(), 1).await.expect("approve");
    let event = live.next().await.expect("open").expect("event");
    assert_eq!(
        event.kind,
        EventKind::Approved {
            key: draft,
            version: 1,
            automatic: false
        }
    );
    // What the subscriber saw is on disk already: a fresh read of the store has it.
    let stored = engine
        .subscribe(id, event.seq)
        .await
        .expect("subscribe")
        .next()
        .await
        .expect("open")
        .expect("event");
    assert_eq!(stored, event);
}

#[tokio::test]
async fn progress_reports_become_events() {
    use showrunner::engine::{NodeSpec, WorkflowDef};
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = Runs::default();
    let def = WorkflowDef::builder("p")
        .node(NodeSpec::single(
            "render",
            crate::support::counted(&runs, |_, ctx| {
                ctx.progress(0.25, "first frames");
                ctx.progress(0.5, "dropped: too soon after the last report");
                ctx.progress(1.0, "done");
                serde_json::json!("rendered")
            }),
        ))
        .build()
        .expect("valid");
    let engine = open(dir.path(), vec![def]).await;
    let id = engine
        .create_episode("p", serde_json::json!({}), 1)
        .await
        .expect("create");
    let done = crate::support::wait_status(&engine, id, EpisodeStatus::Completed).await;
    let mut stream = engine.subscribe(id, 1).await.expect("subscribe");
    let mut progress = Vec::new();
    while stream.next_seq() < done.header.next_seq {
        if let EventKind::NodeProgress {
            fraction,
            message,
            attempt,
            ..
        } = stream.next().await.expect("open").expect("event").kind
        {
            progress.push((attempt, fraction, message));
        }
    }
    assert_eq!(
        progress,
        vec![(1, 0.25, "first frames".to_owned()), (1, 1.0, "done".to_owned())]
    );
}
