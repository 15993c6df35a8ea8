//! What the API shows of the engine's records: plain serialisable views with stable, lower-case
//! names, so the wire format does not follow every change of the engine's types.

use serde::Serialize;
use serde_json::Value;
use showrunner_engine::{
    Author, ContentHash, EpisodeId, EpisodeRecord, EpisodeSnapshot, Gate, InstanceRecord, NodeKind, NodeSpec,
    NodeState, Read, Resource, SeriesId, Timestamp, VersionMeta, WorkflowDef,
};
use utoipa::ToSchema;

use crate::openapi;

/// A node state's stable name: `blocked`, `ready`, `running`, `produced`, `awaiting_approval`,
/// `approved`, `waiting_to_retry`, `failed`, `stale` or `cancelled`.
pub(crate) fn state_name(state: &NodeState) -> String {
    state.name().replace(' ', "_")
}

/// One node instance: its state, versions and the artifacts of its current value.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Instance)]
pub(crate) struct InstanceView {
    /// The node's key in the workflow.
    node: String,
    /// The item's stable id, for an instance of a map node.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    item: Option<String>,
    #[schema(value_type = openapi::NodeState)]
    state: String,
    /// The attempt running, while `running`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1)]
    attempt: Option<u32>,
    /// Runs started so far (a failed instance's last one is this).
    attempts: u32,
    /// When the next attempt starts, while `waiting_to_retry`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = openapi::Timestamp)]
    retry_at: Option<Timestamp>,
    /// The version actions act on (`null` before the first output).
    #[schema(required = true, minimum = 1)]
    current_version: Option<u32>,
    /// The version approved last (`null` before the first approval).
    #[schema(required = true, minimum = 1)]
    approved_version: Option<u32>,
    /// How many versions the instance has.
    version_count: usize,
    /// The current version's quality score, where a scorer rated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    score: Option<f64>,
    /// Versions waiting for a pick, at a candidates gate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    candidates: Vec<u32>,
    /// The feedback of the last regeneration asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    feedback: Option<String>,
    /// Why the last run failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    last_error: Option<String>,
    /// The blobs the current value references; fetch them at `episodes/{id}/artifacts/{hash}`.
    #[schema(value_type = Vec<openapi::Hash>)]
    artifacts: Vec<ContentHash>,
}

impl From<&InstanceRecord> for InstanceView {
    fn from(r: &InstanceRecord) -> Self {
        let (attempt, retry_at) = match r.state {
            NodeState::Running { attempt } => (Some(attempt), None),
            NodeState::RetryWait { retry_at } => (None, Some(retry_at)),
            _ => (None, None),
        };
        Self {
            node: r.key.node.clone(),
            item: r.key.item.clone(),
            state: state_name(&r.state),
            attempt,
            attempts: r.attempts,
            retry_at,
            current_version: r.current,
            approved_version: r.approved.map(|(version, _)| version),
            version_count: r.versions.len(),
            score: r.current_version().and_then(|v| v.score),
            candidates: r.candidates.clone(),
            feedback: r.feedback.clone(),
            last_error: r.last_error.clone(),
            artifacts: r.current_version().map(|v| v.blobs.clone()).unwrap_or_default(),
        }
    }
}

/// An episode: its header and every instance.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Episode)]
pub(crate) struct EpisodeView {
    #[schema(value_type = openapi::Ulid)]
    id: EpisodeId,
    /// The workflow's name.
    workflow: String,
    /// The definition version the episode was created under.
    definition_version: String,
    #[schema(value_type = openapi::EpisodeStatus)]
    status: &'static str,
    #[schema(value_type = openapi::Timestamp)]
    created_at: Timestamp,
    /// The episode it was forked from.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = openapi::Ulid)]
    forked_from: Option<EpisodeId>,
    /// The series it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = openapi::Ulid)]
    series_id: Option<SeriesId>,
    /// Who it belongs to: the user or team of the key that created or forked it (absent on a
    /// server without keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    /// The seed every node's seed derives from, as a decimal string.
    #[serde(serialize_with = "showrunner_story::seed::serialize")]
    #[schema(value_type = showrunner_story::seed::Seed)]
    seed: u64,
    /// The episode's input (the idea or screenplay, the settings, and the series' copy), as
    /// every node receives it under `episode`.
    input: Value,
    /// The sequence number the next event gets: subscribe from it to see only what comes next.
    #[schema(minimum = 1)]
    next_seq: u64,
    /// Every instance, in the workflow's order.
    nodes: Vec<InstanceView>,
}

