//! The runner's reports: a run started, finished, failed or produced versions, gates opened
//! or auto-approved, and recovery after a restart.

use super::actions::{check_step, illegal};
use super::readiness::{list_items, picks};
use super::{Episode, Step};
use crate::error::{EngineError, NodeError};
use crate::events::EventKind;
use crate::ids::InstanceKey;
use crate::pure::command::{Effect, InputSource, PREVIOUS, Produced, RunSpec};
use crate::pure::definition::{Gate, NodeKind};
use crate::pure::fingerprint::{derive_seed, fingerprint, value_hash};
use crate::pure::lifecycle::{LifecycleInput, NodeState};
use crate::pure::retry::backoff;
use crate::record::{Author, ItemMeta, VersionMeta};
use crate::store::BlobRef;

impl Episode {
    pub(super) fn start(&mut self, step: &mut Step<'_>, key: &InstanceKey) -> Result<(), EngineError> {
        let (i, item) = self.locate(step.def, key)?;
        if !self.accepts_work() {
            return Err(self.illegal_episode_action("start work in"));
        }
        let record = &self.slots[i].instances[&item];
        let attempt = record.attempts + 1;
        check_step(record, "start", LifecycleInput::Start { attempt })?;
        let Some(mut plan) = self.plan(step.def, i, &item) else {
            return Err(illegal(record, "start (inputs not approved)"));
        };
        // A regenerate with a note over the same inputs also reads the version it regenerates,
        // as `previous`: a node can then change only what the note asks. After its inputs
        // changed, a run starts afresh.
        if record.feedback.is_some()
            && let Some(current) = record.current_version()
            && current.reads == plan.reads
        {
            plan.inputs.push(InputSource {
                field: PREVIOUS.to_owned(),
                entry: None,
                from: key.clone(),
                version: current.n,
                element: None,
            });
        }
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

    pub(super) fn finished(
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

    pub(super) fn fail(
        &mut self,
        step: &mut Step<'_>,
        i: usize,
        item: &Option<String>,
        attempt: u32,
        error: NodeError,
    ) {
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

    pub(super) fn produced(
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
                remarks: produced.remarks.clone(),
                items,
                picks: picks(&produced.value, def.item_pointers(i)),
                blobs: BlobRef::find_all(&produced.value),
            });
            step.out.events.push(EventKind::NodeProduced {
                key: key.clone(),
                version: n,
                hash,
                score: produced.score,
                remarks: produced.remarks,
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
                } else if *then == crate::pure::definition::Escalation::Human {
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

    pub(super) fn auto_approve(&mut self, step: &mut Step<'_>, i: usize, item: &Option<String>) {
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

    pub(super) fn open_gate(&mut self, step: &mut Step<'_>, i: usize, item: &Option<String>, versions: Vec<u32>) {
        let key = self.slots[i].instances[item].key.clone();
        self.transition(step, i, item, LifecycleInput::OpenGate);
        step.out.events.push(EventKind::GateOpened {
            key,
            gate: step.def.nodes()[i].gate_ref().kind(),
            versions,
        });
    }

    pub(super) fn recover(&mut self, step: &mut Step<'_>, in_flight: &[(InstanceKey, u32)]) {
        for (key, attempt) in in_flight {
            if let Ok((i, item)) = self.locate(step.def, key)
                && self.slots[i].instances[&item].state == (NodeState::Running { attempt: *attempt })
            {
                step.out.effects.push(Effect::Adopt {
                    key: key.clone(),
                    attempt: *attempt,
                });
            }
        }
        self.interrupt_running_but(step, "engine restarted or the episode changed hands", in_flight);
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

    pub(super) fn interrupt_running(&mut self, step: &mut Step<'_>, reason: &str) {
        self.interrupt_running_but(step, reason, &[]);
    }

    /// Interrupts every running instance but those running an attempt in `going_on`.
    fn interrupt_running_but(&mut self, step: &mut Step<'_>, reason: &str, going_on: &[(InstanceKey, u32)]) {
        for i in 0..self.slots.len() {
            let running: Vec<(Option<String>, u32)> = self.slots[i]
                .instances
                .iter()
                .filter_map(|(item, r)| match r.state {
                    NodeState::Running { attempt } if !going_on.iter().any(|(k, a)| *a == attempt && *k == r.key) => {
                        Some((item.clone(), attempt))
                    }
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

    pub(super) fn enqueue_ready(&self, step: &mut Step<'_>) {
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
}
