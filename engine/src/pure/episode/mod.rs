//! The pure core of one episode: its state, and how a [`Command`] changes it.
//!
//! [`Episode::apply`] takes a command and the current time and records the events, effects and
//! dirty records in [`Changes`]; it reads no clock, store or network. A command that is refused
//! returns an error and changes nothing: every handler checks before it mutates. The runner
//! persists the changes, and only then performs the effects.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::error::{EngineError, StoreError};
use crate::events::EventKind;
use crate::ids::{ContentHash, EpisodeId, InstanceKey, SeriesId, Timestamp};
use crate::pure::command::{Changes, Command, Effect, InputSource};
use crate::pure::definition::{NodeKind, WorkflowDef};
use crate::pure::lifecycle::{LifecycleInput, NodeState};
use crate::record::{EpisodeRecord, EpisodeStatus, InstanceRecord, ItemMeta, ReadKey};
use crate::store::{EpisodeSnapshot, NewVersion};

mod actions;
mod invalidation;
mod readiness;
mod runs;

/// The instances of one node, with counters that keep readiness checks O(1).
#[derive(Debug, Clone, Default)]
pub(crate) struct Slot {
    pub(crate) instances: BTreeMap<Option<String>, InstanceRecord>,
    approved: usize,
    failed: usize,
    /// Instances with work for the runner: ready, running, or waiting to retry.
    active: usize,
    /// For a list node while it is approved: item id → position in the approved version's items.
    items: HashMap<String, usize>,
}

impl Slot {
    fn count(&mut self, state: NodeState, sign: isize) {
        let add = |n: &mut usize, yes: bool| {
            if yes {
                *n = n.saturating_add_signed(sign);
            }
        };
        add(&mut self.approved, state.is_approved());
        add(&mut self.failed, state == NodeState::Failed {});
        add(&mut self.active, has_work(state));
    }

    /// Rebuilds the item index of a list node from its approved version.
    fn index_items(&mut self) {
        self.items.clear();
        let Some(list) = self.instances.get(&None).filter(|r| r.state.is_approved()) else {
            return;
        };
        if let Some(items) = list.current_version().and_then(|v| v.items.as_ref()) {
            self.items = items.iter().enumerate().map(|(n, m)| (m.id.clone(), n)).collect();
        }
    }

    /// The approved list version's item with this id.
    fn item(&self, id: &str) -> Option<&ItemMeta> {
        let n = *self.items.get(id)?;
        self.instances.get(&None)?.current_version()?.items.as_ref()?.get(n)
    }
}

/// True for the states the runner has work for.
fn has_work(state: NodeState) -> bool {
    matches!(
        state,
        NodeState::Ready {} | NodeState::Running { .. } | NodeState::RetryWait { .. }
    )
}

/// One episode's state: its header and every node instance.
#[derive(Debug, Clone)]
pub struct Episode {
    header: EpisodeRecord,
    slots: Vec<Slot>,
    /// The header changed (beyond its event counter) since the last commit.
    header_dirty: bool,
}

/// The working context of one `apply`: definition, time, output, and the instances whose
/// approved output changed and whose dependents must be looked at.
struct Step<'a> {
    def: &'a WorkflowDef,
    now: Timestamp,
    out: &'a mut Changes,
    touched: Vec<(usize, Option<String>)>,
}

/// What a run reads: the inputs with their hashes, where each value comes from, and the input
/// fields that are objects keyed by item id (present even when empty).
struct Plan {
    reads: Vec<(ReadKey, ContentHash)>,
    inputs: Vec<InputSource>,
    object_fields: Vec<String>,
}

impl Episode {
    /// A new episode of `def`: its single nodes are instantiated and the roots made ready.
    pub fn create(def: &WorkflowDef, id: EpisodeId, input: Value, seed: u64, now: Timestamp) -> (Self, Changes) {
        let header = EpisodeRecord {
            id,
            workflow: def.name().to_owned(),
            definition_version: def.version().to_owned(),
            input,
            seed,
            status: EpisodeStatus::Active,
            created_at: now,
            forked_from: None,
            series: None,
            owner: None,
            next_seq: 1,
        };
        let mut episode = Self {
            header,
            slots: vec![Slot::default(); def.nodes().len()],
            header_dirty: true,
        };
        let mut out = Changes::default();
        out.events.push(EventKind::EpisodeCreated {
            workflow: def.name().to_owned(),
            definition_version: def.version().to_owned(),
            forked_from: None,
        });
        let mut step = Step {
            def,
            now,
            out: &mut out,
            touched: Vec::new(),
        };
        for (i, spec) in def.nodes().iter().enumerate() {
            if spec.map_source().is_none() {
                let key = InstanceKey::single(spec.key());
                episode.slots[i]
                    .instances
                    .insert(None, InstanceRecord::new(key.clone()));
                step.out.dirty.insert(key);
            }
        }
        for i in 0..def.nodes().len() {
            if def.nodes()[i].map_source().is_none() {
                episode.refresh(&mut step, i, &None);
            }
        }
        episode.update_status(&mut step);
        (episode, out)
    }

