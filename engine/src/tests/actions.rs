//! Random actions against the simulated runner and how each turns into a [`Command`].
//!
//! An action names its target by an index, resolved against the episode when it is applied: a
//! focused target picks among the instances where the action makes sense (queued ones for a
//! start, runs in flight for a finish, open gates for an approve), any other target among every
//! instance, and now and then a key that names no instance at all.

use std::sync::Arc;

use proptest::prelude::*;

use crate::error::NodeError;
use crate::ids::InstanceKey;
use crate::pure::command::{Command, Produced};
use crate::pure::definition::Gate;
use crate::pure::lifecycle::NodeState;
use crate::record::InstanceRecord;

use super::harness::{Payload, Sim, invalid_value_for, item, outputs, single, value_for};

/// How an action chooses its instance.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target {
    /// Among the instances where the action makes sense (falling back to every instance).
    Focus(usize),
    /// Among every instance.
    Any(usize),
    /// A key that names no instance.
    Unknown(usize),
}

/// The version an action names.
#[derive(Debug, Clone, Copy)]
pub(super) enum Version {
    /// The right one (current, candidate, older version, as the action needs).
    Right(usize),
    /// A raw number, most likely wrong.
    Raw(u32),
}

/// The attempt a runner report carries.
#[derive(Debug, Clone, Copy)]
pub(super) enum Attempt {
    /// The attempt the run was started as.
    Own,
    /// Off by this much: a report the episode must drop.
    Off(i8),
}

/// How a simulated run ends.
#[derive(Debug, Clone, Copy)]
pub(super) enum Outcome {
    /// Outputs made from `payload`: one per seed, or `count` when given.
    Ok {
        /// What the outputs hold.
        payload: Payload,
        /// Their quality score.
        score: Option<f64>,
        /// How many, when not one per seed.
        count: Option<usize>,
    },
    /// An output that breaks the list contract (for a list node; valid for the others).
    Malformed,
    /// No output at all.
    Empty,
    /// A failure worth retrying.
    Retryable,
    /// A failure for good.
    Permanent,
    /// The run saw its cancellation.
    Cancelled,
}

/// One step of a simulation.
#[derive(Debug, Clone)]
pub(super) enum Action {
    /// Grant a slot.
    Start(Target),
    /// Report the end of a run in flight.
    Finish(usize, Outcome, Attempt),
    /// Approve a version.
    Approve(Target, Version),
    /// Regenerate, naming a version or not.
    Regenerate(Target, Option<Version>),
    /// Store a person's value, valid or not, from a base version.
    Edit(Target, Option<Version>, Payload, bool),
    /// Pick a candidate.
    Select(Target, Version),
    /// Move the pointer back.
    Revert(Target, Version),
    /// Report progress of a run in flight.
    Progress(usize, Attempt),
    /// Fire a retry timer.
    RetryDue(Target),
    /// Pause the episode.
    Pause,
    /// Resume it.
    Resume,
    /// Cancel it.
    Cancel,
    /// Restart the runner; with `true`, as a holder of runs queued for workers, whose runs go
    /// on.
    Recover(bool),
}

/// One action and the time that passes before it, in milliseconds.
#[derive(Debug, Clone)]
pub(super) struct Step {
    /// Milliseconds before the action.
    pub(super) dt: u64,
    /// The action.
    pub(super) action: Action,
}

/// Mostly focused targets, some among all instances, a few unknown keys.
fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        12 => (0..16usize).prop_map(Target::Focus),
        3 => (0..32usize).prop_map(Target::Any),
        1 => (0..UNKNOWN.len()).prop_map(Target::Unknown),
    ]
}

/// Mostly the right version, sometimes a raw (likely wrong) number.
fn version() -> impl Strategy<Value = Version> {
    prop_oneof![
        4 => (0..4usize).prop_map(Version::Right),
        1 => (0..6u32).prop_map(Version::Raw),
    ]
}

/// Mostly the run's own attempt, sometimes a stray one.
fn attempt() -> impl Strategy<Value = Attempt> {
    prop_oneof![
        8 => Just(Attempt::Own),
        1 => prop_oneof![Just(-1i8), Just(1), Just(2)].prop_map(Attempt::Off),
    ]
}

/// Any small payload.
fn payload() -> impl Strategy<Value = Payload> {
    (0..8u8, 0..8u8, 0..16u8).prop_map(|(ids, variant, picks)| Payload { ids, variant, picks })
}

