//! The person's actions on an episode: approve, regenerate, edit, select, revert, pause, resume
//! and cancel, each checked before it changes anything.

use std::sync::Arc;

use serde_json::Value;

use super::readiness::{list_items, picks};
use super::{Episode, Step};
use crate::error::{EngineError, ValueError};
use crate::events::EventKind;
use crate::ids::InstanceKey;
use crate::pure::command::Effect;
use crate::pure::definition::{Gate, NodeKind};
use crate::pure::fingerprint::{fingerprint, value_hash};
use crate::pure::lifecycle::{LifecycleInput, NodeState};
use crate::record::{Author, EpisodeStatus, InstanceRecord, VersionMeta};
use crate::store::BlobRef;

impl Episode {
    pub(super) fn approve(&mut self, step: &mut Step<'_>, key: &InstanceKey, version: u32) -> Result<(), EngineError> {
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

    pub(super) fn regenerate(
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

    pub(super) fn edit(
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
        let invalid = |error: ValueError| EngineError::InvalidValue {
            key: key.clone(),
            error,
        };
        spec.implementation().check_output(&value).map_err(invalid)?;
        let items = if *spec.kind() == NodeKind::List {
            Some(list_items(&value, step.def.item_pointers(i)).map_err(|reason| invalid(ValueError::whole(reason)))?)
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
            remarks: Vec::new(),
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

    pub(super) fn select(&mut self, step: &mut Step<'_>, key: &InstanceKey, version: u32) -> Result<(), EngineError> {
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

    pub(super) fn revert(&mut self, step: &mut Step<'_>, key: &InstanceKey, version: u32) -> Result<(), EngineError> {
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

    pub(super) fn pause(&mut self, step: &mut Step<'_>) -> Result<(), EngineError> {
        if !matches!(self.header.status, EpisodeStatus::Active | EpisodeStatus::Failed) {
            return Err(self.illegal_episode_action("pause"));
        }
        self.interrupt_running(step, "episode paused");
        self.header_dirty = true;
        self.header.status = EpisodeStatus::Paused;
        step.out.events.push(EventKind::EpisodePaused);
        Ok(())
    }

    pub(super) fn resume(&mut self, step: &mut Step<'_>) -> Result<(), EngineError> {
        if self.header.status != EpisodeStatus::Paused {
            return Err(self.illegal_episode_action("resume"));
        }
        self.header_dirty = true;
        self.header.status = EpisodeStatus::Active;
        step.out.events.push(EventKind::EpisodeResumed);
        self.enqueue_ready(step);
        Ok(())
    }

    pub(super) fn cancel(&mut self, step: &mut Step<'_>) -> Result<(), EngineError> {
        if self.header.status.is_finished() {
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
}

pub(super) fn check_step(
    record: &InstanceRecord,
    action: &'static str,
    input: LifecycleInput,
) -> Result<(), EngineError> {
    match record.state.step(input) {
        Some(_) => Ok(()),
        None => Err(illegal(record, action)),
    }
}

pub(super) fn illegal(record: &InstanceRecord, action: &'static str) -> EngineError {
    EngineError::IllegalAction {
        action,
        key: record.key.clone(),
        state: record.state.name().to_owned(),
    }
}

pub(super) fn check_current(record: &InstanceRecord, version: u32) -> Result<(), EngineError> {
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
