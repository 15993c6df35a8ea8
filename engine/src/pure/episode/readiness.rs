//! Bookkeeping and readiness: which instances are ready, what each one reads, the plan of a
//! run, state transitions and the episode's status.

use serde_json::Value;

use super::{Episode, Plan, Step};
use crate::error::EngineError;
use crate::events::EventKind;
use crate::ids::{ContentHash, InstanceKey};
use crate::pure::command::{Effect, InputSource};
use crate::pure::definition::{NodeKind, Read, WorkflowDef};
use crate::pure::fingerprint::{map_hash, value_hash};
use crate::pure::lifecycle::{LifecycleInput, NodeState};
use crate::record::{EpisodeStatus, InstanceRecord, ItemMeta, ReadKey};

impl Episode {
    pub(super) fn locate(&self, def: &WorkflowDef, key: &InstanceKey) -> Result<(usize, Option<String>), EngineError> {
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
    pub(super) fn accepts_work(&self) -> bool {
        !matches!(self.header.status, EpisodeStatus::Paused | EpisodeStatus::Cancelled)
    }

    pub(super) fn illegal_episode_action(&self, action: &'static str) -> EngineError {
        EngineError::IllegalEpisodeAction {
            action,
            episode: self.header.id,
            status: self.header.status.name().to_owned(),
        }
    }

    pub(super) fn record_mut(&mut self, step: &mut Step<'_>, i: usize, item: &Option<String>) -> &mut InstanceRecord {
        let record = self.slots[i]
            .instances
            .get_mut(item)
            .expect("callers locate the instance first");
        step.out.dirty.insert(record.key.clone());
        record
    }

    pub(super) fn set_inputs(&mut self, i: usize, item: &Option<String>, reads: Vec<(ReadKey, ContentHash)>) {
        if let Some(record) = self.slots[i].instances.get_mut(item) {
            record.inputs = reads;
        }
    }

    /// Applies a lifecycle input, keeping the counters and the touched list right. Callers have
    /// checked that the input is legal; an illegal one changes nothing.
    pub(super) fn transition(&mut self, step: &mut Step<'_>, i: usize, item: &Option<String>, input: LifecycleInput) {
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
    pub(super) fn after_ready(&mut self, step: &mut Step<'_>, i: usize, item: &Option<String>) {
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
    pub(super) fn refresh(&mut self, step: &mut Step<'_>, i: usize, item: &Option<String>) {
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

    pub(super) fn update_status(&mut self, step: &mut Step<'_>) {
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

    /// True when node `i` is settled: its instance approved, or for a map node, its source
    /// settled and every item approved.
    pub(super) fn node_complete(&self, def: &WorkflowDef, i: usize) -> bool {
        let slot = &self.slots[i];
        match def.nodes()[i].kind() {
            NodeKind::Map { over } => {
                def.position(over).is_some_and(|s| self.node_complete(def, s)) && slot.approved == slot.instances.len()
            }
            _ => slot.instances.get(&None).is_some_and(|r| r.state.is_approved()),
        }
    }

    /// The approved hash of what `read` names, or `None` when it is not approved (or gone).
    pub(super) fn read_hash(&self, def: &WorkflowDef, read: &ReadKey) -> Option<ContentHash> {
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
    pub(super) fn picked(&self, def: &WorkflowDef, i: usize, item: &Option<String>, pointer: &str) -> Vec<String> {
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
    pub(super) fn plan(&self, def: &WorkflowDef, i: usize, item: &Option<String>) -> Option<Plan> {
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
    pub(super) fn inputs_ready(&self, def: &WorkflowDef, i: usize, item: &Option<String>) -> bool {
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
}

/// The ids found at each pointer of `value`: a string, or an array of strings.
pub(super) fn picks(value: &Value, pointers: &[String]) -> Vec<(String, Vec<String>)> {
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