/// Mostly outputs (with scores below, at and above the quality bar), sometimes a failure.
fn outcome() -> impl Strategy<Value = Outcome> {
    let score = prop_oneof![Just(None), Just(Some(0.2)), Just(Some(0.5)), Just(Some(0.9))];
    let count = prop_oneof![4 => Just(None), 1 => (1..4usize).prop_map(Some)];
    prop_oneof![
        40 => (payload(), score, count).prop_map(|(payload, score, count)| Outcome::Ok { payload, score, count }),
        1 => Just(Outcome::Malformed),
        1 => Just(Outcome::Empty),
        3 => Just(Outcome::Retryable),
        1 => Just(Outcome::Permanent),
        1 => Just(Outcome::Cancelled),
    ]
}

/// Any action.
fn action() -> impl Strategy<Value = Action> {
    // Weighted so that a sequence of a couple of hundred steps often gets to the end of the
    // workflow: runner reports and approvals are common, churn is rarer, and cancelling (which
    // ends everything) rarest.
    prop_oneof![
        60 => target().prop_map(Action::Start),
        70 => (0..16usize, outcome(), attempt()).prop_map(|(i, o, a)| Action::Finish(i, o, a)),
        50 => (target(), version()).prop_map(|(t, v)| Action::Approve(t, v)),
        5 => (target(), proptest::option::of(version())).prop_map(|(t, v)| Action::Regenerate(t, v)),
        5 => (target(), proptest::option::of(version()), payload(), proptest::bool::weighted(0.85))
            .prop_map(|(t, v, p, ok)| Action::Edit(t, v, p, ok)),
        16 => (target(), version()).prop_map(|(t, v)| Action::Select(t, v)),
        3 => (target(), version()).prop_map(|(t, v)| Action::Revert(t, v)),
        3 => (0..16usize, attempt()).prop_map(|(i, a)| Action::Progress(i, a)),
        6 => target().prop_map(Action::RetryDue),
        2 => Just(Action::Pause),
        6 => Just(Action::Resume),
        1 => Just(Action::Cancel),
        3 => any::<bool>().prop_map(Action::Recover),
    ]
}

/// Up to `len` steps, each after 0 to 1.5 s (retry backoffs start at 0.5 s).
pub(super) fn steps(len: usize) -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        (0..1500u64, action()).prop_map(|(dt, action)| Step { dt, action }),
        1..=len,
    )
}

/// Keys that name no instance: an unknown node, an unknown item, a map node without an item, a
/// single node with one.
const UNKNOWN: [(&str, Option<&str>); 4] = [
    ("nope", None),
    ("characters", Some("zed")),
    ("frames", None),
    ("idea", Some("x")),
];

/// Resolves `target` to a key: focused on the instances `fits` accepts.
fn resolve(sim: &Sim, target: Target, fits: impl Fn(&InstanceRecord) -> bool) -> InstanceKey {
    let all: Vec<&InstanceRecord> = sim.episode.instances().collect();
    let pick = |among: &[&InstanceRecord], i: usize| among[i % among.len()].key.clone();
    match target {
        Target::Focus(i) => {
            let fitting: Vec<&InstanceRecord> = all.iter().copied().filter(|r| fits(r)).collect();
            if fitting.is_empty() {
                pick(&all, i)
            } else {
                pick(&fitting, i)
            }
        }
        Target::Any(i) => pick(&all, i),
        Target::Unknown(i) => match UNKNOWN[i % UNKNOWN.len()] {
            (node, Some(id)) => item(node, id),
            (node, None) => single(node),
        },
    }
}

/// The current version of `record` for a right version (1 when it has none), else the raw number.
fn current_or(record: Option<&InstanceRecord>, version: Version) -> u32 {
    match version {
        Version::Right(_) => record.and_then(|r| r.current).unwrap_or(1),
        Version::Raw(v) => v,
    }
}