    /// Rebuilds an episode from its stored records. Fails when a record names a node the
    /// definition does not have.
    pub fn restore(def: &WorkflowDef, stored: EpisodeSnapshot) -> Result<Self, String> {
        let mut slots = vec![Slot::default(); def.nodes().len()];
        for record in stored.instances {
            let Some(i) = def.position(&record.key.node) else {
                return Err(format!(
                    "instance `{}` names a node the definition does not have",
                    record.key
                ));
            };
            let slot = &mut slots[i];
            slot.count(record.state, 1);
            slot.instances.insert(record.key.item.clone(), record);
        }
        for (i, slot) in slots.iter_mut().enumerate() {
            if *def.nodes()[i].kind() == NodeKind::List {
                slot.index_items();
            }
        }
        Ok(Self {
            header: stored.header,
            slots,
            header_dirty: false,
        })
    }

    /// A copy of this episode under a new id: the same pointers and versions (the values are
    /// copied by the caller; blobs are shared). Runs in flight are not inherited.
    pub fn fork(&self, def: &WorkflowDef, id: EpisodeId, now: Timestamp) -> (Self, Changes) {
        let mut episode = self.clone();
        episode.header_dirty = true;
        episode.header.id = id;
        episode.header.forked_from = Some(self.header.id);
        episode.header.created_at = now;
        episode.header.next_seq = 1;
        if episode.header.status != EpisodeStatus::Cancelled {
            episode.header.status = EpisodeStatus::Active;
        }
        let mut out = Changes::default();
        out.events.push(EventKind::EpisodeCreated {
            workflow: def.name().to_owned(),
            definition_version: def.version().to_owned(),
            forked_from: Some(self.header.id),
        });
        let mut step = Step {
            def,
            now,
            out: &mut out,
            touched: Vec::new(),
        };
        for slot in &mut episode.slots {
            for record in slot.instances.values_mut() {
                if let NodeState::Running { .. } = record.state {
                    // Both states have work: the counters stay right.
                    record.state = NodeState::Ready {};
                }
                step.out.dirty.insert(record.key.clone());
            }
        }
        episode.enqueue_ready(&mut step);
        episode.update_status(&mut step);
        (episode, out)
    }

    /// The episode's id.
    pub fn id(&self) -> EpisodeId {
        self.header.id
    }

    /// The header.
    pub fn header(&self) -> &EpisodeRecord {
        &self.header
    }

    /// Records the series a new episode belongs to.
    pub(crate) fn set_series(&mut self, series: SeriesId) {
        self.header.series = Some(series);
        self.header_dirty = true;
    }

    /// Records who a new episode belongs to.
    pub(crate) fn set_owner(&mut self, owner: Option<String>) {
        self.header.owner = owner;
        self.header_dirty = true;
    }

