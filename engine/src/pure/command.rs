//! What goes into the pure episode core ([`Command`]) and what comes out ([`Effect`],
//! [`Changes`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::NodeError;
use crate::events::{EventKind, Speaker};
use crate::ids::{InstanceKey, Timestamp};
use crate::pure::definition::Resource;

/// An action or a runner report, applied to one episode.
#[derive(Debug, Clone)]
pub enum Command {
    /// Approve `version`, which must be the current one.
    Approve {
        /// The instance.
        key: InstanceKey,
        /// The version judged.
        version: u32,
    },
    /// Run again with feedback. `version`, when given, must be the current one.
    Regenerate {
        /// The instance.
        key: InstanceKey,
        /// What to change.
        feedback: Option<String>,
        /// The version judged.
        version: Option<u32>,
    },
    /// Store a person's own version, made from `base_version` (which must be current).
    Edit {
        /// The instance.
        key: InstanceKey,
        /// The new value.
        value: Value,
        /// The version it was edited from; `None` when the instance has none.
        base_version: Option<u32>,
    },
    /// Pick one of the candidates.
    Select {
        /// The instance.
        key: InstanceKey,
        /// The candidate version.
        version: u32,
    },
    /// Move the current pointer back to an older version and approve it.
    Revert {
        /// The instance.
        key: InstanceKey,
        /// The version to make current.
        version: u32,
    },
    /// Stop starting new work; interrupt running work.
    Pause,
    /// Start work again after a pause.
    Resume,
    /// Cancel everything unfinished.
    Cancel,
    /// The scheduler granted a slot to a ready instance.
    Start {
        /// The instance.
        key: InstanceKey,
    },
    /// A run ended.
    Finished {
        /// The instance.
        key: InstanceKey,
        /// The attempt that ran (a fencing token: reports of superseded attempts are dropped).
        attempt: u32,
        /// Its outputs (one, or one per candidate), or why it failed.
        result: Result<Vec<Produced>, NodeError>,
    },
    /// A running node reported progress.
    Progress {
        /// The instance.
        key: InstanceKey,
        /// The attempt reporting.
        attempt: u32,
        /// Done so far.
        fraction: f32,
        /// What it is doing.
        message: String,
    },
    /// A retry timer fired.
    RetryDue {
        /// The instance.
        key: InstanceKey,
    },
    /// Recovery after a restart or a change of holder: running instances were interrupted,
    /// but for the runs in `in_flight` (instance and attempt), still queued for workers or
    /// being performed by one, which go on.
    Recover {
        /// Runs queued for workers that go on where they stand.
        in_flight: Vec<(InstanceKey, u32)>,
    },
    /// Append a line to the episode's conversation; changes nothing else.
    Note {
        /// Who wrote it.
        author: Speaker,
        /// The text.
        text: String,
        /// What it did or understood.
        data: Value,
    },
}

impl Command {
    /// The command's name, as errors name actions.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Approve { .. } => "approve",
            Command::Regenerate { .. } => "regenerate",
            Command::Edit { .. } => "edit",
            Command::Select { .. } => "select",
            Command::Revert { .. } => "revert",
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Cancel => "cancel",
            Command::Start { .. } => "start",
            Command::Finished { .. } => "finish",
            Command::Progress { .. } => "report progress of",
            Command::RetryDue { .. } => "retry",
            Command::Recover { .. } => "recover",
            Command::Note { .. } => "note",
        }
    }
}

/// One output of a run.
#[derive(Debug, Clone)]
pub struct Produced {
    /// The value.
    pub value: Arc<Value>,
    /// The quality score, for a node behind a quality gate.
    pub score: Option<f64>,
    /// What the run said about its work (a note it could not act on), for the person.
    pub remarks: Vec<String>,
}

/// Where one piece of a run's input comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSource {
    /// The input object's field: a node key, or `"item"`.
    pub field: String,
    /// For a map read, the entry (item id) inside that field.
    pub entry: Option<String>,
    /// The instance whose value is read.
    pub from: InstanceKey,
    /// Which version of it.
    pub version: u32,
    /// When the value is a list, the id of the element to take.
    pub element: Option<String>,
}

/// The input field that holds, for a regenerate with feedback whose inputs have not changed since
/// the version it regenerates, that version's value: a node can keep what the note does not ask
/// to change. Absent on every other run.
pub const PREVIOUS: &str = "previous";

/// A run to perform, after the `Start` that granted it is durable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The instance.
    pub key: InstanceKey,
    /// The attempt.
    pub attempt: u32,
    /// The seeds: one run per seed (more than one for a candidates gate).
    pub seeds: Vec<u64>,
    /// The feedback of the last regenerate.
    pub feedback: Option<String>,
    /// Where the input comes from.
    pub inputs: Vec<InputSource>,
    /// Input fields that are objects keyed by item id; present even when no item is read.
    pub object_fields: Vec<String>,
}

/// Something the runner must do once the commit that caused it is durable.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Queue a ready instance for a slot of `resource`.
    Enqueue {
        /// The instance.
        key: InstanceKey,
        /// The resource it needs.
        resource: Resource,
    },
    /// Run a node.
    Run(RunSpec),
    /// Stop a run (cancel, pause, invalidation).
    CancelRun {
        /// The instance.
        key: InstanceKey,
    },
    /// Take over a run already queued for workers (a recovery found it in flight): the runner
    /// follows it as one it started (cancelling withdraws it) without queueing it again.
    Adopt {
        /// The instance.
        key: InstanceKey,
        /// The attempt in flight.
        attempt: u32,
    },
    /// Send `RetryDue` at `at`.
    Timer {
        /// The instance.
        key: InstanceKey,
        /// When.
        at: Timestamp,
    },
}

/// Everything one or more commands changed: what to persist and what to do after.
#[derive(Debug, Default)]
pub struct Changes {
    /// Events, in order.
    pub events: Vec<EventKind>,
    /// Effects, in order.
    pub effects: Vec<Effect>,
    /// Instances whose snapshot changed.
    pub dirty: BTreeSet<InstanceKey>,
    /// Instances deleted.
    pub removed: Vec<InstanceKey>,
    /// New version values.
    pub values: Vec<(InstanceKey, u32, Arc<Value>)>,
}

impl Changes {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.dirty.is_empty() && self.removed.is_empty() && self.values.is_empty()
    }
}
