//! What the API shows of the engine's records: plain serialisable views with stable, lower-case
//! names, so the wire format does not follow every change of the engine's types.

use serde::Serialize;
use serde_json::Value;
use showrunner_engine::{
    Author, ContentHash, EpisodeId, EpisodeRecord, EpisodeSnapshot, Gate, InstanceRecord, NodeKind, NodeSpec,
    NodeState, Read, Resource, SeriesId, Timestamp, VersionMeta, WorkflowDef,
};

/// A node state's stable name: `blocked`, `ready`, `running`, `produced`, `awaiting_approval`,
/// `approved`, `waiting_to_retry`, `failed`, `stale` or `cancelled`.
pub(crate) fn state_name(state: &NodeState) -> String {
    state.name().replace(' ', "_")
}

/// One node instance: its state, versions and the artifacts of its current value.
#[derive(Debug, Serialize)]
pub(crate) struct InstanceView {
    node: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<String>,
    state: String,
    /// The attempt running, while `running`.
    #[serde(skip_serializing_if = "Option::is_none")]
    attempt: Option<u32>,
    /// When the next attempt starts, while `waiting_to_retry`.
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_at: Option<Timestamp>,
    /// The version actions act on (`null` before the first output).
    current_version: Option<u32>,
    /// The version approved last.
    approved_version: Option<u32>,
    version_count: usize,
    /// Versions waiting for a pick, at a candidates gate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    candidates: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    feedback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    /// The blobs the current value references; fetch them at `artifacts/{hash}`.
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
            retry_at,
            current_version: r.current,
            approved_version: r.approved.map(|(version, _)| version),
            version_count: r.versions.len(),
            candidates: r.candidates.clone(),
            feedback: r.feedback.clone(),
            last_error: r.last_error.clone(),
            artifacts: r.current_version().map(|v| v.blobs.clone()).unwrap_or_default(),
        }
    }
}

/// An episode: its header and every instance.
#[derive(Debug, Serialize)]
pub(crate) struct EpisodeView {
    id: EpisodeId,
    workflow: String,
    definition_version: String,
    status: &'static str,
    created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    forked_from: Option<EpisodeId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    series_id: Option<SeriesId>,
    seed: u64,
    input: Value,
    /// The sequence number the next event gets: subscribe from it to see only what comes next.
    next_seq: u64,
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
            seed: h.seed,
            input: h.input.clone(),
            next_seq: h.next_seq,
            nodes: s.instances.iter().map(InstanceView::from).collect(),
        }
    }
}

/// One version of an instance's output, without its value.
#[derive(Debug, Serialize)]
pub(crate) struct VersionView {
    n: u32,
    hash: ContentHash,
    author: &'static str,
    created_at: Timestamp,
    seed: u64,
    attempt: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    feedback: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    artifacts: Vec<ContentHash>,
}

impl From<&VersionMeta> for VersionView {
    fn from(v: &VersionMeta) -> Self {
        Self {
            n: v.n,
            hash: v.hash,
            author: match v.author {
                Author::Engine => "engine",
                Author::User => "user",
            },
            created_at: v.created_at,
            seed: v.seed,
            attempt: v.attempt,
            feedback: v.feedback.clone(),
            score: v.score,
            artifacts: v.blobs.clone(),
        }
    }
}

/// One instance in full: its state, every version, and the value of one version.
#[derive(Debug, Serialize)]
pub(crate) struct NodeDetail {
    #[serde(flatten)]
    instance: InstanceView,
    versions: Vec<VersionView>,
    /// The version whose value is shown (the current one unless asked otherwise).
    value_version: Option<u32>,
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
#[derive(Debug, Serialize)]
pub(crate) struct WorkflowView {
    name: String,
    version: String,
    nodes: Vec<NodeView>,
    /// `from` is read (or mapped over, or joined) by `to`.
    edges: Vec<EdgeView>,
}

#[derive(Debug, Serialize)]
struct NodeView {
    key: String,
    kind: &'static str,
    /// The node mapped over (map) or joined (reduce).
    #[serde(skip_serializing_if = "Option::is_none")]
    over: Option<String>,
    reads: Vec<ReadView>,
    gate: GateView,
    resource: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_ms: Option<u128>,
}

#[derive(Debug, Serialize)]
struct ReadView {
    node: String,
    /// For an item read: where the reading item lists the ids it reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    ids_at: Option<String>,
}

#[derive(Debug, Serialize)]
struct GateView {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_attempts: Option<u32>,
    /// What a quality gate does when its attempts run out: `human` or `fail`.
    #[serde(skip_serializing_if = "Option::is_none")]
    then: Option<&'static str>,
    /// How many candidates a candidates gate offers.
    #[serde(skip_serializing_if = "Option::is_none")]
    candidates: Option<u32>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
struct EdgeView {
    from: String,
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
            nodes: def.nodes().iter().map(NodeView::from).collect(),
            edges,
        }
    }
}
