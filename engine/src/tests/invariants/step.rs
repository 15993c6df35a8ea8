//! What one step may change ([`step`]), and that the episode restored from the store takes the
//! step as the live one did ([`twin`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::EngineError;
use crate::events::EventKind;
use crate::ids::InstanceKey;
use crate::pure::command::{Changes, Command, Effect};
use crate::pure::definition::{Gate, WorkflowDef};
use crate::pure::episode::Episode;
use crate::pure::fingerprint::{derive_seed, value_hash};
use crate::pure::lifecycle::NodeState;
use crate::record::{Author, InstanceRecord};

use super::super::harness::Sim;

/// Every instance of `episode`, by key.
fn records(episode: &Episode) -> BTreeMap<InstanceKey, &InstanceRecord> {
    episode.instances().map(|r| (r.key.clone(), r)).collect()
}

/// Whether one of `events` of the kinds `kinds` accepts is about `key`.
fn names(key: &InstanceKey, events: &[EventKind], kinds: fn(&EventKind) -> bool) -> bool {
    events.iter().any(|e| kinds(e) && e.key() == Some(key))
}

/// What applying `command` to `before` (giving `after`, `result` and `changes`) may do.
pub(in crate::tests) fn step(
    def: &WorkflowDef,
    before: &Episode,
    after: &Episode,
    command: &Command,
    result: &Result<(), EngineError>,
    changes: &Changes,
) -> Result<(), String> {
    let old = records(before);
    let new = records(after);
    if let Err(error) = result {
        ensure!(
            before.header() == after.header(),
            "refused ({error}) but the header changed"
        );
        for (key, record) in &old {
            ensure!(new.get(key) == Some(record), "refused ({error}) but `{key}` changed");
        }
        ensure!(old.len() == new.len(), "refused ({error}) but instances were added");
        ensure!(
            changes.is_empty() && changes.effects.is_empty(),
            "refused ({error}) but it wrote changes: {changes:?}"
        );
        return Ok(());
    }

    // A report of a superseded attempt is dropped: nothing at all happens.
    let superseded = |key: &InstanceKey, attempt: u32| {
        old.get(key)
            .is_some_and(|r| r.state != (NodeState::Running { attempt }))
    };
    match command {
        Command::Finished { key, attempt, .. } | Command::Progress { key, attempt, .. }
            if superseded(key, *attempt) =>
        {
            ensure!(
                changes.is_empty() && changes.effects.is_empty(),
                "a report of superseded attempt {attempt} of `{key}` wrote changes: {changes:?}"
            );
        }
        _ => {}
    }

    // Every changed record is dirty, every deleted one removed, and nothing else.
    let removed: BTreeSet<&InstanceKey> = changes.removed.iter().collect();
    for (key, record) in &new {
        if old.get(key) != Some(record) {
            ensure!(changes.dirty.contains(key), "`{key}` changed but is not marked dirty");
        }
        ensure!(!removed.contains(key), "`{key}` is reported removed but still exists");
    }
    for key in old.keys() {
        if !new.contains_key(key) {
            ensure!(
                removed.contains(key),
                "`{key}` disappeared without being reported removed"
            );
        }
    }
    for key in &changes.dirty {
        ensure!(new.contains_key(key), "dirty `{key}` does not exist");
    }
    if before.header() != after.header() {
        ensure!(!changes.events.is_empty(), "the header changed without an event");
    }

    // Every new version has its value, and every value is a new version.
    let mut made = 0;
    for (key, record) in &new {
        let had = old.get(key).map_or(0, |r| r.versions.len());
        ensure!(record.versions.len() >= had, "`{key}` lost versions");
        made += record.versions.len() - had;
    }
    ensure!(
        made == changes.values.len(),
        "{made} new versions but {} values",
        changes.values.len()
    );
    for (key, n, value) in &changes.values {
        let version = new.get(key).and_then(|r| r.version(*n));
        ensure!(
            version.is_some_and(|v| v.hash == value_hash(value)),
            "value of `{key}` v{n} does not match a version's hash"
        );
        ensure!(
            old.get(key).is_none_or(|r| r.version(*n).is_none()),
            "value of `{key}` v{n} overwrites an existing version"
        );
    }

    // Seeds are derived from the episode's seed and the generation, which only a regenerate
    // moves: a run that is retried after a crash gets the seeds its lost run had.
    let seed = after.header().seed;
    for (key, record) in &new {
        let generation = old.get(key).map_or(0, |r| r.generation);
        if record.generation != generation {
            let asked = names(key, &changes.events, |e| {
                matches!(e, EventKind::RegenerateRequested { .. })
            });
            ensure!(asked, "`{key}` changed generation without a regenerate");
        }
        let had = old.get(key).map_or(0, |r| r.versions.len());
        let fresh = record.versions[had..].iter().filter(|v| v.author == Author::Engine);
        for (c, v) in fresh.enumerate() {
            let c = u32::try_from(c).expect("few candidates");
            let expected = derive_seed(seed, &key.node, key.item.as_deref(), generation, c);
            ensure!(
                v.seed == expected,
                "`{key}` v{} has seed {}, its run had {expected}",
                v.n,
                v.seed
            );
        }
    }

    // An approved instance stays approved unless a regenerate or an invalidation says otherwise;
    // with the check on effects below, nothing approved ever runs again by itself.
    for (key, record) in &old {
        let kept = new.get(key).is_none_or(|r| r.state.is_approved());
        if record.state.is_approved() && !kept {
            let freed = names(key, &changes.events, |e| {
                matches!(e, EventKind::RegenerateRequested { .. } | EventKind::MarkedStale { .. })
            });
            ensure!(
                freed,
                "approved `{key}` left approval with no regenerate or invalidation"
            );
        }
    }

    // Events and effects name instances that exist, or were removed in this step.
    let known = |key: &InstanceKey| new.contains_key(key) || removed.contains(key);
    for event in &changes.events {
        if let Some(key) = event.key() {
            ensure!(known(key), "event {event:?} names an instance that does not exist");
        }
        match event {
            EventKind::Approved { key, version, .. } => {
                let record = new.get(key);
                ensure!(
                    removed.contains(key)
                        || record.is_some_and(|r| r.state.is_approved() && r.current == Some(*version)),
                    "`{key}` v{version} approved, but the record is {record:?}"
                );
            }
            EventKind::GateOpened { key, versions, .. } => {
                let record = new.get(key).ok_or(format!("gate of missing `{key}`"))?;
                ensure!(
                    !versions.is_empty() && versions.iter().all(|v| record.version(*v).is_some()),
                    "`{key}` opened a gate on versions {versions:?} it does not have"
                );
            }
            EventKind::NodeProduced { key, version, hash, .. } => {
                let made = new.get(key).and_then(|r| r.version(*version));
                ensure!(
                    made.is_some_and(|v| v.hash == *hash),
                    "`{key}` produced v{version}, which it does not have"
                );
            }
            _ => {}
        }
    }
    for effect in &changes.effects {
        let key = match effect {
            Effect::Enqueue { key, .. }
            | Effect::CancelRun { key }
            | Effect::Timer { key, .. }
            | Effect::Adopt { key, .. } => key,
            Effect::Run(run) => &run.key,
        };
        ensure!(known(key), "effect {effect:?} names an instance that does not exist");
        // Nothing approved runs again by itself: a regenerate or an invalidation comes first.
        if matches!(effect, Effect::Enqueue { .. } | Effect::Run(_))
            && old.get(key).is_some_and(|r| r.state.is_approved())
        {
            let freed = names(key, &changes.events, |e| {
                matches!(e, EventKind::RegenerateRequested { .. } | EventKind::MarkedStale { .. })
            });
            ensure!(
                freed,
                "approved `{key}` got {effect:?} with no regenerate or invalidation"
            );
        }
        match effect {
            Effect::Run(run) => {
                let record = new.get(key).ok_or(format!("run of missing `{key}`"))?;
                for (c, s) in run.seeds.iter().enumerate() {
                    let c = u32::try_from(c).expect("few candidates");
                    let expected = derive_seed(seed, &key.node, key.item.as_deref(), record.generation, c);
                    ensure!(
                        *s == expected,
                        "run of `{key}` has seed {s} for candidate {c}, not {expected}"
                    );
                }
                ensure!(
                    record.state == (NodeState::Running { attempt: run.attempt }) && record.attempts == run.attempt,
                    "run of `{key}` attempt {} but the record is {:?} after {} attempts",
                    run.attempt,
                    record.state,
                    record.attempts
                );
                let seeds = match def.node(&key.node).map(|s| s.gate_ref()) {
                    Some(Gate::Candidates { n }) => *n as usize,
                    _ => 1,
                };
                ensure!(
                    run.seeds.len() == seeds,
                    "run of `{key}` has {} seeds, not {seeds}",
                    run.seeds.len()
                );
            }
            Effect::Timer { at, .. } => {
                let state = new.get(key).map(|r| r.state);
                ensure!(
                    state == Some(NodeState::RetryWait { retry_at: *at }),
                    "timer for `{key}` at {at} but it is {state:?}"
                );
            }
            Effect::CancelRun { .. } => {
                let running = new
                    .get(key)
                    .is_some_and(|r| matches!(r.state, NodeState::Running { .. }));
                ensure!(!running, "`{key}` is still running after its run was cancelled");
            }
            Effect::Adopt { attempt, .. } => {
                let state = new.get(key).map(|r| r.state);
                ensure!(
                    state == Some(NodeState::Running { attempt: *attempt }),
                    "`{key}` adopted at attempt {attempt} but it is {state:?}"
                );
            }
            Effect::Enqueue { .. } => {}
        }
    }

    // Episode commands leave nothing running.
    let running = new.values().find(|r| matches!(r.state, NodeState::Running { .. }));
    match command {
        // A recovery leaves running only the runs it was told go on, each under its attempt,
        // and follows each of those.
        Command::Recover { in_flight } => {
            for r in new.values() {
                if let NodeState::Running { attempt } = r.state {
                    ensure!(
                        in_flight.contains(&(r.key.clone(), attempt)),
                        "`{}` still running attempt {attempt} after a recovery that did not keep it",
                        r.key
                    );
                    ensure!(
                        changes.effects.contains(&Effect::Adopt {
                            key: r.key.clone(),
                            attempt
                        }),
                        "`{}` kept running but not adopted",
                        r.key
                    );
                }
            }
        }
        Command::Pause | Command::Cancel => {
            ensure!(
                running.is_none(),
                "`{}` still running after {}",
                running.map_or("?".into(), |r| r.key.to_string()),
                command.name()
            );
        }
        _ => {}
    }
    Ok(())
}

/// The episode restored from the store before the step (`twin`) takes `command` as the live one
/// did: same result, same changes, same records after. So the store holds everything, and what
/// `restore` rebuilds (the per-node counters) matches what `apply` kept.
pub(in crate::tests) fn twin(
    sim: &Sim,
    twin: &mut Episode,
    command: Command,
    result: &Result<(), EngineError>,
    changes: &Changes,
) -> Result<(), String> {
    let mut out = Changes::default();
    let again = twin.apply(&sim.def, command, sim.now, &mut out);
    ensure!(
        again.is_ok() == result.is_ok(),
        "the restored episode answered {again:?}, the live one {result:?}"
    );
    ensure!(
        out.events == changes.events
            && out.effects == changes.effects
            && out.dirty == changes.dirty
            && out.removed == changes.removed
            && out.values == changes.values,
        "the restored episode changed {out:?}, the live one {changes:?}"
    );
    ensure!(
        twin.header() == sim.episode.header(),
        "the restored episode's header differs"
    );
    ensure!(
        twin.instances().eq(sim.episode.instances()),
        "the restored episode's records differ"
    );
    Ok(())
}