impl From<&EpisodeSnapshot> for EpisodeView {
    fn from(s: &EpisodeSnapshot) -> Self {
        let h: &EpisodeRecord = &s.header;
        Self {
            id: h.id,
            workflow: h.workflow.clone(),
            definition_version: h.definition_version.clone(),
            status: h.status.name(),
            created_at: h.created_at,
            forked_from: h.forked_from,
            series_id: h.series,
            owner: h.owner.clone(),
            seed: h.seed,
            input: h.input.clone(),
            next_seq: h.next_seq,
            nodes: s.instances.iter().map(InstanceView::from).collect(),
        }
    }
}

/// Who made a version: `engine` (a run) or `user` (an edit).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AuthorName {
    /// A run of the node.
    Engine,
    /// A person's edit.
    User,
}

/// One version of an instance's output, without its value.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Version)]
pub(crate) struct VersionView {
    /// The version's number, from 1.
    #[schema(minimum = 1)]
    n: u32,
    /// The hash of the value's canonical JSON.
    #[schema(value_type = openapi::Hash)]
    hash: ContentHash,
    author: AuthorName,
    #[schema(value_type = openapi::Timestamp)]
    created_at: Timestamp,
    /// The seed the run had, as a decimal string.
    #[serde(serialize_with = "showrunner_story::seed::serialize")]
    #[schema(value_type = showrunner_story::seed::Seed)]
    seed: u64,
    /// The attempt that made it.
    attempt: u32,
    /// The feedback it was made with.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    feedback: Option<String>,
    /// Its quality score, behind a quality gate.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    score: Option<f64>,
    /// What the run said about its work: a note it could not act on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    remarks: Vec<String>,
    /// The blobs its value references.
    #[schema(value_type = Vec<openapi::Hash>)]
    artifacts: Vec<ContentHash>,
}

impl From<&VersionMeta> for VersionView {
    fn from(v: &VersionMeta) -> Self {
        Self {
            n: v.n,
            hash: v.hash,
            author: match v.author {
                Author::Engine => AuthorName::Engine,
                Author::User => AuthorName::User,
            },
            created_at: v.created_at,
            seed: v.seed,
            attempt: v.attempt,
            feedback: v.feedback.clone(),
            score: v.score,
            remarks: v.remarks.clone(),
            artifacts: v.blobs.clone(),
        }
    }
}

/// One instance in full: its state, every version, and the value of one version.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NodeDetail {
    #[serde(flatten)]
    instance: InstanceView,
    /// Every version, oldest first.
    versions: Vec<VersionView>,
    /// The version whose value is shown (the current one unless asked otherwise; `null` before
    /// the first output).
    #[schema(required = true, minimum = 1)]
    value_version: Option<u32>,
    /// That version's value (`null` before the first output).
    #[schema(required = true)]
    value: Option<Value>,
}

impl NodeDetail {
    /// The instance with the value of version `value_version`, when it has one.
    pub(crate) fn new(record: &InstanceRecord, value_version: Option<u32>, value: Option<Value>) -> Self {
        Self {
            instance: InstanceView::from(record),
            versions: record.versions.iter().map(VersionView::from).collect(),
            value_version,
            value,
        }
    }
}

/// A workflow definition with its DAG.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Workflow)]
pub(crate) struct WorkflowView {
    /// The workflow's name.
    name: String,
    /// Its definition version.
    version: String,
    /// The variant it is (`review-items`, `candidates-3`, …), when not the workflow's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    variant: Option<String>,
    /// Its nodes, in definition order.
    nodes: Vec<NodeView>,
    /// `from` is read (or mapped over, or joined) by `to`.
    edges: Vec<EdgeView>,
}

/// A node of a workflow.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WorkflowNode)]
struct NodeView {
    /// The node's key.
    key: String,
    #[schema(value_type = openapi::NodeKind)]
    kind: &'static str,
    /// The node mapped over (map) or joined (reduce).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    over: Option<String>,
    /// What the node reads.
    reads: Vec<ReadView>,
    gate: GateView,
    #[schema(value_type = openapi::Resource)]
    resource: &'static str,
    /// How long one run may take.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u64, nullable = false)]
    timeout_ms: Option<u128>,
}

