//! Targeted tests of single rules of the pure core, on the harness workflow: version conflicts,
//! illegal actions, the quality and candidates gates, retries and failures, and the known gaps
//! the liveness property tolerates (ignored until the engine closes them).

use std::sync::Arc;

use serde_json::json;

use crate::error::{EngineError, NodeError};
use crate::events::EventKind;
use crate::ids::InstanceKey;
use crate::pure::command::{Changes, Command, Effect, Produced};
use crate::pure::definition::GateKind;
use crate::pure::lifecycle::NodeState;
use crate::record::EpisodeStatus;

use super::harness::{Payload, Sim, item, outputs, single};

/// Applies `command`, expects it refused, and checks that it changed nothing; returns the error.
fn refused(sim: &mut Sim, command: Command) -> EngineError {
    let before = sim.episode.clone();
    let (result, changes) = sim.apply(command);
    let error = result.expect_err("the command is refused");
    assert_eq!(before.header(), sim.episode.header(), "a refusal changed the header");
    assert!(
        before.instances().eq(sim.episode.instances()),
        "a refusal changed an instance"
    );
    assert!(
        changes.is_empty() && changes.effects.is_empty(),
        "a refusal wrote {changes:?}"
    );
    error
}

fn has_event(changes: &Changes, wanted: impl Fn(&EventKind) -> bool) -> bool {
    changes.events.iter().any(wanted)
}

fn enqueues(changes: &Changes, key: &InstanceKey) -> bool {
    changes
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Enqueue { key: k, .. } if k == key))
}

/// Runs `idea` and approves it, then runs `cast` with `ana` only (auto-approved).
fn cast_ready(sim: &mut Sim) {
    let idea = single("idea");
    sim.run_ok(&idea, Payload::FULL, None);
    sim.approve(&idea);
    let cast = Payload {
        ids: 0b001,
        ..Payload::FULL
    };
    sim.run_ok(&single("cast"), cast, None);
    assert_eq!(sim.state(&single("cast")), NodeState::Approved {});
}

#[test]
fn approving_a_version_that_is_not_current_conflicts_and_changes_nothing() {
    let (mut sim, _) = Sim::new();
    let idea = single("idea");
    sim.run_ok(&idea, Payload::FULL, None);
    sim.must(Command::Regenerate {
        key: idea.clone(),
        feedback: Some("darker".into()),
        version: Some(1),
    });
    sim.run_ok(
        &idea,
        Payload {
            variant: 1,
            ..Payload::FULL
        },
        None,
    );
    assert_eq!(sim.record(&idea).current, Some(2));

    for version in [1, 3, 0] {
        let error = refused(
            &mut sim,
            Command::Approve {
                key: idea.clone(),
                version,
            },
        );
        assert!(
            matches!(error, EngineError::VersionConflict { given, current: Some(2), .. } if given == version),
            "{error:?}"
        );
    }
    assert_eq!(sim.state(&idea), NodeState::AwaitingApproval {});
}

#[test]
fn approving_twice_is_illegal() {
    let (mut sim, _) = Sim::new();
    let idea = single("idea");
    sim.run_ok(&idea, Payload::FULL, None);
    sim.approve(&idea);
    let error = refused(
        &mut sim,
        Command::Approve {
            key: idea.clone(),
            version: 1,
        },
    );
    assert!(
        matches!(&error, EngineError::IllegalAction { action: "approve", state, .. } if state == "approved"),
        "{error:?}"
    );
}

#[test]
fn approving_a_running_instance_is_illegal() {
    let (mut sim, _) = Sim::new();
    let idea = single("idea");
    sim.start(&idea);
    let error = refused(&mut sim, Command::Approve { key: idea, version: 1 });
    assert!(matches!(error, EngineError::IllegalAction { .. }), "{error:?}");
}

