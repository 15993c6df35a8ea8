//! The properties: random sequences of user actions and runner reports, applied to the pure core
//! through the simulated runner, keep every invariant of [`super::invariants`] after every step.
//! `PROPTEST_CASES` raises the number of cases for a deeper search.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{FileFailurePersistence, TestRunner};

use super::actions::{Step, command, steps};
use super::harness::Sim;
use super::invariants::{self, Memory};
use crate::events::EventKind;
use crate::pure::definition::GateKind;
use crate::record::EpisodeStatus;

/// The longest sequence tried.
const STEPS: usize = 200;

/// Runs `steps` from a new episode, checking after each one; with `live`, the liveness checks too.
fn simulate(steps: &[Step], live: bool) -> Result<(), TestCaseError> {
    let (mut sim, _) = Sim::new();
    let mut memory = Memory::default();
    let check = |sim: &Sim, memory: &mut Memory, at: &str| -> Result<(), TestCaseError> {
        invariants::state(sim, memory).map_err(|e| TestCaseError::fail(format!("{at}: {e}")))?;
        if live {
            invariants::liveness(sim).map_err(|e| TestCaseError::fail(format!("{at}: {e}")))?;
        }
        Ok(())
    };
    check(&sim, &mut memory, "after create")?;
    for (n, step) in steps.iter().enumerate() {
        sim.now += step.dt;
        let command = command(&mut sim, &step.action);
        let at = format!("step {n} ({command:?})");
        let fail = |e: String| TestCaseError::fail(format!("{at}: {e}"));
        let before = sim.episode.clone();
        let mut twin = sim.restored().map_err(&fail)?;
        let (result, changes) = sim.apply(command.clone());
        invariants::step(&sim.def, &before, &sim.episode, &command, &result, &changes).map_err(&fail)?;
        invariants::twin(&sim, &mut twin, command, &result, &changes).map_err(&fail)?;
        check(&sim, &mut memory, &at)?;
    }
    Ok(())
}

fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// Refusals change nothing; the records stay legal; maps follow their sources; events,
    /// effects and dirty marks match what changed; nothing approved runs again by itself;
    /// recovery leaves nothing running; the store holds all it needs to restore the episode.
    #[test]
    fn every_step_keeps_the_episode_legal(steps in steps(STEPS)) {
        simulate(&steps, false)?;
    }

    /// As above, and no instance waits for something that will never come (known gaps aside).
    #[test]
    fn nothing_waits_forever(steps in steps(STEPS)) {
        simulate(&steps, true)?;
    }
}

/// The generated sequences get deep enough for the properties to mean something: over a fixed
/// set of cases, every gate decides, lists shrink, outputs go stale, episodes complete.
#[test]
fn the_sequences_reach_every_gate_and_outcome() {
    let mut runner = TestRunner::deterministic();
    let strategy = steps(STEPS);
    let mut seen = BTreeSet::new();
    for _ in 0..128 {
        let steps = strategy.new_tree(&mut runner).expect("a sequence").current();
        let (mut sim, _) = Sim::new();
        for step in &steps {
            sim.now += step.dt;
            let command = command(&mut sim, &step.action);
            let (result, changes) = sim.apply(command);
            if result.is_err() {
                seen.insert("a refusal");
            }
            for event in &changes.events {
                seen.insert(match event {
                    EventKind::Selected { .. } => "a candidate picked",
                    EventKind::RegenerateRequested { automatic: true, .. } => "a quality regenerate",
                    EventKind::GateOpened {
                        gate: GateKind::Quality,
                        ..
                    } => "a quality escalation",
                    EventKind::Approved {
                        key, automatic: true, ..
                    } if key.node == "portraits" => "a quality pass",
                    EventKind::Approved { key, .. } if key.node == "video" => "the video approved",
                    EventKind::ItemsChanged { removed, .. } if !removed.is_empty() => "an item removed",
                    EventKind::MarkedStale { .. } => "an output stale",
                    EventKind::Reverted { .. } => "a revert",
                    EventKind::Edited { .. } => "an edit",
                    EventKind::NodeFailed { retry_at: Some(_), .. } => "a retry",
                    EventKind::EpisodeFailed { .. } => "a failed episode",
                    EventKind::EpisodeCompleted => "a completed episode",
                    EventKind::EpisodeCancelled => "a cancelled episode",
                    _ => continue,
                });
            }
            if sim.episode.status() == EpisodeStatus::Paused {
                seen.insert("a paused episode");
            }
        }
    }
    let wanted = [
        "a refusal",
        "a candidate picked",
        "a quality regenerate",
        "a quality escalation",
        "a quality pass",
        "the video approved",
        "an item removed",
        "an output stale",
        "a revert",
        "an edit",
        "a retry",
        "a failed episode",
        "a completed episode",
        "a cancelled episode",
        "a paused episode",
    ];
    let missed: Vec<&str> = wanted.iter().copied().filter(|w| !seen.contains(w)).collect();
    assert!(missed.is_empty(), "no generated sequence reached: {missed:?}");
}
