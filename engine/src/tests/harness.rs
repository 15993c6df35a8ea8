//! The test harness: a workflow with a gate of every kind, the values a simulated node makes, and
//! a simulated runner around the pure episode core that keeps what the effects ask for (queued
//! instances, runs in flight, retry timers) the way the episode actor does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use ulid::Ulid;

use crate::error::{EngineError, NodeError};
use crate::ids::{EpisodeId, InstanceKey, Timestamp};
use crate::node::{Node, NodeCtx};
use crate::pure::command::{Changes, Command, Effect, Produced, RunSpec};
use crate::pure::definition::{Escalation, Gate, NodeSpec, WorkflowDef};
use crate::pure::episode::Episode;
use crate::pure::lifecycle::NodeState;
use crate::record::InstanceRecord;
use crate::store::EpisodeSnapshot;

/// A node that is never run (the pure core only needs its types); any JSON value fits it.
struct Stub;

#[async_trait]
impl Node for Stub {
    type Input = Value;
    type Output = Value;

    async fn run(&self, _input: Value, _ctx: &NodeCtx) -> Result<Value, NodeError> {
        Ok(Value::Null)
    }
}

/// A node whose output must be a string, so that an edit can be refused as an invalid value.
struct Text;

#[async_trait]
impl Node for Text {
    type Input = Value;
    type Output = String;

    async fn run(&self, _input: Value, _ctx: &NodeCtx) -> Result<String, NodeError> {
        Ok(String::new())
    }
}

/// The ids a `cast` list draws from.
const CAST_POOL: [&str; 3] = ["ana", "bo", "cy"];
/// The ids a `shots` list draws from.
const SHOT_POOL: [&str; 3] = ["s1", "s2", "s3"];
/// What a shot's `character_ids` draws from: the cast, and one id no cast ever has.
const PICK_POOL: [&str; 4] = ["ana", "bo", "cy", "zed"];
/// The quality gate's bar.
const MIN_SCORE: f64 = 0.5;
/// The quality gate's runs before it asks a person.
const QUALITY_ATTEMPTS: u32 = 2;
/// The candidates gate's count.
const CANDIDATES: u32 = 2;
/// When every simulation starts.
const T0: Timestamp = 1_000_000;

/// `idea` (Human) → `cast` (list, Auto) → `characters` (map, Human) → `portraits` (map over a map,
/// Quality then Human); `idea` → `shots` (list, Auto) → `frames` (map, reads the characters its shot
/// lists, Candidates) → `video` (reduce, Auto).
pub(super) fn workflow() -> WorkflowDef {
    WorkflowDef::builder("pilot")
        .node(NodeSpec::single("idea", Text).gate(Gate::Human))
        .node(NodeSpec::list("cast", Stub).reads("idea").gate(Gate::Auto))
        .node(NodeSpec::map("characters", "cast", Stub).gate(Gate::Human))
        .node(NodeSpec::map("portraits", "characters", Stub).gate(Gate::Quality {
            min_score: MIN_SCORE,
            max_attempts: QUALITY_ATTEMPTS,
            then: Escalation::Human,
        }))
        .node(NodeSpec::list("shots", Stub).reads("idea"))
        .node(
            NodeSpec::map("frames", "shots", Stub)
                .reads_items("characters", "/character_ids")
                .gate(Gate::Candidates { n: CANDIDATES }),
        )
        .node(NodeSpec::reduce("video", "frames", Stub))
        .build()
        .expect("the test workflow is valid")
}

/// What a simulated run or edit makes, as small numbers so that proptest shrinks them well: which
/// pool ids a list holds, a variant that changes some of the content (and often repeats it, so
/// equal hashes occur), and which characters each shot shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Payload {
    /// Bit `i` set: pool id `i` is in the list.
    pub(super) ids: u8,
    /// Bit `i` changes item `i`; the whole changes a single value.
    pub(super) variant: u8,
    /// Bits of the characters the shots show (rotated per shot).
    pub(super) picks: u8,
}

impl Payload {
    /// A payload with every pool id, variant 0, and each shot showing `ana`.
    pub(super) const FULL: Payload = Payload {
        ids: 0b111,
        variant: 0,
        picks: 0b0001,
    };
}