#[test]
fn selecting_outside_a_candidates_gate_is_illegal() {
    let (mut sim, _) = Sim::new();
    let idea = single("idea");
    sim.run_ok(&idea, Payload::FULL, None);
    let error = refused(&mut sim, Command::Select { key: idea, version: 1 });
    assert!(
        matches!(
            error,
            EngineError::IllegalAction {
                action: "select a candidate of",
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn a_candidates_gate_offers_one_version_per_seed_and_a_pick_approves_it() {
    let (mut sim, _) = Sim::new();
    let idea = single("idea");
    sim.run_ok(&idea, Payload::FULL, None);
    sim.approve(&idea);
    let shots = Payload {
        ids: 0b001,
        picks: 0,
        ..Payload::FULL
    };
    sim.run_ok(&single("shots"), shots, None);
    // The frame reads the characters its shot shows (none), once the cast is settled.
    sim.run_ok(
        &single("cast"),
        Payload {
            ids: 0b001,
            ..Payload::FULL
        },
        None,
    );
    let frame = item("frames", "s1");
    let run = sim.start(&frame);
    assert_eq!(run.seeds.len(), 2);
    assert_ne!(run.seeds[0], run.seeds[1]);
    let changes = sim.finish(&run, Ok(outputs("frames", Payload::FULL, 2, None)));
    assert!(has_event(&changes, |e| matches!(
        e,
        EventKind::GateOpened { gate: GateKind::Candidates, versions, .. } if versions == &[1, 2]
    )));
    assert_eq!(sim.record(&frame).candidates, vec![1, 2]);

    let error = refused(
        &mut sim,
        Command::Select {
            key: frame.clone(),
            version: 3,
        },
    );
    assert!(
        matches!(error, EngineError::VersionConflict { given: 3, .. }),
        "{error:?}"
    );
    let changes = sim.must(Command::Select {
        key: frame.clone(),
        version: 2,
    });
    let record = sim.record(&frame);
    assert_eq!((record.state, record.current), (NodeState::Approved {}, Some(2)));
    assert!(record.candidates.is_empty());
    assert!(has_event(&changes, |e| matches!(
        e,
        EventKind::Selected { version: 2, .. }
    )));
    let video = single("video");
    assert_eq!(sim.state(&video), NodeState::Ready {});
    assert!(enqueues(&changes, &video));
}

#[test]
fn a_quality_gate_regenerates_below_the_bar_then_asks_a_person() {
    let (mut sim, _) = Sim::new();
    cast_ready(&mut sim);
    let character = item("characters", "ana");
    sim.run_ok(&character, Payload::FULL, None);
    sim.approve(&character);
    let portrait = item("portraits", "ana");
    assert_eq!(sim.state(&portrait), NodeState::Ready {});

    let first = sim.start(&portrait);
    let changes = sim.finish(&first, Ok(outputs("portraits", Payload::FULL, 1, Some(0.2))));
    assert!(has_event(&changes, |e| matches!(
        e,
        EventKind::RegenerateRequested { automatic: true, .. }
    )));
    assert!(
        enqueues(&changes, &portrait),
        "the automatic regenerate queues the portrait"
    );
    let record = sim.record(&portrait);
    assert_eq!(
        (record.state, record.quality_tries, record.generation),
        (NodeState::Ready {}, 1, 1)
    );

    let second = sim.start(&portrait);
    assert_ne!(first.seeds, second.seeds, "a regenerate runs with a new seed");
    let changes = sim.finish(&second, Ok(outputs("portraits", Payload::FULL, 1, Some(0.3))));
    assert!(has_event(&changes, |e| matches!(
        e,
        EventKind::GateOpened { gate: GateKind::Quality, versions, .. } if versions == &[2]
    )));
    assert!(!has_event(&changes, |e| matches!(
        e,
        EventKind::RegenerateRequested { .. }
    )));
    assert_eq!(sim.state(&portrait), NodeState::AwaitingApproval {});
    sim.approve(&portrait);
    assert_eq!(sim.state(&portrait), NodeState::Approved {});
}

#[test]
fn a_quality_gate_passes_a_score_at_the_bar_by_itself() {
    let (mut sim, _) = Sim::new();
    cast_ready(&mut sim);
    let character = item("characters", "ana");
    sim.run_ok(&character, Payload::FULL, None);
    sim.approve(&character);
    let portrait = item("portraits", "ana");
    let changes = sim.run_ok(&portrait, Payload::FULL, Some(0.5));
    assert!(has_event(&changes, |e| matches!(
        e,
        EventKind::Approved { automatic: true, .. }
    )));
    assert_eq!(sim.state(&portrait), NodeState::Approved {});
}

#[test]
fn a_retryable_failure_waits_for_its_timer() {
    let (mut sim, _) = Sim::new();
    let idea = single("idea");
    let run = sim.start(&idea);
    let changes = sim.finish(&run, Err(NodeError::Retryable("overloaded".into())));
    let NodeState::RetryWait { retry_at } = sim.state(&idea) else {
        panic!("a retryable failure waits to retry, not {:?}", sim.state(&idea));
    };
    assert!(retry_at > sim.now, "the retry is in the future");
    assert!(changes.effects.contains(&Effect::Timer {
        key: idea.clone(),
        at: retry_at
    }));
    assert!(has_event(
        &changes,
        |e| matches!(e, EventKind::NodeFailed { retry_at: Some(at), .. } if *at == retry_at)
    ));
    assert_eq!(sim.episode.status(), EpisodeStatus::Active);

    // A timer that fires early is armed again, and nothing else happens.
    sim.now = retry_at - 1;
    let changes = sim.must(Command::RetryDue { key: idea.clone() });
    assert_eq!(
        changes.effects,
        vec![Effect::Timer {
            key: idea.clone(),
            at: retry_at
        }]
    );
    assert!(changes.is_empty());

    sim.now = retry_at;
    let changes = sim.must(Command::RetryDue { key: idea.clone() });
    assert_eq!(sim.state(&idea), NodeState::Ready {});
    assert!(enqueues(&changes, &idea), "a due retry queues the instance");
    assert_eq!(sim.start(&idea).attempt, 2);
}

#[test]
fn retries_run_out_after_the_policy_s_attempts() {
    let (mut sim, _) = Sim::new();
    let idea = single("idea");
    for n in 1..=3 {
        let run = sim.start(&idea);
        assert_eq!(run.attempt, n);
        sim.finish(&run, Err(NodeError::Retryable("overloaded".into())));
        if let NodeState::RetryWait { retry_at } = sim.state(&idea) {
            sim.now = retry_at;
            sim.must(Command::RetryDue { key: idea.clone() });
        }
    }
    assert_eq!(sim.state(&idea), NodeState::Failed {});
    assert_eq!(sim.episode.status(), EpisodeStatus::Failed);
}

#[test]
fn a_permanent_failure_fails_the_instance_and_the_episode() {
    let (mut sim, _) = Sim::new();
    let idea = single("idea");
    let run = sim.start(&idea);
    let changes = sim.finish(&run, Err(NodeError::Permanent("refused".into())));
    assert_eq!(sim.state(&idea), NodeState::Failed {});
    assert_eq!(sim.episode.status(), EpisodeStatus::Failed);
    assert!(has_event(&changes, |e| matches!(
        e,
        EventKind::NodeFailed { retry_at: None, .. }
    )));
    assert!(has_event(
        &changes,
        |e| matches!(e, EventKind::EpisodeFailed { key } if *key == idea)
    ));
    assert!(!changes.effects.iter().any(|e| matches!(e, Effect::Timer { .. })));

    let changes = sim.must(Command::Regenerate {
        key: idea.clone(),
        feedback: None,
        version: None,
    });
    assert_eq!(sim.state(&idea), NodeState::Ready {});
    assert_eq!(sim.episode.status(), EpisodeStatus::Active);
    assert!(has_event(&changes, |e| matches!(e, EventKind::EpisodeReopened)));
}

#[test]
fn a_report_of_a_superseded_attempt_is_dropped() {
    let (mut sim, _) = Sim::new();
    let idea = single("idea");
    let first = sim.start(&idea);
    sim.must(Command::Recover { in_flight: Vec::new() });
    assert_eq!(sim.state(&idea), NodeState::Ready {});
    let second = sim.start(&idea);
    assert_eq!(second.attempt, 2);
    assert_eq!(first.seeds, second.seeds, "a crash-retried run gets the same seeds");
    let before = sim.episode.clone();
    let produced = vec![Produced {
        value: Arc::new(json!("late")),
        score: None,
        remarks: Vec::new(),
    }];
    let changes = sim.must(Command::Finished {
        key: idea.clone(),
        attempt: first.attempt,
        result: Ok(produced),
    });
    assert!(changes.is_empty() && changes.effects.is_empty());
    assert!(before.instances().eq(sim.episode.instances()));
    assert_eq!(sim.state(&idea), NodeState::Running { attempt: 2 });
}

#[test]
fn a_recovery_leaves_runs_on_workers_running_and_takes_their_reports() {
    let (mut sim, _) = Sim::new();
    let idea = single("idea");
    let run = sim.start(&idea);
    // The run is still queued for a worker at its attempt; a stray earlier attempt is ignored.
    let changes = sim.must(Command::Recover {
        in_flight: vec![(idea.clone(), run.attempt), (idea.clone(), run.attempt - 1)],
    });
    assert_eq!(sim.state(&idea), NodeState::Running { attempt: run.attempt });
    assert_eq!(
        changes.effects,
        vec![Effect::Adopt {
            key: idea.clone(),
            attempt: run.attempt
        }]
    );
    assert!(
        !changes
            .events
            .iter()
            .any(|e| matches!(e, EventKind::NodeInterrupted { .. }))
    );
    // Its report lands as if the episode had never changed hands.
    sim.finish(&run, Ok(outputs("idea", Payload::FULL, 1, None)));
    assert_eq!(sim.state(&idea), NodeState::AwaitingApproval {});
    // A run that is no longer in flight is interrupted and done again, its attempt counted.
    let (mut sim, _) = Sim::new();
    let run = sim.start(&idea);
    sim.must(Command::Recover { in_flight: Vec::new() });
    assert_eq!(sim.state(&idea), NodeState::Ready {});
    assert_eq!(sim.start(&idea).attempt, run.attempt + 1);
}

/// Regression: a reduce over a map fed by an empty list becomes ready. Approving the empty `shots`
/// list completes `frames` (no items, all approved) without adding or removing an item; the
/// readers of `frames` must be looked at all the same, or the episode never completes.
#[test]
fn regression_a_reduce_over_an_empty_map_starts() {
    let (mut sim, _) = Sim::new();
    let idea = single("idea");
    sim.run_ok(&idea, Payload::FULL, None);
    sim.approve(&idea);
    let changes = sim.run_ok(
        &single("shots"),
        Payload {
            ids: 0,
            ..Payload::FULL
        },
        None,
    );
    assert_eq!(sim.state(&single("shots")), NodeState::Approved {});
    let video = single("video");
    assert_eq!(
        sim.state(&video),
        NodeState::Ready {},
        "nothing is left for the video to wait for"
    );
    assert!(enqueues(&changes, &video));
}

/// Regression: an item read waits for the read map's source list to settle, so that list counts
/// among the reader's dependencies. A frame whose shot shows no cast member waits for `cast`;
/// approving a `cast` with no members changes no `characters` item, yet the frame must be looked
/// at again and queued.
#[test]
fn regression_an_item_read_is_revisited_when_the_read_maps_list_settles() {
    let (mut sim, _) = Sim::new();
    let idea = single("idea");
    sim.run_ok(&idea, Payload::FULL, None);
    sim.approve(&idea);
    sim.run_ok(
        &single("shots"),
        Payload {
            ids: 0b001,
            picks: 0,
            ..Payload::FULL
        },
        None,
    );
    let frame = item("frames", "s1");
    assert_eq!(sim.state(&frame), NodeState::Blocked {}, "the cast is not settled yet");
    let changes = sim.run_ok(
        &single("cast"),
        Payload {
            ids: 0,
            ..Payload::FULL
        },
        None,
    );
    assert_eq!(sim.state(&single("cast")), NodeState::Approved {});
    assert_eq!(
        sim.state(&frame),
        NodeState::Ready {},
        "the cast is settled and the shot shows no one"
    );
    assert!(enqueues(&changes, &frame));
}

/// Regression, the other direction: a ready frame goes back to blocked when the cast it waits
/// for is regenerated.
#[test]
fn regression_an_item_reader_is_blocked_when_the_read_maps_list_is_regenerated() {
    let (mut sim, _) = Sim::new();
    cast_ready(&mut sim);
    sim.run_ok(
        &single("shots"),
        Payload {
            ids: 0b001,
            picks: 0,
            ..Payload::FULL
        },
        None,
    );
    let frame = item("frames", "s1");
    assert_eq!(sim.state(&frame), NodeState::Ready {});
    sim.must(Command::Regenerate {
        key: single("cast"),
        feedback: None,
        version: None,
    });
    assert_eq!(
        sim.state(&frame),
        NodeState::Blocked {},
        "the cast is no longer settled"
    );
}
