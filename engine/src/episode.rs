//! The pure core of one episode: its state, and how a [`Command`] changes it.
//!
//! [`Episode::apply`] takes a command and the current time and records the events, effects and
//! dirty records in [`Changes`]; it reads no clock, store or network. A command that is refused
//! returns an error and changes nothing: every handler checks before it mutates. The runner
//! persists the changes, and only then performs the effects.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::command::{Changes, Command, Effect, InputSource, Produced, RunSpec};
use crate::definition::{Gate, NodeKind, Read, WorkflowDef};
use crate::error::{EngineError, NodeError, StoreError};
use crate::events::EventKind;
use crate::fingerprint::{derive_seed, fingerprint, map_hash, value_hash};
use crate::ids::{ContentHash, EpisodeId, InstanceKey, SeriesId, Timestamp};
use crate::lifecycle::{LifecycleInput, NodeState};
use crate::record::{Author, EpisodeRecord, EpisodeStatus, InstanceRecord, ItemMeta, ReadKey, VersionMeta};
use crate::retry::backoff;
use crate::store::{BlobRef, EpisodeSnapshot, NewVersion};

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
            Command::Recover => self.recover(&mut step),
            Command::Note { author, text, data } => step.out.events.push(EventKind::Message { author, text, data }),
        }
        self.propagate(&mut step);
        self.update_status(&mut step);
        Ok(())
    }

    // ----- user actions -----

    fn approve(&mut self, step: &mut Step<'_>, key: &InstanceKey, version: u32) -> Result<(), EngineError> {
        let (i, item) = self.locate(step.def, key)?;
        let record = &self.slots[i].instances[&item];
        check_step(record, "approve", LifecycleInput::Approve)?;
        check_current(record, version)?;
        self.record_mut(step, i, &item).candidates.clear();
        self.transition(step, i, &item, LifecycleInput::Approve);
        step.out.events.push(EventKind::Approved {
            key: key.clone(),
            version,
            automatic: false,
        });
        Ok(())
    }

    fn regenerate(
        &mut self,
        step: &mut Step<'_>,
        key: &InstanceKey,
        feedback: Option<String>,
        version: Option<u32>,
    ) -> Result<(), EngineError> {
        let (i, item) = self.locate(step.def, key)?;
        let record = &self.slots[i].instances[&item];
        check_step(record, "regenerate", LifecycleInput::Regenerate)?;
        if let Some(v) = version {
            check_current(record, v)?;
        }
        let record = self.record_mut(step, i, &item);
        record.generation += 1;
        record.feedback = feedback.clone();
        record.quality_tries = 0;
        record.failures = 0;
        record.candidates.clear();
        step.out.events.push(EventKind::RegenerateRequested {
            key: key.clone(),
            feedback,
            automatic: false,
        });
        self.transition(step, i, &item, LifecycleInput::Regenerate);
        self.after_ready(step, i, &item);
        Ok(())
    }

    fn edit(
        &mut self,
        step: &mut Step<'_>,
        key: &InstanceKey,
        value: Value,
        base: Option<u32>,
    ) -> Result<(), EngineError> {
        let (i, item) = self.locate(step.def, key)?;
        let spec = &step.def.nodes()[i];
        let record = &self.slots[i].instances[&item];
        check_step(record, "edit", LifecycleInput::Edit)?;
        if base != record.current {
            return Err(EngineError::VersionConflict {
                key: key.clone(),
                given: base.unwrap_or(0),
                current: record.current,
            });
        }
        let invalid = |reason: String| EngineError::InvalidValue {
            key: key.clone(),
            reason,
        };
        spec.implementation().check_output(&value).map_err(invalid)?;
        let items = if *spec.kind() == NodeKind::List {
            Some(list_items(&value, step.def.item_pointers(i)).map_err(invalid)?)
        } else {
            None
        };
        let reads = match self.plan(step.def, i, &item) {
            Some(plan) => plan.reads,
            None => record.current_version().map(|v| v.reads.clone()).unwrap_or_default(),
        };
        let n = record.versions.len() as u32 + 1;
        let meta = VersionMeta {
            n,
            hash: value_hash(&value),
            fingerprint: fingerprint(spec.implementation().version(), item.as_deref(), &reads),
            reads,
            seed: 0,
            attempt: 0,
            feedback: None,
            author: Author::User,
            created_at: step.now,
            score: None,
            items,
            picks: picks(&value, step.def.item_pointers(i)),
            blobs: BlobRef::find_all(&value),
        };
        let record = self.record_mut(step, i, &item);
        record.versions.push(meta);
        record.current = Some(n);
        record.candidates.clear();
        step.out.values.push((key.clone(), n, Arc::new(value)));
        step.out.events.push(EventKind::Edited {
            key: key.clone(),
            version: n,
        });
        self.transition(step, i, &item, LifecycleInput::Edit);
        step.touched.push((i, item));
        Ok(())
    }

    fn select(&mut self, step: &mut Step<'_>, key: &InstanceKey, version: u32) -> Result<(), EngineError> {
        let (i, item) = self.locate(step.def, key)?;
        let record = &self.slots[i].instances[&item];
        if !matches!(step.def.nodes()[i].gate_ref(), Gate::Candidates { .. }) {
            return Err(illegal(record, "select a candidate of"));
        }
        check_step(record, "select a candidate of", LifecycleInput::Select)?;
        if !record.candidates.contains(&version) {
            return Err(EngineError::VersionConflict {
                key: key.clone(),
                given: version,
                current: record.current,
            });
        }
        let record = self.record_mut(step, i, &item);
        record.current = Some(version);
        record.candidates.clear();
        step.out.events.push(EventKind::Selected {
            key: key.clone(),
            version,
        });
        self.transition(step, i, &item, LifecycleInput::Select);
        step.out.events.push(EventKind::Approved {
            key: key.clone(),
            version,
            automatic: false,
        });
        Ok(())
    }

    fn revert(&mut self, step: &mut Step<'_>, key: &InstanceKey, version: u32) -> Result<(), EngineError> {
        let (i, item) = self.locate(step.def, key)?;
        let record = &self.slots[i].instances[&item];
        check_step(record, "revert", LifecycleInput::Revert)?;
        if record.version(version).is_none() || record.current == Some(version) {
            return Err(EngineError::VersionConflict {
                key: key.clone(),
                given: version,
                current: record.current,
            });
        }
        let record = self.record_mut(step, i, &item);
        record.current = Some(version);
        record.candidates.clear();
        step.out.events.push(EventKind::Reverted {
            key: key.clone(),
            version,
        });
        self.transition(step, i, &item, LifecycleInput::Revert);
        step.touched.push((i, item));
        Ok(())
    }

    fn pause(&mut self, step: &mut Step<'_>) -> Result<(), EngineError> {
        if !matches!(self.header.status, EpisodeStatus::Active | EpisodeStatus::Failed) {
            return Err(self.illegal_episode_action("pause"));
        }
        self.interrupt_running(step, "episode paused");
        self.header_dirty = true;
        self.header.status = EpisodeStatus::Paused;
        step.out.events.push(EventKind::EpisodePaused);
        Ok(())
    }

    fn resume(&mut self, step: &mut Step<'_>) -> Result<(), EngineError> {
        if self.header.status != EpisodeStatus::Paused {
            return Err(self.illegal_episode_action("resume"));
        }
        self.header_dirty = true;
        self.header.status = EpisodeStatus::Active;
        step.out.events.push(EventKind::EpisodeResumed);
        self.enqueue_ready(step);
        Ok(())
    }

    fn cancel(&mut self, step: &mut Step<'_>) -> Result<(), EngineError> {
        if matches!(self.header.status, EpisodeStatus::Cancelled | EpisodeStatus::Completed) {
            return Err(self.illegal_episode_action("cancel"));
        }
        for i in 0..self.slots.len() {
            let items: Vec<Option<String>> = self.slots[i].instances.keys().cloned().collect();
            for item in items {
                let record = &self.slots[i].instances[&item];
                if let NodeState::Running { .. } = record.state {
                    step.out.effects.push(Effect::CancelRun {
                        key: record.key.clone(),
                    });
                }
                // Approved instances keep their work; the machine leaves them as they are.
                self.transition(step, i, &item, LifecycleInput::Cancel);
            }
        }
        self.header_dirty = true;
        self.header.status = EpisodeStatus::Cancelled;
        step.out.events.push(EventKind::EpisodeCancelled);
        Ok(())
    }

    // ----- runner reports -----

    fn start(&mut self, step: &mut Step<'_>, key: &InstanceKey) -> Result<(), EngineError> {
        let (i, item) = self.locate(step.def, key)?;
        if !self.accepts_work() {
            return Err(self.illegal_episode_action("start work in"));
        }
        let record = &self.slots[i].instances[&item];
        let attempt = record.attempts + 1;
        check_step(record, "start", LifecycleInput::Start { attempt })?;
        let Some(plan) = self.plan(step.def, i, &item) else {
            return Err(illegal(record, "start (inputs not approved)"));
        };
        let spec = &step.def.nodes()[i];
        let candidates = match spec.gate_ref() {
            Gate::Candidates { n } => *n,
            _ => 1,
        };
        let seed = self.header.seed;
        let record = self.record_mut(step, i, &item);
        record.attempts = attempt;
        let generation = record.generation;
        let seeds = (0..candidates)
            .map(|c| derive_seed(seed, &key.node, key.item.as_deref(), generation, c))
            .collect();
        let feedback = record.feedback.clone();
        record.candidates.clear();
        record.last_error = None;
        self.transition(step, i, &item, LifecycleInput::Start { attempt });
        self.record_mut(step, i, &item).candidates.clear();
        self.set_inputs(i, &item, plan.reads);
        step.out.events.push(EventKind::NodeStarted {
            key: key.clone(),
            attempt,
        });
        step.out.effects.push(Effect::Run(RunSpec {
            key: key.clone(),
            attempt,
            seeds,
            feedback,
            inputs: plan.inputs,
            object_fields: plan.object_fields,
        }));
        Ok(())
    }

    fn finished(
        &mut self,
        step: &mut Step<'_>,
        key: &InstanceKey,
        attempt: u32,
        result: Result<Vec<Produced>, NodeError>,
    ) -> Result<(), EngineError> {
        let (i, item) = self.locate(step.def, key)?;
        if self.slots[i].instances[&item].state != (NodeState::Running { attempt }) {
            // A superseded attempt (interrupted, invalidated, cancelled): its report is dropped.
            return Ok(());
        }
        let spec = &step.def.nodes()[i];
        let outputs = result.and_then(|outputs| {
            if outputs.is_empty() {
                return Err(NodeError::Permanent("the run produced no output".into()));
            }
            outputs
                .into_iter()
                .map(|p| {
                    let items = match spec.kind() {
                        NodeKind::List => {
                            Some(list_items(&p.value, step.def.item_pointers(i)).map_err(NodeError::Permanent)?)
                        }
                        _ => None,
                    };
                    Ok((p, items))
                })
                .collect::<Result<Vec<_>, NodeError>>()
        });
        match outputs {
            Err(NodeError::Cancelled) => {
                self.transition(step, i, &item, LifecycleInput::Interrupt);
                step.out.events.push(EventKind::NodeInterrupted {
                    key: key.clone(),
                    attempt,
                    reason: "cancelled".into(),
                });
                self.after_ready(step, i, &item);
            }
            Err(error) => self.fail(step, i, &item, attempt, error),
            Ok(outputs) => self.produced(step, i, &item, attempt, outputs),
        }
        Ok(())
    }

    fn fail(&mut self, step: &mut Step<'_>, i: usize, item: &Option<String>, attempt: u32, error: NodeError) {
        let policy = step.def.nodes()[i].retry_policy().clone();
        let key = self.slots[i].instances[item].key.clone();
        let episode = self.header.id;
        let record = self.record_mut(step, i, item);
        record.failures += 1;
        record.last_error = Some(error.to_string());
        let permanent = matches!(error, NodeError::Permanent(_)) || record.failures >= policy.max_attempts;
        let retry_at = (!permanent).then(|| {
            let salt = format!("{episode}/{key}/{attempt}");
            step.now + backoff(&policy, record.failures, &salt).as_millis() as u64
        });
        step.out.events.push(EventKind::NodeFailed {
            key: key.clone(),
            attempt,
            error: error.to_string(),
            retry_at,
        });
        self.transition(step, i, item, LifecycleInput::Fail { retry_at });
        if let Some(at) = retry_at {
            if self.inputs_ready(step.def, i, item) {
                step.out.effects.push(Effect::Timer { key, at });
            } else {
                // An input was regenerated or edited while it ran: it waits for that, not for
                // a timer (the retry then runs on the new input).
                self.refresh(step, i, item);
            }
        }
    }

    fn produced(
        &mut self,
        step: &mut Step<'_>,
        i: usize,
        item: &Option<String>,
        attempt: u32,
        outputs: Vec<(Produced, Option<Vec<ItemMeta>>)>,
    ) {
        let def = step.def;
        let spec = &def.nodes()[i];
        let node_version = spec.implementation().version().to_owned();
        let seed = self.header.seed;
        let record = self.record_mut(step, i, item);
        let key = record.key.clone();
        let reads = record.inputs.clone();
        let print = fingerprint(&node_version, item.as_deref(), &reads);
        record.failures = 0;
        let mut made = Vec::new();
        for (c, (produced, items)) in outputs.into_iter().enumerate() {
            let n = record.versions.len() as u32 + 1;
            let hash = value_hash(&produced.value);
            record.versions.push(VersionMeta {
                n,
                hash,
                fingerprint: print,
                reads: reads.clone(),
                seed: derive_seed(seed, &key.node, item.as_deref(), record.generation, c as u32),
                attempt,
                feedback: record.feedback.clone(),
                author: Author::Engine,
                created_at: step.now,
                score: produced.score,
                items,
                picks: picks(&produced.value, def.item_pointers(i)),
                blobs: BlobRef::find_all(&produced.value),
            });
            step.out.events.push(EventKind::NodeProduced {
                key: key.clone(),
                version: n,
                hash,
                score: produced.score,
            });
            step.out.values.push((key.clone(), n, produced.value));
            made.push(n);
        }
        record.current = made.first().copied();
        let score = record.current_version().and_then(|v| v.score);
        // A re-run (after its inputs changed) that gives back exactly what a person approved is
        // approved again without asking: only a regenerate asks anew.
        let unchanged = made.len() == 1
            && record.approved.is_some_and(|(v, generation)| {
                generation == record.generation
                    && record.version(v).map(|v| v.hash) == record.current_version().map(|c| c.hash)
            });
        self.transition(step, i, item, LifecycleInput::Produce);
        match spec.gate_ref() {
            _ if unchanged => self.auto_approve(step, i, item),
            Gate::Auto => self.auto_approve(step, i, item),
            Gate::Human => self.open_gate(step, i, item, made),
            Gate::Candidates { .. } => {
                self.record_mut(step, i, item).candidates = made.clone();
                self.open_gate(step, i, item, made);
            }
            Gate::Quality {
                min_score,
                max_attempts,
                then,
            } => {
                if score.unwrap_or(0.0) >= *min_score {
                    self.auto_approve(step, i, item);
                    return;
                }
                let record = self.record_mut(step, i, item);
                record.quality_tries += 1;
                if record.quality_tries < *max_attempts {
                    record.generation += 1;
                    step.out.events.push(EventKind::RegenerateRequested {
                        key,
                        feedback: record.feedback.clone(),
                        automatic: true,
                    });
                    self.transition(step, i, item, LifecycleInput::Regenerate);
                    self.after_ready(step, i, item);
                } else if *then == crate::definition::Escalation::Human {
                    self.open_gate(step, i, item, made);
                } else {
                    let error = NodeError::Permanent(format!(
                        "quality score {:.3} stayed below {min_score} after {max_attempts} attempts",
                        score.unwrap_or(0.0)
                    ));
                    self.record_mut(step, i, item).last_error = Some(error.to_string());
                    step.out.events.push(EventKind::NodeFailed {
                        key,
                        attempt,
                        error: error.to_string(),
                        retry_at: None,
                    });
                    self.transition(step, i, item, LifecycleInput::Fail { retry_at: None });
                }
            }
        }
    }

    fn auto_approve(&mut self, step: &mut Step<'_>, i: usize, item: &Option<String>) {
        let record = &self.slots[i].instances[item];
        let key = record.key.clone();
        let version = record.current.unwrap_or(0);
        self.transition(step, i, item, LifecycleInput::AutoApprove);
        step.out.events.push(EventKind::Approved {
            key,
            version,
            automatic: true,
        });
    }

    fn open_gate(&mut self, step: &mut Step<'_>, i: usize, item: &Option<String>, versions: Vec<u32>) {
        let key = self.slots[i].instances[item].key.clone();
        self.transition(step, i, item, LifecycleInput::OpenGate);
        step.out.events.push(EventKind::GateOpened {
            key,
            gate: step.def.nodes()[i].gate_ref().kind(),
            versions,
        });
    }

    fn recover(&mut self, step: &mut Step<'_>) {
        self.interrupt_running(step, "engine restarted");
        if self.accepts_work() {
            self.enqueue_ready(step);
        }
        for slot in &self.slots {
            for record in slot.instances.values() {
                if let NodeState::RetryWait { retry_at } = record.state {
                    step.out.effects.push(Effect::Timer {
                        key: record.key.clone(),
                        at: retry_at,
                    });
                }
            }
        }
    }

    fn interrupt_running(&mut self, step: &mut Step<'_>, reason: &str) {
        for i in 0..self.slots.len() {
            let running: Vec<(Option<String>, u32)> = self.slots[i]
                .instances
                .iter()
                .filter_map(|(item, r)| match r.state {
                    NodeState::Running { attempt } => Some((item.clone(), attempt)),
                    _ => None,
                })
                .collect();
            for (item, attempt) in running {
                let key = self.slots[i].instances[&item].key.clone();
                step.out.effects.push(Effect::CancelRun { key: key.clone() });
                self.transition(step, i, &item, LifecycleInput::Interrupt);
                step.out.events.push(EventKind::NodeInterrupted {
                    key,
                    attempt,
                    reason: reason.to_owned(),
                });
                self.after_ready(step, i, &item);
            }
        }
    }

    fn enqueue_ready(&self, step: &mut Step<'_>) {
        for (i, slot) in self.slots.iter().enumerate() {
            for record in slot.instances.values() {
                if record.state == (NodeState::Ready {}) {
                    step.out.effects.push(Effect::Enqueue {
                        key: record.key.clone(),
                        resource: step.def.nodes()[i].resource_ref(),
                    });
                }
            }
        }
    }

    // ----- state bookkeeping -----

    fn locate(&self, def: &WorkflowDef, key: &InstanceKey) -> Result<(usize, Option<String>), EngineError> {
        def.position(&key.node)
            .filter(|&i| self.slots[i].instances.contains_key(&key.item))
            .map(|i| (i, key.item.clone()))
            .ok_or_else(|| EngineError::InstanceNotFound {
                episode: self.header.id,
                key: key.clone(),
            })
    }

    /// False while paused or cancelled: then nothing is queued or started. A completed or failed
    /// episode still takes work (an edit reopens it; a failure elsewhere stops nothing else).
    fn accepts_work(&self) -> bool {
        !matches!(self.header.status, EpisodeStatus::Paused | EpisodeStatus::Cancelled)
    }

    fn illegal_episode_action(&self, action: &'static str) -> EngineError {
        EngineError::IllegalEpisodeAction {
            action,
            episode: self.header.id,
            status: self.header.status.name().to_owned(),
        }
    }

    fn record_mut(&mut self, step: &mut Step<'_>, i: usize, item: &Option<String>) -> &mut InstanceRecord {
        let record = self.slots[i]
            .instances
            .get_mut(item)
            .expect("callers locate the instance first");
        step.out.dirty.insert(record.key.clone());
        record
    }

    fn set_inputs(&mut self, i: usize, item: &Option<String>, reads: Vec<(ReadKey, ContentHash)>) {
        if let Some(record) = self.slots[i].instances.get_mut(item) {
            record.inputs = reads;
        }
    }

    /// Applies a lifecycle input, keeping the counters and the touched list right. Callers have
    /// checked that the input is legal; an illegal one changes nothing.
    fn transition(&mut self, step: &mut Step<'_>, i: usize, item: &Option<String>, input: LifecycleInput) {
        let slot = &mut self.slots[i];
        let Some(record) = slot.instances.get_mut(item) else {
            return;
        };
        let before = record.state;
        let Some(after) = before.step(input) else {
            tracing::error!(key = %record.key, state = before.name(), ?input, "illegal transition skipped");
            return;
        };
        record.state = after;
        if after.is_approved() {
            record.approved = record.current.map(|v| (v, record.generation));
        }
        step.out.dirty.insert(record.key.clone());
        slot.count(before, -1);
        slot.count(after, 1);
        if *step.def.nodes()[i].kind() == NodeKind::List && (before.is_approved() || after.is_approved()) {
            slot.index_items();
        }
        if before.is_approved() != after.is_approved() {
            step.touched.push((i, item.clone()));
        }
    }

    /// After an instance became ready: block it again if its inputs are not approved, else queue it.
    fn after_ready(&mut self, step: &mut Step<'_>, i: usize, item: &Option<String>) {
        if self.inputs_ready(step.def, i, item) {
            if self.accepts_work() {
                step.out.effects.push(Effect::Enqueue {
                    key: self.slots[i].instances[item].key.clone(),
                    resource: step.def.nodes()[i].resource_ref(),
                });
            }
        } else {
            self.transition(step, i, item, LifecycleInput::InputsLost);
            step.out.events.push(EventKind::NodeBlocked {
                key: self.slots[i].instances[item].key.clone(),
            });
        }
    }

    /// Moves a waiting instance to ready when its inputs are approved, or back to blocked when
    /// they no longer are.
    fn refresh(&mut self, step: &mut Step<'_>, i: usize, item: &Option<String>) {
        let Some(record) = self.slots[i].instances.get(item) else {
            return;
        };
        let state = record.state;
        let key = record.key.clone();
        let waiting = matches!(state, NodeState::Blocked {} | NodeState::Stale {});
        let queued = matches!(state, NodeState::Ready {} | NodeState::RetryWait { .. });
        if !waiting && !queued {
            return;
        }
        let ready = self.inputs_ready(step.def, i, item);
        if waiting && ready {
            self.transition(step, i, item, LifecycleInput::InputsReady);
            step.out.events.push(EventKind::NodeReady { key: key.clone() });
            if self.accepts_work() {
                step.out.effects.push(Effect::Enqueue {
                    key,
                    resource: step.def.nodes()[i].resource_ref(),
                });
            }
        } else if queued && !ready {
            self.transition(step, i, item, LifecycleInput::InputsLost);
            step.out.events.push(EventKind::NodeBlocked { key });
        }
    }

    fn update_status(&mut self, step: &mut Step<'_>) {
        let before = self.header.status;
        if matches!(before, EpisodeStatus::Cancelled | EpisodeStatus::Paused) {
            return;
        }
        let failed = self.slots.iter().any(|s| s.failed > 0);
        let after = if failed {
            EpisodeStatus::Failed
        } else if (0..self.slots.len()).all(|i| self.node_complete(step.def, i)) {
            EpisodeStatus::Completed
        } else {
            EpisodeStatus::Active
        };
        if after == before {
            return;
        }
        self.header.status = after;
        self.header_dirty = true;
        match after {
            EpisodeStatus::Completed => step.out.events.push(EventKind::EpisodeCompleted),
            EpisodeStatus::Failed => {
                if let Some(r) = self.instances().find(|r| r.state == NodeState::Failed {}) {
                    step.out.events.push(EventKind::EpisodeFailed { key: r.key.clone() });
                }
            }
            _ => step.out.events.push(EventKind::EpisodeReopened),
        }
    }

    // ----- readiness, reads and invalidation -----

    /// True when node `i` is settled: its instance approved, or for a map node, its source
    /// settled and every item approved.
    fn node_complete(&self, def: &WorkflowDef, i: usize) -> bool {
        let slot = &self.slots[i];
        match def.nodes()[i].kind() {
            NodeKind::Map { over } => {
                def.position(over).is_some_and(|s| self.node_complete(def, s)) && slot.approved == slot.instances.len()
            }
            _ => slot.instances.get(&None).is_some_and(|r| r.state.is_approved()),
        }
    }

    /// The approved hash of what `read` names, or `None` when it is not approved (or gone).
    fn read_hash(&self, def: &WorkflowDef, read: &ReadKey) -> Option<ContentHash> {
        let i = def.position(&read.node)?;
        let slot = &self.slots[i];
        match (def.nodes()[i].kind(), &read.item) {
            (NodeKind::List, Some(id)) => slot.item(id).map(|m| m.hash),
            (NodeKind::Map { .. }, None) => self.node_complete(def, i).then(|| {
                map_hash(
                    slot.instances
                        .iter()
                        .filter_map(|(id, r)| Some((id.as_deref()?, r.approved_hash()?))),
                )
            }),
            (_, item) => slot.instances.get(item)?.approved_hash(),
        }
    }

    /// The ids an instance's own item lists at `pointer`.
    fn picked(&self, def: &WorkflowDef, i: usize, item: &Option<String>, pointer: &str) -> Vec<String> {
        let Some(id) = item else { return Vec::new() };
        let Some(s) = def.nodes()[i].map_source().and_then(|over| def.position(over)) else {
            return Vec::new();
        };
        let source = &self.slots[s];
        let found = match def.nodes()[s].kind() {
            NodeKind::List => source
                .item(id)
                .and_then(|m| m.picks.iter().find(|(p, _)| p == pointer))
                .map(|(_, ids)| ids.clone()),
            _ => source
                .instances
                .get(item)
                .and_then(|r| r.current_version())
                .and_then(|v| v.picks.iter().find(|(p, _)| p == pointer))
                .map(|(_, ids)| ids.clone()),
        };
        found.unwrap_or_default()
    }

    /// What instance (`i`, `item`) reads and where each input comes from, when every input is
    /// approved; `None` otherwise.
    fn plan(&self, def: &WorkflowDef, i: usize, item: &Option<String>) -> Option<Plan> {
        let spec = &def.nodes()[i];
        let mut plan = Plan {
            reads: Vec::new(),
            inputs: Vec::new(),
            object_fields: Vec::new(),
        };
        let whole = |node: &str, plan: &mut Plan| -> Option<()> {
            let r = def.position(node)?;
            let hash = self.read_hash(
                def,
                &ReadKey {
                    node: node.to_owned(),
                    item: None,
                },
            )?;
            plan.reads.push((
                ReadKey {
                    node: node.to_owned(),
                    item: None,
                },
                hash,
            ));
            let map = matches!(def.nodes()[r].kind(), NodeKind::Map { .. });
            if map {
                plan.object_fields.push(node.to_owned());
            }
            for (id, record) in &self.slots[r].instances {
                plan.inputs.push(InputSource {
                    field: node.to_owned(),
                    entry: map.then(|| id.clone()).flatten(),
                    from: record.key.clone(),
                    version: record.current?,
                    element: None,
                });
            }
            Some(())
        };
        match spec.kind() {
            NodeKind::Map { over } => {
                let id = item.as_ref()?;
                let own = ReadKey {
                    node: over.clone(),
                    item: Some(id.clone()),
                };
                plan.reads.push((own.clone(), self.read_hash(def, &own)?));
                let s = def.position(over)?;
                let list = *def.nodes()[s].kind() == NodeKind::List;
                let from = if list {
                    InstanceKey::single(over)
                } else {
                    InstanceKey::item(over, id)
                };
                let record = self.slots[s].instances.get(&from.item)?;
                plan.inputs.push(InputSource {
                    field: "item".into(),
                    entry: None,
                    from,
                    version: record.current?,
                    element: list.then(|| id.clone()),
                });
            }
            NodeKind::Reduce { over } => whole(over, &mut plan)?,
            NodeKind::Single | NodeKind::List => {}
        }
        for read in spec.read_list() {
            match read {
                Read::Whole(node) => whole(node, &mut plan)?,
                Read::Items { node, ids_at } => {
                    let r = def.position(node)?;
                    let source = def.nodes()[r].map_source().and_then(|o| def.position(o))?;
                    if !self.node_complete(def, source) {
                        return None;
                    }
                    plan.object_fields.push(node.clone());
                    for id in self.picked(def, i, item, ids_at) {
                        let Some(record) = self.slots[r].instances.get(&Some(id.clone())) else {
                            continue;
                        };
                        let key = ReadKey {
                            node: node.clone(),
                            item: Some(id.clone()),
                        };
                        plan.reads.push((key, record.approved_hash()?));
                        plan.inputs.push(InputSource {
                            field: node.clone(),
                            entry: Some(id),
                            from: record.key.clone(),
                            version: record.current?,
                            element: None,
                        });
                    }
                }
            }
        }
        Some(plan)
    }

    /// True when every input of instance (`i`, `item`) is approved; avoids building the plan
    /// where a cheaper check suffices.
    fn inputs_ready(&self, def: &WorkflowDef, i: usize, item: &Option<String>) -> bool {
        let spec = &def.nodes()[i];
        let cheap = spec.read_list().iter().all(|r| matches!(r, Read::Whole(_)));
        if !cheap {
            return self.plan(def, i, item).is_some();
        }
        let own = match spec.kind() {
            NodeKind::Map { over } => item.as_ref().is_some_and(|id| {
                self.read_hash(
                    def,
                    &ReadKey {
                        node: over.clone(),
                        item: Some(id.clone()),
                    },
                )
                .is_some()
            }),
            NodeKind::Reduce { over } => def.position(over).is_some_and(|s| self.node_complete(def, s)),
            _ => true,
        };
        own && spec
            .read_list()
            .iter()
            .all(|r| def.position(r.node()).is_some_and(|s| self.node_complete(def, s)))
    }

    /// Works through the instances whose approved output changed: grows or shrinks the maps they
    /// feed, marks readers whose inputs changed stale, and moves waiting readers on.
    fn propagate(&mut self, step: &mut Step<'_>) {
        while let Some((u, item)) = step.touched.pop() {
            let def = step.def;
            let is_list = *def.nodes()[u].kind() == NodeKind::List;
            let is_map = def.nodes()[u].map_source().is_some();
            if is_list || (is_map && item.is_none()) {
                self.reconcile_maps_over(step, u);
            }
            let u_key = def.nodes()[u].key().to_owned();
            for &d in def.dependents(u) {
                let targets: Vec<Option<String>> = match (def.nodes()[d].map_source(), &item) {
                    (Some(over), Some(id)) if over == u_key => {
                        if self.slots[d].instances.contains_key(&Some(id.clone())) {
                            vec![Some(id.clone())]
                        } else {
                            Vec::new()
                        }
                    }
                    _ => self.slots[d].instances.keys().cloned().collect(),
                };
                for t in &targets {
                    self.invalidate_if_changed(step, d, t, &u_key);
                }
                for t in &targets {
                    self.refresh(step, d, t);
                }
            }
        }
    }

    fn invalidate_if_changed(&mut self, step: &mut Step<'_>, d: usize, item: &Option<String>, u_key: &str) {
        let Some(record) = self.slots[d].instances.get(item) else {
            return;
        };
        let reads: &[(ReadKey, ContentHash)] = match record.state {
            NodeState::Running { .. } => &record.inputs,
            NodeState::Approved {} | NodeState::AwaitingApproval {} => match record.current_version() {
                Some(v) => &v.reads,
                None => return,
            },
            _ => return,
        };
        let changed = reads
            .iter()
            .find(|(rk, hash)| rk.node == u_key && self.read_hash(step.def, rk) != Some(*hash));
        let Some((because, _)) = changed else { return };
        let because = InstanceKey {
            node: because.node.clone(),
            item: because.item.clone(),
        };
        let key = record.key.clone();
        if let NodeState::Running { .. } = record.state {
            step.out.effects.push(Effect::CancelRun { key: key.clone() });
        }
        self.transition(step, d, item, LifecycleInput::Invalidate);
        step.out.events.push(EventKind::MarkedStale { key, because });
    }

    /// Makes the item set of every map node fed by node `u` match `u`'s items.
    fn reconcile_maps_over(&mut self, step: &mut Step<'_>, u: usize) {
        let def = step.def;
        let u_key = def.nodes()[u].key();
        let wanted: Vec<String> = match def.nodes()[u].kind() {
            NodeKind::List => {
                let Some(list) = self.slots[u].instances.get(&None) else {
                    return;
                };
                if !list.state.is_approved() {
                    return;
                }
                match list.current_version().and_then(|v| v.items.as_ref()) {
                    Some(items) => items.iter().map(|m| m.id.clone()).collect(),
                    None => return,
                }
            }
            _ => self.slots[u].instances.keys().flatten().cloned().collect(),
        };
        for &d in def.dependents(u) {
            if def.nodes()[d].map_source() != Some(u_key) {
                continue;
            }
            let d_key = def.nodes()[d].key().to_owned();
            let existing: Vec<String> = self.slots[d].instances.keys().flatten().cloned().collect();
            let added: Vec<String> = wanted
                .iter()
                .filter(|id| !self.slots[d].instances.contains_key(&Some((*id).clone())))
                .cloned()
                .collect();
            let removed: Vec<String> = existing.into_iter().filter(|id| !wanted.contains(id)).collect();
            // Even with the same items, the map may have just become settled (its source was
            // approved again): its own maps and whole readers look again either way.
            step.touched.push((d, None));
            if added.is_empty() && removed.is_empty() {
                continue;
            }
            for id in &added {
                let key = InstanceKey::item(&d_key, id);
                step.out.dirty.insert(key.clone());
                self.slots[d]
                    .instances
                    .insert(Some(id.clone()), InstanceRecord::new(key));
            }
            for id in &removed {
                let slot = &mut self.slots[d];
                if let Some(record) = slot.instances.remove(&Some(id.clone())) {
                    slot.count(record.state, -1);
                    if let NodeState::Running { .. } = record.state {
                        step.out.effects.push(Effect::CancelRun {
                            key: record.key.clone(),
                        });
                    }
                    step.out.dirty.remove(&record.key);
                    step.out.removed.push(record.key);
                }
            }
            step.out.events.push(EventKind::ItemsChanged {
                node: d_key,
                added,
                removed,
            });
        }
    }
}