/// Turns `action` into a command, using up the runner's ticket, run or timer it acts on.
pub(super) fn command(sim: &mut Sim, action: &Action) -> Command {
    let record = |sim: &Sim, key: &InstanceKey| sim.episode.instance(&sim.def, key).cloned();
    match *action {
        Action::Start(target) => {
            let key = match target {
                Target::Focus(i) if !sim.pending.is_empty() => {
                    let n = i % sim.pending.len();
                    sim.pending.iter().nth(n).cloned().expect("n is within the queue")
                }
                _ => resolve(sim, target, |r| r.state == NodeState::Ready {}),
            };
            sim.pending.remove(&key);
            Command::Start { key }
        }
        Action::Finish(i, outcome, attempt) => {
            let (key, own, node) = if sim.runs.is_empty() {
                let key = resolve(sim, Target::Any(i), |_| true);
                let node = key.node.clone();
                (key, 1, node)
            } else {
                // A report with the run's own attempt ends it; one with another attempt is a
                // stray report, and the run goes on.
                let n = i % sim.runs.len();
                let run = match attempt {
                    Attempt::Own => sim.runs.remove(n),
                    Attempt::Off(_) => sim.runs[n].clone(),
                };
                let node = run.key.node.clone();
                (run.key, run.attempt, node)
            };
            let seeds = usize::try_from(sim.def.node(&node).map_or(1, |spec| match spec.gate_ref() {
                Gate::Candidates { n } => *n,
                _ => 1,
            }))
            .expect("a candidate count fits in usize");
            let result = match outcome {
                Outcome::Ok { payload, score, count } => Ok(outputs(&node, payload, count.unwrap_or(seeds), score)),
                Outcome::Malformed => Ok(vec![Produced {
                    value: Arc::new(invalid_value_for(&node, Payload::FULL)),
                    score: None,
                    remarks: Vec::new(),
                }]),
                Outcome::Empty => Ok(Vec::new()),
                Outcome::Retryable => Err(NodeError::Retryable("the model timed out".into())),
                Outcome::Permanent => Err(NodeError::Permanent("the prompt was refused".into())),
                Outcome::Cancelled => Err(NodeError::Cancelled),
            };
            Command::Finished {
                key,
                attempt: shift(own, attempt),
                result,
            }
        }
        Action::Approve(target, version) => {
            let key = resolve(sim, target, |r| r.state == NodeState::AwaitingApproval {});
            let version = current_or(record(sim, &key).as_ref(), version);
            Command::Approve { key, version }
        }
        Action::Regenerate(target, version) => {
            let key = resolve(sim, target, |r| {
                matches!(
                    r.state,
                    NodeState::AwaitingApproval {}
                        | NodeState::Approved {}
                        | NodeState::Failed {}
                        | NodeState::RetryWait { .. }
                )
            });
            let version = version.map(|v| current_or(record(sim, &key).as_ref(), v));
            let feedback = version.map(|v| format!("not like version {v}"));
            Command::Regenerate { key, feedback, version }
        }
        Action::Edit(target, base, payload, valid) => {
            let key = resolve(sim, target, |r| {
                matches!(
                    r.state,
                    NodeState::AwaitingApproval {}
                        | NodeState::Approved {}
                        | NodeState::Failed {}
                        | NodeState::Stale {}
                )
            });
            let base_version = base.map(|v| current_or(record(sim, &key).as_ref(), v));
            let value = if valid {
                value_for(&key.node, payload, 0)
            } else {
                invalid_value_for(&key.node, payload)
            };
            Command::Edit {
                key,
                value,
                base_version,
            }
        }
        Action::Select(target, version) => {
            let key = resolve(sim, target, |r| !r.candidates.is_empty());
            let candidates = record(sim, &key).map(|r| r.candidates).unwrap_or_default();
            let version = match version {
                Version::Right(i) if !candidates.is_empty() => candidates[i % candidates.len()],
                Version::Right(_) => 1,
                Version::Raw(v) => v,
            };
            Command::Select { key, version }
        }
        Action::Revert(target, version) => {
            let key = resolve(sim, target, |r| r.versions.len() > 1);
            let count = record(sim, &key).map_or(0, |r| r.versions.len());
            let version = match version {
                Version::Right(i) if count > 0 => u32::try_from(1 + i % count).expect("few versions"),
                Version::Right(_) => 1,
                Version::Raw(v) => v,
            };
            Command::Revert { key, version }
        }
        Action::Progress(i, attempt) => {
            let (key, own) = match sim.runs.get(i % sim.runs.len().max(1)) {
                Some(run) => (run.key.clone(), run.attempt),
                None => (resolve(sim, Target::Any(i), |_| true), 1),
            };
            Command::Progress {
                key,
                attempt: shift(own, attempt),
                fraction: 0.5,
                message: "halfway".into(),
            }
        }
        Action::RetryDue(target) => {
            let key = match target {
                Target::Focus(i) if !sim.timers.is_empty() => {
                    let n = i % sim.timers.len();
                    sim.timers.keys().nth(n).cloned().expect("n is within the timers")
                }
                _ => resolve(sim, target, |r| matches!(r.state, NodeState::RetryWait { .. })),
            };
            sim.timers.remove(&key);
            Command::RetryDue { key }
        }
        Action::Pause => Command::Pause,
        Action::Resume => Command::Resume,
        Action::Cancel => Command::Cancel,
        Action::Recover(false) => {
            sim.restart();
            Command::Recover { in_flight: Vec::new() }
        }
        Action::Recover(true) => {
            sim.restart_queued();
            // Every run still reporting: superseded attempts among them, which go on no more.
            let in_flight = sim.runs.iter().map(|r| (r.key.clone(), r.attempt)).collect();
            Command::Recover { in_flight }
        }
    }
}

/// `attempt`, or a stray attempt next to it.
fn shift(attempt: u32, by: Attempt) -> u32 {
    match by {
        Attempt::Own => attempt,
        Attempt::Off(d) => attempt.saturating_add_signed(i32::from(d)),
    }
}
