//! The properties checked after every step of a simulation: what one step may change ([`step`]),
//! what must hold of any episode ([`state`]), and that no instance is left waiting for something
//! that will never come ([`liveness`]).
//!
//! Each check returns the first violation as a message. Readiness is worked out here from the
//! records alone, independently of the episode's own bookkeeping, so that the two can disagree.

use std::collections::{BTreeMap, BTreeSet};

use crate::ids::InstanceKey;
use crate::pure::definition::{Gate, NodeKind, Read, WorkflowDef};
use crate::pure::episode::Episode;
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

mod step;

pub(super) use step::{step, twin};

/// What the checks remember between steps.
#[derive(Debug, Default)]
pub(super) struct Memory {
    /// For each map node fed by a list, the item ids of the list's version that was approved last
    /// (none before the first approval).
    approved_items: BTreeMap<String, BTreeSet<String>>,
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