fn check_step(record: &InstanceRecord, action: &'static str, input: LifecycleInput) -> Result<(), EngineError> {
    match record.state.step(input) {
        Some(_) => Ok(()),
        None => Err(illegal(record, action)),
    }
}

fn illegal(record: &InstanceRecord, action: &'static str) -> EngineError {
    EngineError::IllegalAction {
        action,
        key: record.key.clone(),
        state: record.state.name().to_owned(),
    }
}

fn check_current(record: &InstanceRecord, version: u32) -> Result<(), EngineError> {
    if record.current == Some(version) {
        Ok(())
    } else {
        Err(EngineError::VersionConflict {
            key: record.key.clone(),
            given: version,
            current: record.current,
        })
    }
}

/// The ids found at each pointer of `value`: a string, or an array of strings.
fn picks(value: &Value, pointers: &[String]) -> Vec<(String, Vec<String>)> {
    pointers
        .iter()
        .map(|p| {
            let ids = match value.pointer(p) {
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
                _ => Vec::new(),
            };
            (p.clone(), ids)
        })
        .collect()
}

/// The items of a list output: an array of objects, each with a unique string `id`.
pub(crate) fn list_items(value: &Value, pointers: &[String]) -> Result<Vec<ItemMeta>, String> {
    let Value::Array(elements) = value else {
        return Err("a list node's output must be a JSON array".into());
    };
    let mut seen = std::collections::HashSet::new();
    elements
        .iter()
        .enumerate()
        .map(|(n, element)| {
            let id = element
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
                .ok_or_else(|| format!("element {n} of the list has no non-empty string `id`"))?;
            if !seen.insert(id) {
                return Err(format!("the list repeats id `{id}`"));
            }
            Ok(ItemMeta {
                id: id.to_owned(),
                hash: value_hash(element),
                picks: picks(element, pointers),
            })
        })
        .collect()
}
