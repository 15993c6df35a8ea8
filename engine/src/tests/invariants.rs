//! The properties checked after every step of a simulation: what one step may change ([`step`]),
//! what must hold of any episode ([`state`]), and that no instance is left waiting for something
//! that will never come ([`liveness`]).
//!
//! Each check returns the first violation as a message. Readiness is worked out here from the
//! records alone, independently of the episode's own bookkeeping, so that the two can disagree.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::EngineError;
use crate::events::EventKind;
use crate::ids::InstanceKey;
use crate::pure::command::{Changes, Command, Effect};
use crate::pure::definition::{Gate, NodeKind, Read, WorkflowDef};
use crate::pure::episode::Episode;
use crate::pure::fingerprint::{derive_seed, value_hash};
use crate::pure::lifecycle::NodeState;
use crate::record::{Author, EpisodeStatus, InstanceRecord};

use super::harness::Sim;

/// Fails the check with a formatted message when `cond` does not hold.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// What the checks remember between steps.
#[derive(Debug, Default)]
pub(super) struct Memory {
    /// For each map node fed by a list, the item ids of the list's version that was approved last
    /// (none before the first approval).
    approved_items: BTreeMap<String, BTreeSet<String>>,
}

/// Every instance of `episode`, by key.
fn records(episode: &Episode) -> BTreeMap<InstanceKey, &InstanceRecord> {
    episode.instances().map(|r| (r.key.clone(), r)).collect()
}

/// Whether one of `events` of the kinds `kinds` accepts is about `key`.
fn names(key: &InstanceKey, events: &[EventKind], kinds: fn(&EventKind) -> bool) -> bool {
    events.iter().any(|e| kinds(e) && e.key() == Some(key))
}