/// The value node `node` makes from `payload`; `candidate` tells candidates apart.
pub(super) fn value_for(node: &str, payload: Payload, candidate: usize) -> Value {
    let bit = |mask: u8, i: usize| (mask >> i) & 1 == 1;
    match node {
        "idea" => json!(format!("idea #{}", payload.variant)),
        "cast" => Value::Array(
            CAST_POOL
                .iter()
                .enumerate()
                .filter(|(i, _)| bit(payload.ids, *i))
                .map(|(i, id)| json!({ "id": id, "look": bit(payload.variant, i) }))
                .collect(),
        ),
        "shots" => Value::Array(
            SHOT_POOL
                .iter()
                .enumerate()
                .filter(|(i, _)| bit(payload.ids, *i))
                .map(|(i, id)| {
                    let shown = payload.picks.rotate_left(i as u32);
                    let characters: Vec<&str> = PICK_POOL
                        .iter()
                        .enumerate()
                        .filter(|(c, _)| bit(shown, *c))
                        .map(|(_, c)| *c)
                        .collect();
                    json!({ "id": id, "character_ids": characters, "take": bit(payload.variant, i) })
                })
                .collect(),
        ),
        _ => json!({ "by": node, "variant": payload.variant % 3, "candidate": candidate }),
    }
}

/// A value node `node` refuses as an edit: a number where a string is due, a list that repeats an
/// id. Nodes that take any JSON have no invalid value; they get a valid one.
pub(super) fn invalid_value_for(node: &str, payload: Payload) -> Value {
    match node {
        "idea" => json!(payload.variant),
        "cast" | "shots" => json!([{ "id": "x" }, { "id": "x" }]),
        _ => value_for(node, payload, 0),
    }
}

/// `count` outputs of node `node` made from `payload`, all with `score`.
pub(super) fn outputs(node: &str, payload: Payload, count: usize, score: Option<f64>) -> Vec<Produced> {
    (0..count)
        .map(|c| Produced {
            value: Arc::new(value_for(node, payload, c)),
            score,
            remarks: Vec::new(),
        })
        .collect()
}

/// The key of a single, list or reduce node's instance.
pub(super) fn single(node: &str) -> InstanceKey {
    InstanceKey::single(node)
}

/// The key of map node `node`'s instance for item `id`.
pub(super) fn item(node: &str, id: &str) -> InstanceKey {
    InstanceKey::item(node, id)
}

/// The pure core with a simulated runner around it: `pending` holds the instances an
/// `Effect::Enqueue` queued (a ticket is used up by a `Start`, granted or not), `runs` the runs an
/// `Effect::Run` started (a `CancelRun` leaves them running: they report later, with an attempt
/// the episode has superseded), `timers` the retry timers an `Effect::Timer` armed. `stored` is
/// what a store holds after committing each step's header, dirty records and removals, as the
/// episode actor does.
pub(super) struct Sim {
    /// The definition.
    pub(super) def: WorkflowDef,
    /// The episode under test.
    pub(super) episode: Episode,
    /// The simulated clock.
    pub(super) now: Timestamp,
    /// Queued instances.
    pub(super) pending: BTreeSet<InstanceKey>,
    /// Runs in flight, oldest first.
    pub(super) runs: Vec<RunSpec>,
    /// Armed retry timers.
    pub(super) timers: BTreeMap<InstanceKey, Timestamp>,
    /// The committed header and records.
    pub(super) stored: EpisodeSnapshot,
}

impl Sim {
    /// A new episode of [`workflow`], with what its creation changed.
    pub(super) fn new() -> (Self, Changes) {
        let def = workflow();
        let id = EpisodeId(Ulid(0x5eed));
        let (episode, changes) = Episode::create(&def, id, json!({ "logline": "a test" }), 7, T0);
        let stored = EpisodeSnapshot {
            header: episode.header().clone(),
            instances: Vec::new(),
        };
        let mut sim = Self {
            def,
            episode,
            now: T0,
            pending: BTreeSet::new(),
            runs: Vec::new(),
            timers: BTreeMap::new(),
            stored,
        };
        sim.commit(&changes);
        sim.absorb(&changes.effects);
        (sim, changes)
    }