    /// What a commit writes of `changes`: the snapshots of the changed instances (without their
    /// versions) and the new versions with their metadata. Takes the values out of `changes`.
    pub fn commit_records(
        &self,
        def: &WorkflowDef,
        changes: &mut Changes,
    ) -> Result<(Vec<InstanceRecord>, Vec<NewVersion>), StoreError> {
        let instances = changes
            .dirty
            .iter()
            .filter_map(|key| self.instance(def, key).map(InstanceRecord::without_versions))
            .collect();
        let versions = std::mem::take(&mut changes.values)
            .into_iter()
            .map(|(key, n, value)| {
                let meta = self
                    .instance(def, &key)
                    .and_then(|r| r.version(n))
                    .cloned()
                    .ok_or_else(|| {
                        StoreError::Backend(format!("a value of `{key}` v{n} without its version record"))
                    })?;
                Ok(NewVersion { key, meta, value })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((instances, versions))
    }

    /// Gives `kinds` the episode's next sequence numbers, in order: the events of a commit.
    pub(crate) fn number_events(&mut self, kinds: Vec<EventKind>, now: Timestamp) -> Vec<crate::events::Event> {
        kinds
            .into_iter()
            .map(|kind| {
                let seq = self.header.next_seq;
                self.header.next_seq += 1;
                crate::events::Event {
                    episode: self.header.id,
                    seq,
                    at: now,
                    kind,
                }
            })
            .collect()
    }

    /// True (once) when the header changed beyond its event counter since the last call.
    pub(crate) fn take_header_dirty(&mut self) -> bool {
        std::mem::take(&mut self.header_dirty)
    }

    /// True when some instance has work for the runner (ready, running, waiting to retry):
    /// such an episode is resumed at start; the others wait, unloaded, for a person.
    pub fn has_work(&self) -> bool {
        self.slots.iter().any(|s| s.active > 0)
    }

    /// The episode's status.
    pub fn status(&self) -> EpisodeStatus {
        self.header.status
    }

    /// One instance.
    pub fn instance(&self, def: &WorkflowDef, key: &InstanceKey) -> Option<&InstanceRecord> {
        let i = def.position(&key.node)?;
        self.slots[i].instances.get(&key.item)
    }

    /// Where an edit of `key` would read its node's input from, as a run of it would (the
    /// inputs and the fields that are maps); `None` when its inputs are not all approved.
    pub(crate) fn edit_inputs(&self, def: &WorkflowDef, key: &InstanceKey) -> Option<(Vec<InputSource>, Vec<String>)> {
        let (i, item) = self.locate(def, key).ok()?;
        let plan = self.plan(def, i, &item)?;
        Some((plan.inputs, plan.object_fields))
    }

    /// Every instance, node by node in definition order, items in id order.
    pub fn instances(&self) -> impl Iterator<Item = &InstanceRecord> {
        self.slots.iter().flat_map(|s| s.instances.values())
    }

    /// Applies one command. On error nothing changed.
    pub fn apply(
        &mut self,
        def: &WorkflowDef,
        command: Command,
        now: Timestamp,
        out: &mut Changes,
    ) -> Result<(), EngineError> {
        let mut step = Step {
            def,
            now,
            out,
            touched: Vec::new(),
        };
        let action = command.name();
        let user_action = matches!(
            command,
            Command::Approve { .. }
                | Command::Regenerate { .. }
                | Command::Edit { .. }
                | Command::Select { .. }
                | Command::Revert { .. }
        );
        if user_action && self.header.status == EpisodeStatus::Cancelled {
            return Err(self.illegal_episode_action(action));
        }
        match command {
            Command::Approve { key, version } => self.approve(&mut step, &key, version)?,
            Command::Regenerate { key, feedback, version } => self.regenerate(&mut step, &key, feedback, version)?,
            Command::Edit {
                key,
                value,
                base_version,
            } => self.edit(&mut step, &key, value, base_version)?,
            Command::Select { key, version } => self.select(&mut step, &key, version)?,
            Command::Revert { key, version } => self.revert(&mut step, &key, version)?,
            Command::Pause => self.pause(&mut step)?,
            Command::Resume => self.resume(&mut step)?,
            Command::Cancel => self.cancel(&mut step)?,
            Command::Start { key } => self.start(&mut step, &key)?,
            Command::Finished { key, attempt, result } => self.finished(&mut step, &key, attempt, result)?,
            Command::Progress {
                key,
                attempt,
                fraction,
                message,
            } => {
                let (i, item) = self.locate(def, &key)?;
                if self.slots[i].instances[&item].state == (NodeState::Running { attempt }) {
                    step.out.events.push(EventKind::NodeProgress {
                        key,
                        attempt,
                        fraction,
                        message,
                    });
                }
            }
            Command::RetryDue { key } => {
                let (i, item) = self.locate(def, &key)?;
                if let NodeState::RetryWait { retry_at } = self.slots[i].instances[&item].state {
                    if now >= retry_at {
                        self.transition(&mut step, i, &item, LifecycleInput::RetryDue);
                        self.after_ready(&mut step, i, &item);
                    } else {
                        step.out.effects.push(Effect::Timer { key, at: retry_at });
                    }
                }
            }
            Command::Recover { in_flight } => self.recover(&mut step, &in_flight),
            Command::Note { author, text, data } => step.out.events.push(EventKind::Message { author, text, data }),
        }
        self.propagate(&mut step);
        self.update_status(&mut step);
        Ok(())
    }
}