/// What a node reads.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WorkflowRead)]
struct ReadView {
    /// The node read.
    node: String,
    /// For an item read: where the reading item lists the ids it reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    ids_at: Option<String>,
}

/// A node's gate.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WorkflowGate)]
struct GateView {
    #[schema(value_type = openapi::GateKind)]
    kind: &'static str,
    /// The score a quality gate passes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    min_score: Option<f64>,
    /// How many runs a quality gate tries.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    max_attempts: Option<u32>,
    /// What a quality gate does when its attempts run out.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = openapi::Escalation)]
    then: Option<&'static str>,
    /// How many candidates a candidates gate offers.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    candidates: Option<u32>,
}

/// An edge of the DAG.
#[derive(Debug, Serialize, PartialEq, Eq, ToSchema)]
#[schema(as = WorkflowEdge)]
struct EdgeView {
    /// The node read.
    from: String,
    /// The node reading it.
    to: String,
}

impl From<&Gate> for GateView {
    fn from(gate: &Gate) -> Self {
        let plain = |kind| GateView {
            kind,
            min_score: None,
            max_attempts: None,
            then: None,
            candidates: None,
        };
        match gate {
            Gate::Auto => plain("auto"),
            Gate::Human => plain("human"),
            Gate::Quality {
                min_score,
                max_attempts,
                then,
            } => GateView {
                min_score: Some(*min_score),
                max_attempts: Some(*max_attempts),
                then: Some(match then {
                    showrunner_engine::Escalation::Human => "human",
                    showrunner_engine::Escalation::Fail => "fail",
                }),
                ..plain("quality")
            },
            Gate::Candidates { n } => GateView {
                candidates: Some(*n),
                ..plain("candidates")
            },
        }
    }
}

impl From<&NodeSpec> for NodeView {
    fn from(spec: &NodeSpec) -> Self {
        let (kind, over) = match spec.kind() {
            NodeKind::Single => ("single", None),
            NodeKind::List => ("list", None),
            NodeKind::Map { over } => ("map", Some(over.clone())),
            NodeKind::Reduce { over } => ("reduce", Some(over.clone())),
        };
        Self {
            key: spec.key().to_owned(),
            kind,
            over,
            reads: spec
                .read_list()
                .iter()
                .map(|read| match read {
                    Read::Whole(node) => ReadView {
                        node: node.clone(),
                        ids_at: None,
                    },
                    Read::Items { node, ids_at } => ReadView {
                        node: node.clone(),
                        ids_at: Some(ids_at.clone()),
                    },
                })
                .collect(),
            gate: GateView::from(spec.gate_ref()),
            resource: match spec.resource_ref() {
                Resource::Cpu => "cpu",
                Resource::Gpu => "gpu",
            },
            timeout_ms: spec.timeout_ref().map(|t| t.as_millis()),
        }
    }
}

impl From<&WorkflowDef> for WorkflowView {
    fn from(def: &WorkflowDef) -> Self {
        // In definition order; a node that reads another twice (whole and by item) is one edge.
        let mut edges: Vec<EdgeView> = Vec::new();
        for spec in def.nodes() {
            for from in spec.dependencies() {
                let edge = EdgeView {
                    from: from.to_owned(),
                    to: spec.key().to_owned(),
                };
                if !edges.contains(&edge) {
                    edges.push(edge);
                }
            }
        }
        Self {
            name: def.name().to_owned(),
            version: def.version().to_owned(),
            variant: def.variant().map(str::to_owned),
            nodes: def.nodes().iter().map(NodeView::from).collect(),
            edges,
        }
    }
}

/// The answer to a deletion.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Deleted {
    /// The id of what was deleted.
    #[schema(value_type = openapi::Ulid)]
    id: String,
    /// Always `true`.
    deleted: bool,
}

impl Deleted {
    /// The answer to the deletion of `id`.
    pub(crate) fn new(id: impl std::fmt::Display) -> Self {
        Self {
            id: id.to_string(),
            deleted: true,
        }
    }
}
