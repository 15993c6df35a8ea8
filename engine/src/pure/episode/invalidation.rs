//! Invalidation: what an approved change makes stale, and the maps it grows or shrinks.

use super::{Episode, Step};
use crate::events::EventKind;
use crate::ids::{ContentHash, InstanceKey};
use crate::pure::command::Effect;
use crate::pure::definition::NodeKind;
use crate::pure::lifecycle::{LifecycleInput, NodeState};
use crate::record::{InstanceRecord, ReadKey};

impl Episode {
    /// Works through the instances whose approved output changed: grows or shrinks the maps they
    /// feed, marks readers whose inputs changed stale, and moves waiting readers on.
    pub(super) fn propagate(&mut self, step: &mut Step<'_>) {
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

    pub(super) fn invalidate_if_changed(&mut self, step: &mut Step<'_>, d: usize, item: &Option<String>, u_key: &str) {
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
    pub(super) fn reconcile_maps_over(&mut self, step: &mut Step<'_>, u: usize) {
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