/// What applying `command` to `before` (giving `after`, `result` and `changes`) may do.
pub(super) fn step(
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
pub(super) fn twin(
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

/// Whether `node` is settled: approved, or for a map node, its source settled and every item
/// approved (so a map with no items is settled when its source is).
fn complete(def: &WorkflowDef, episode: &Episode, node: &str) -> bool {
    let Some(spec) = def.node(node) else { return false };
    let mut own = episode.instances().filter(|r| r.key.node == node).peekable();
    match spec.kind() {
        NodeKind::Map { over } => complete(def, episode, over) && own.all(|r| r.state.is_approved()),
        _ => own
            .peek()
            .is_some_and(|r| r.key.item.is_none() && r.state.is_approved()),
    }
}

/// The record of `key` when it is approved.
fn approved(episode: &Episode, def: &WorkflowDef, key: &InstanceKey) -> Option<InstanceRecord> {
    episode.instance(def, key).filter(|r| r.state.is_approved()).cloned()
}

/// The item ids of a list instance's current version.
fn list_ids(record: &InstanceRecord) -> BTreeSet<String> {
    record
        .current_version()
        .and_then(|v| v.items.as_ref())
        .map(|items| items.iter().map(|m| m.id.clone()).collect())
        .unwrap_or_default()
}

/// Whether every input of `record` is approved, worked out from the definition and the records.
fn inputs_ready(def: &WorkflowDef, episode: &Episode, record: &InstanceRecord) -> bool {
    let Some(spec) = def.node(&record.key.node) else {
        return false;
    };
    let own = match (spec.kind(), &record.key.item) {
        (NodeKind::Map { over }, Some(id)) => match def.node(over).map(|s| s.kind()) {
            Some(NodeKind::List) => {
                approved(episode, def, &InstanceKey::single(over)).is_some_and(|list| list_ids(&list).contains(id))
            }
            _ => approved(episode, def, &InstanceKey::item(over, id)).is_some(),
        },
        (NodeKind::Map { .. }, None) => false,
        (NodeKind::Reduce { over }, _) => complete(def, episode, over),
        _ => true,
    };
    own && spec.read_list().iter().all(|read| match read {
        Read::Whole(node) => complete(def, episode, node),
        Read::Items { node, ids_at } => {
            let source = def.node(node).and_then(|s| s.map_source()).unwrap_or_default();
            complete(def, episode, source)
                && picked(def, episode, record, ids_at).iter().all(|id| {
                    let key = InstanceKey::item(node, id);
                    episode.instance(def, &key).is_none_or(|r| r.state.is_approved())
                })
        }
    })
}

/// The ids the own item of map instance `record` lists at `pointer`.
fn picked(def: &WorkflowDef, episode: &Episode, record: &InstanceRecord, pointer: &str) -> Vec<String> {
    let Some(id) = &record.key.item else { return Vec::new() };
    let Some(over) = def.node(&record.key.node).and_then(|s| s.map_source()) else {
        return Vec::new();
    };
    let source = match def.node(over).map(|s| s.kind()) {
        Some(NodeKind::List) => episode
            .instance(def, &InstanceKey::single(over))
            .and_then(|r| r.current_version())
            .and_then(|v| v.items.as_ref())
            .and_then(|items| items.iter().find(|m| &m.id == id))
            .map(|m| m.picks.clone()),
        _ => episode
            .instance(def, &InstanceKey::item(over, id))
            .and_then(|r| r.current_version())
            .map(|v| v.picks.clone()),
    };
    source
        .and_then(|picks| picks.into_iter().find(|(p, _)| p == pointer))
        .map(|(_, ids)| ids)
        .unwrap_or_default()
}

/// What must hold of the episode after any step.
pub(super) fn state(sim: &Sim, memory: &mut Memory) -> Result<(), String> {
    let def = &sim.def;
    let episode = &sim.episode;
    let status = episode.status();
    for record in episode.instances() {
        let key = &record.key;
        let spec = def.node(&key.node).ok_or(format!("`{key}` names no node"))?;
        ensure!(
            spec.map_source().is_some() == key.item.is_some(),
            "`{key}`: only map instances have an item"
        );
        for (i, v) in record.versions.iter().enumerate() {
            ensure!(v.n as usize == i + 1, "`{key}`: version {} at position {i}", v.n);
            if v.author == Author::User {
                ensure!(
                    v.attempt == 0 && v.seed == 0,
                    "`{key}` v{}: an edit with a run's attempt or seed",
                    v.n
                );
            }
            let list = *spec.kind() == NodeKind::List;
            ensure!(
                v.items.is_some() == list,
                "`{key}` v{}: items only on a list's versions",
                v.n
            );
        }
        if let Some(n) = record.current {
            ensure!(record.version(n).is_some(), "`{key}`: current v{n} does not exist");
        }
        for c in &record.candidates {
            ensure!(record.version(*c).is_some(), "`{key}`: candidate v{c} does not exist");
        }
        let candidates_gate = matches!(spec.gate_ref(), Gate::Candidates { .. });
        ensure!(
            record.candidates.is_empty() || candidates_gate,
            "`{key}`: candidates outside a candidates gate"
        );
        match record.state {
            NodeState::Approved {} | NodeState::AwaitingApproval {} => {
                ensure!(
                    record.current.is_some(),
                    "`{key}` is {} with no current version",
                    record.state.name()
                );
            }
            NodeState::Running { attempt } => {
                ensure!(
                    attempt == record.attempts,
                    "`{key}` runs attempt {attempt} after {} starts",
                    record.attempts
                );
                ensure!(
                    matches!(
                        status,
                        EpisodeStatus::Active | EpisodeStatus::Completed | EpisodeStatus::Failed
                    ),
                    "`{key}` runs while the episode is {}",
                    status.name()
                );
                let known = sim.runs.iter().any(|r| &r.key == key && r.attempt == attempt);
                ensure!(known, "`{key}` runs attempt {attempt}, which the runner never started");
            }
            NodeState::Produced {} => return Err(format!("`{key}` was left in `produced`")),
            NodeState::Failed {} => {
                ensure!(record.last_error.is_some(), "`{key}` failed without an error");
            }
            NodeState::Cancelled {} => {
                ensure!(
                    status == EpisodeStatus::Cancelled,
                    "`{key}` is cancelled in a {} episode",
                    status.name()
                );
            }
            _ => {}
        }
        if candidates_gate && record.state == (NodeState::AwaitingApproval {}) {
            ensure!(
                record.current.is_some_and(|c| record.candidates.contains(&c)),
                "`{key}` awaits a pick but its current version is not a candidate"
            );
        }
        if status == EpisodeStatus::Cancelled {
            ensure!(
                matches!(record.state, NodeState::Approved {} | NodeState::Cancelled {}),
                "`{key}` is {} in a cancelled episode",
                record.state.name()
            );
        }
    }

    // The status follows from the records (and so do the episode's private counters).
    if !matches!(status, EpisodeStatus::Paused | EpisodeStatus::Cancelled) {
        let failed = episode.instances().any(|r| r.state == NodeState::Failed {});
        let done = def.nodes().iter().all(|s| complete(def, episode, s.key()));
        let expected = if failed {
            EpisodeStatus::Failed
        } else if done {
            EpisodeStatus::Completed
        } else {
            EpisodeStatus::Active
        };
        ensure!(
            status == expected,
            "the episode is {} but its records say {}",
            status.name(),
            expected.name()
        );
    }

    // Map instances exist exactly for the items of their source: a map over a list follows the
    // list's version that was approved last, a map over a map follows that map's instances.
    for spec in def.nodes() {
        let Some(over) = spec.map_source() else { continue };
        let ids: BTreeSet<String> = ids_of(episode, spec.key());
        let wanted = match def.node(over).map(|s| s.kind()) {
            Some(NodeKind::List) => {
                let remembered = memory.approved_items.entry(spec.key().to_owned()).or_default();
                if let Some(list) = approved(episode, def, &InstanceKey::single(over)) {
                    *remembered = list_ids(&list);
                }
                remembered.clone()
            }
            _ => ids_of(episode, over),
        };
        ensure!(
            ids == wanted,
            "`{}` has items {ids:?}, its source `{over}` {wanted:?}",
            spec.key()
        );
    }
    Ok(())
}

/// The item ids of map node `node`'s instances.
fn ids_of(episode: &Episode, node: &str) -> BTreeSet<String> {
    episode
        .instances()
        .filter(|r| r.key.node == node)
        .filter_map(|r| r.key.item.clone())
        .collect()
}

/// Nothing waits for what will not come: a ready or retrying instance has approved inputs, a
/// blocked or stale one does not; a ready one is queued while the episode takes work, and a
/// retrying one has a timer.
pub(super) fn liveness(sim: &Sim) -> Result<(), String> {
    let def = &sim.def;
    let episode = &sim.episode;
    let takes_work = !matches!(episode.status(), EpisodeStatus::Paused | EpisodeStatus::Cancelled);
    for record in episode.instances() {
        let key = &record.key;
        let ready = inputs_ready(def, episode, record);
        match record.state {
            NodeState::Ready {} | NodeState::RetryWait { .. } => {
                ensure!(
                    ready,
                    "`{key}` is {} but its inputs are not approved",
                    record.state.name()
                );
            }
            NodeState::Blocked {} | NodeState::Stale {} => {
                ensure!(!ready, "`{key}` is {} but its inputs are approved", record.state.name());
            }
            _ => {}
        }
        if record.state == (NodeState::Ready {}) && takes_work {
            ensure!(
                sim.pending.contains(key),
                "`{key}` is ready but the runner was never asked to queue it"
            );
        }
        if let NodeState::RetryWait { .. } = record.state {
            ensure!(
                sim.timers.contains_key(key),
                "`{key}` waits to retry but no timer is armed"
            );
        }
    }
    Ok(())
}