    /// Applies `command` at the current time and keeps what its effects ask for.
    pub(super) fn apply(&mut self, command: Command) -> (Result<(), EngineError>, Changes) {
        let mut changes = Changes::default();
        let result = self.episode.apply(&self.def, command, self.now, &mut changes);
        self.commit(&changes);
        self.absorb(&changes.effects);
        (result, changes)
    }

    /// Stores what `changes` marks: the header, the dirty records, the removals.
    fn commit(&mut self, changes: &Changes) {
        if changes.is_empty() {
            return;
        }
        self.stored.header = self.episode.header().clone();
        let stored = &mut self.stored.instances;
        stored.retain(|r| !changes.removed.contains(&r.key) && !changes.dirty.contains(&r.key));
        for key in &changes.dirty {
            if let Some(record) = self.episode.instance(&self.def, key) {
                stored.push(record.clone());
            }
        }
    }

    /// The episode as a restart would load it from the store.
    pub(super) fn restored(&self) -> Result<Episode, String> {
        Episode::restore(&self.def, self.stored.clone())
    }

    fn absorb(&mut self, effects: &[Effect]) {
        for effect in effects {
            match effect {
                Effect::Enqueue { key, .. } => {
                    self.pending.insert(key.clone());
                }
                Effect::Run(run) => self.runs.push(run.clone()),
                Effect::CancelRun { .. } | Effect::Adopt { .. } => {}
                Effect::Timer { key, at } => {
                    self.timers.insert(key.clone(), *at);
                }
            }
        }
    }

    /// Forgets what a restart loses: the queue, the runs and the timers.
    pub(super) fn restart(&mut self) {
        self.pending.clear();
        self.runs.clear();
        self.timers.clear();
    }

    /// Forgets what a restart of the holder of runs queued for workers loses: the timers (the
    /// runs go on on the workers; nothing waits for a local slot).
    pub(super) fn restart_queued(&mut self) {
        self.pending.clear();
        self.timers.clear();
    }

    /// Applies `command`, which the test expects to be accepted.
    pub(super) fn must(&mut self, command: Command) -> Changes {
        let name = command.name();
        let (result, changes) = self.apply(command);
        if let Err(error) = result {
            panic!("`{name}` was refused: {error}");
        }
        changes
    }

    /// The record of `key`, which the test expects to exist.
    pub(super) fn record(&self, key: &InstanceKey) -> &InstanceRecord {
        self.episode.instance(&self.def, key).expect("the instance exists")
    }

    /// The state of `key`.
    pub(super) fn state(&self, key: &InstanceKey) -> NodeState {
        self.record(key).state
    }

    /// Starts `key` and returns the run it was granted.
    pub(super) fn start(&mut self, key: &InstanceKey) -> RunSpec {
        self.pending.remove(key);
        let changes = self.must(Command::Start { key: key.clone() });
        let run = changes.effects.iter().find_map(|e| match e {
            Effect::Run(run) => Some(run.clone()),
            _ => None,
        });
        run.expect("a granted start asks for a run")
    }

    /// Reports the end of `run`.
    pub(super) fn finish(&mut self, run: &RunSpec, result: Result<Vec<Produced>, NodeError>) -> Changes {
        self.runs.retain(|r| r != run);
        self.must(Command::Finished {
            key: run.key.clone(),
            attempt: run.attempt,
            result,
        })
    }

    /// Starts `key` and finishes the run with one output per seed made from `payload`.
    pub(super) fn run_ok(&mut self, key: &InstanceKey, payload: Payload, score: Option<f64>) -> Changes {
        let run = self.start(key);
        let produced = outputs(&key.node, payload, run.seeds.len(), score);
        self.finish(&run, Ok(produced))
    }

    /// Approves the current version of `key`.
    pub(super) fn approve(&mut self, key: &InstanceKey) -> Changes {
        let version = self
            .record(key)
            .current
            .expect("an instance to approve has a current version");
        self.must(Command::Approve {
            key: key.clone(),
            version,
        })
    }
}
