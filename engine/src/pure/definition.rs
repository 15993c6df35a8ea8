//! Workflow definitions: nodes, their kinds, reads, gates, retry policies and resources, built
//! with a builder that validates the DAG.

pub use super::gate::{Escalation, Gate, GateKind};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;
use serde::{Deserialize, Serialize};

use crate::error::DefinitionError;
use crate::node::{DynNode, Node};

/// How many instances a node has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeKind {
    /// One instance.
    Single,
    /// One instance whose output is a list of objects with a stable string `id`; it can feed
    /// map nodes.
    List,
    /// One instance per item of `over` (a list node, or another map node), keyed by the item's id.
    Map {
        /// The node whose items it maps over.
        over: String,
    },
    /// One instance that reads every item of the map node `over`.
    Reduce {
        /// The map node it joins.
        over: String,
    },
}

/// An upstream output a node reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Read {
    /// The whole output of a node (a map node's items as an object keyed by id).
    Whole(String),
    /// Only the items of map node `node` whose ids are listed at JSON pointer `ids_at` of the
    /// reading instance's own item. A shot that reads the characters it shows is re-run only
    /// when one of those characters changes.
    Items {
        /// The map node read.
        node: String,
        /// Where the reading item lists the ids (a JSON pointer such as `/character_ids`).
        ids_at: String,
    },
}

impl Read {
    /// The node read.
    pub fn node(&self) -> &str {
        match self {
            Read::Whole(n) | Read::Items { node: n, .. } => n,
        }
    }
}

/// How failed runs are retried: exponential backoff with jitter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Runs before the instance fails for good (1 = no retry).
    pub max_attempts: u32,
    /// The first delay.
    pub initial_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// Growth per failure.
    pub multiplier: f64,
    /// The fraction of each delay that is randomised, in `[0, 1]`.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            multiplier: 2.0,
            jitter: 0.2,
        }
    }
}

/// The resource a node's runs hold while they run; each has a concurrency limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Resource {
    /// A CPU slot (limit: the core count by default).
    Cpu,
    /// The GPU (limit: 1 by default, so one GPU is never oversubscribed).
    Gpu,
}

/// A node of a workflow: its key, kind, reads, gate, retry policy, timeout, resource and
/// implementation. Made with [`NodeSpec::single`], [`NodeSpec::list`], [`NodeSpec::map`] or
/// [`NodeSpec::reduce`].
#[derive(Clone)]
pub struct NodeSpec {
    pub(crate) key: String,
    pub(crate) kind: NodeKind,
    pub(crate) reads: Vec<Read>,
    pub(crate) gate: Gate,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeout: Option<Duration>,
    pub(crate) resource: Resource,
    /// What a worker must have to run it (see [`crate::queue`]); no part of the definition's
    /// version, since where a run happens does not change what it makes.
    pub(crate) tags: Vec<String>,
    pub(crate) node: Arc<dyn DynNode>,
}

impl fmt::Debug for NodeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeSpec")
            .field("key", &self.key)
            .field("kind", &self.kind)
            .field("reads", &self.reads)
            .field("gate", &self.gate)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl NodeSpec {
    fn new(key: impl Into<String>, kind: NodeKind, node: impl Node) -> Self {
        Self {
            key: key.into(),
            kind,
            reads: Vec::new(),
            gate: Gate::Auto,
            retry: RetryPolicy::default(),
            timeout: None,
            resource: Resource::Cpu,
            tags: Vec::new(),
            node: Arc::new(node),
        }
    }

    /// A node with one instance.
    pub fn single(key: impl Into<String>, node: impl Node) -> Self {
        Self::new(key, NodeKind::Single, node)
    }

    /// A node with one instance whose output is a list of items with stable ids.
    pub fn list(key: impl Into<String>, node: impl Node) -> Self {
        Self::new(key, NodeKind::List, node)
    }

    /// A node with one instance per item of `over`.
    pub fn map(key: impl Into<String>, over: impl Into<String>, node: impl Node) -> Self {
        Self::new(key, NodeKind::Map { over: over.into() }, node)
    }

    /// A node with one instance that reads every item of map node `over`.
    pub fn reduce(key: impl Into<String>, over: impl Into<String>, node: impl Node) -> Self {
        Self::new(key, NodeKind::Reduce { over: over.into() }, node)
    }

    /// Reads the whole output of `node`.
    pub fn reads(mut self, node: impl Into<String>) -> Self {
        self.reads.push(Read::Whole(node.into()));
        self
    }

    /// Reads the items of map node `node` whose ids the own item lists at JSON pointer `ids_at`.
    pub fn reads_items(mut self, node: impl Into<String>, ids_at: impl Into<String>) -> Self {
        self.reads.push(Read::Items {
            node: node.into(),
            ids_at: ids_at.into(),
        });
        self
    }

    /// Sets the gate (default [`Gate::Auto`]).
    pub fn gate(mut self, gate: Gate) -> Self {
        self.gate = gate;
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets a timeout per run; a run past it fails (retryably).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the resource (default [`Resource::Cpu`]).
    pub fn resource(mut self, resource: Resource) -> Self {
        self.resource = resource;
        self
    }

    /// Adds tags a worker must have to run this node (`llm`, `gpu`, ...), for runs performed by
    /// a cluster's workers; an engine that runs its own work ignores them. Each is 1 to 64 of
    /// `a-z`, `0-9`, `-` and `_` (see [`is_tag`]), or the definition does not build.
    pub fn tags<T: Into<String>>(mut self, tags: impl IntoIterator<Item = T>) -> Self {
        self.tags.extend(tags.into_iter().map(Into::into));
        self.tags.sort();
        self.tags.dedup();
        self
    }

    /// The tags a worker must have to run this node.
    pub fn tag_list(&self) -> &[String] {
        &self.tags
    }

    /// The node's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The node's kind.
    pub fn kind(&self) -> &NodeKind {
        &self.kind
    }

    /// What the node reads, besides its own item.
    pub fn read_list(&self) -> &[Read] {
        &self.reads
    }

    /// The node's gate.
    pub fn gate_ref(&self) -> &Gate {
        &self.gate
    }

    /// The node's retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The node's timeout per run.
    pub fn timeout_ref(&self) -> Option<Duration> {
        self.timeout
    }

    /// The node's resource.
    pub fn resource_ref(&self) -> Resource {
        self.resource
    }

    /// The implementation.
    pub fn implementation(&self) -> &Arc<dyn DynNode> {
        &self.node
    }

    /// The node whose items this map node maps over.
    pub fn map_source(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Map { over } => Some(over),
            _ => None,
        }
    }

    /// Every node this one depends on: its reads, its map source, its reduce source.
    pub fn dependencies(&self) -> impl Iterator<Item = &str> {
        let own = match &self.kind {
            NodeKind::Map { over } | NodeKind::Reduce { over } => Some(over.as_str()),
            _ => None,
        };
        own.into_iter().chain(self.reads.iter().map(Read::node))
    }
}

/// Builds a [`WorkflowDef`]; see [`WorkflowDef::builder`].
#[derive(Debug)]
pub struct WorkflowBuilder {
    name: String,
    nodes: Vec<NodeSpec>,
    variant: Option<String>,
}

impl WorkflowBuilder {
    /// Adds a node.
    pub fn node(mut self, spec: NodeSpec) -> Self {
        self.nodes.push(spec);
        self
    }

    /// Makes the definition a variant of its workflow, named `variant` (`review-items`): new
    /// episodes use it only when asked for by that name ([`crate::Engine::workflow_variant`]),
    /// and it never replaces the workflow's default.
    pub fn variant(mut self, variant: impl Into<String>) -> Self {
        self.variant = Some(variant.into());
        self
    }

    /// Validates and builds the definition.
    pub fn build(self) -> Result<WorkflowDef, DefinitionError> {
        let mut def = WorkflowDef::validate(self.name, self.nodes)?;
        def.variant = self.variant;
        Ok(def)
    }
}

/// A validated workflow: a DAG of nodes, with its definition version.
#[derive(Debug, Clone)]
pub struct WorkflowDef {
    name: String,
    nodes: Vec<NodeSpec>,
    index: HashMap<String, usize>,
    /// For each node, the nodes that depend on it.
    dependents: Vec<Vec<usize>>,
    /// For each node, the JSON pointers its items (or its value) are read with by item reads.
    item_pointers: Vec<Vec<String>>,
    version: String,
    variant: Option<String>,
}

const RESERVED_KEYS: [&str; 2] = ["episode", "item"];

fn check_key(key: &str) -> Result<(), DefinitionError> {
    let reason = if key.is_empty() {
        Some("it is empty")
    } else if RESERVED_KEYS.contains(&key) {
        Some("`episode` and `item` are reserved input fields")
    } else if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        Some("only ASCII letters, digits, `_` and `-` are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(DefinitionError::InvalidKey {
            key: key.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

fn check_parameters(spec: &NodeSpec) -> Result<(), DefinitionError> {
    let invalid = |reason: &str| {
        Err(DefinitionError::InvalidParameter {
            node: spec.key.clone(),
            reason: reason.to_owned(),
        })
    };
    match spec.gate {
        Gate::Quality {
            min_score,
            max_attempts,
            ..
        } => {
            if !(0.0..=1.0).contains(&min_score) {
                return invalid("a quality gate's min_score must be within [0, 1]");
            }
            if max_attempts == 0 {
                return invalid("a quality gate needs max_attempts >= 1");
            }
        }
        Gate::Candidates { n: 0 } => return invalid("a candidates gate needs n >= 1"),
        _ => {}
    }
    if spec.retry.max_attempts == 0 {
        return invalid("a retry policy needs max_attempts >= 1");
    }
    if !(0.0..=1.0).contains(&spec.retry.jitter) || spec.retry.multiplier < 1.0 {
        return invalid("a retry policy needs jitter within [0, 1] and multiplier >= 1");
    }
    for read in &spec.reads {
        if let Read::Items { ids_at, .. } = read
            && !(ids_at.is_empty() || ids_at.starts_with('/'))
        {
            return invalid("an item read's ids_at must be a JSON pointer such as `/ids`");
        }
    }
    if let Some(tag) = spec.tags.iter().find(|t| !is_tag(t)) {
        return Err(DefinitionError::InvalidParameter {
            node: spec.key.clone(),
            reason: format!("`{tag}`: {TAG_RULE}"),
        });
    }
    Ok(())
}

/// What a worker tag may be, as an error says it.
pub const TAG_RULE: &str = "a tag is 1 to 64 of a-z, 0-9, `-` and `_`";

/// Whether `tag` is a tag a node may need and a worker may have (see [`TAG_RULE`]).
pub fn is_tag(tag: &str) -> bool {
    (1..=64).contains(&tag.len())
        && tag
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

impl WorkflowDef {
    /// Starts a definition named `name`.
    pub fn builder(name: impl Into<String>) -> WorkflowBuilder {
        WorkflowBuilder {
            name: name.into(),
            nodes: Vec::new(),
            variant: None,
        }
    }

    fn validate(name: String, nodes: Vec<NodeSpec>) -> Result<Self, DefinitionError> {
        if nodes.is_empty() {
            return Err(DefinitionError::Empty { workflow: name });
        }
        let mut index = HashMap::new();
        for (i, spec) in nodes.iter().enumerate() {
            check_key(&spec.key)?;
            if index.insert(spec.key.clone(), i).is_some() {
                return Err(DefinitionError::DuplicateKey { key: spec.key.clone() });
            }
        }
        let mut graph = DiGraph::<usize, ()>::new();
        let ids: Vec<_> = (0..nodes.len()).map(|i| graph.add_node(i)).collect();
        for (i, spec) in nodes.iter().enumerate() {
            check_parameters(spec)?;
            for dep in spec.dependencies() {
                let Some(&d) = index.get(dep) else {
                    return Err(DefinitionError::UnknownDependency {
                        node: spec.key.clone(),
                        dependency: dep.to_owned(),
                    });
                };
                graph.update_edge(ids[d], ids[i], ());
            }
        }
        for scc in tarjan_scc(&graph) {
            let self_loop = scc.len() == 1 && graph.contains_edge(scc[0], scc[0]);
            if scc.len() > 1 || self_loop {
                let mut cycle: Vec<String> = scc.iter().map(|n| nodes[graph[*n]].key.clone()).collect();
                cycle.sort();
                return Err(DefinitionError::Cycle { nodes: cycle });
            }
        }
        let is_map = |key: &str| matches!(nodes[index[key]].kind, NodeKind::Map { .. });
        for spec in &nodes {
            match &spec.kind {
                NodeKind::Map { over } => {
                    let feeds_items = matches!(nodes[index[over]].kind, NodeKind::List | NodeKind::Map { .. });
                    if !feeds_items {
                        return Err(DefinitionError::MapWithoutList {
                            node: spec.key.clone(),
                            source_node: over.clone(),
                        });
                    }
                }
                NodeKind::Reduce { over } if !is_map(over) => {
                    return Err(DefinitionError::NotAMap {
                        node: spec.key.clone(),
                        source_node: over.clone(),
                    });
                }
                _ => {}
            }
            for read in &spec.reads {
                if let Read::Items { node, .. } = read {
                    if !is_map(node) {
                        return Err(DefinitionError::NotAMap {
                            node: spec.key.clone(),
                            source_node: node.clone(),
                        });
                    }
                    if spec.map_source().is_none() {
                        return Err(DefinitionError::InvalidParameter {
                            node: spec.key.clone(),
                            reason: "only a map node can read items chosen by its own item".into(),
                        });
                    }
                }
            }
        }
        let mut dependents = vec![Vec::new(); nodes.len()];
        let mut item_pointers: Vec<BTreeSet<String>> = vec![BTreeSet::new(); nodes.len()];
        for (i, spec) in nodes.iter().enumerate() {
            // Whether a map is complete depends on its whole source chain (a map is settled only
            // when its list is), so a reader of a map is revisited when any node of that chain
            // changes, not only the map itself.
            let mut deps = BTreeSet::new();
            for dep in spec.dependencies() {
                let mut d = index[dep];
                while deps.insert(d) {
                    match nodes[d].map_source() {
                        Some(over) => d = index[over],
                        None => break,
                    }
                }
            }
            for d in deps {
                dependents[d].push(i);
            }
            if let Some(source) = spec.map_source() {
                for read in &spec.reads {
                    if let Read::Items { ids_at, .. } = read {
                        item_pointers[index[source]].insert(ids_at.clone());
                    }
                }
            }
        }
        let version = Self::hash_structure(&name, &nodes);
        Ok(Self {
            name,
            nodes,
            index,
            dependents,
            item_pointers: item_pointers.into_iter().map(|s| s.into_iter().collect()).collect(),
            version,
            variant: None,
        })
    }

    fn hash_structure(name: &str, nodes: &[NodeSpec]) -> String {
        #[derive(Serialize)]
        struct Shape<'a> {
            key: &'a str,
            kind: &'a NodeKind,
            reads: &'a [Read],
            gate: &'a Gate,
            retry: &'a RetryPolicy,
            timeout_ms: Option<u128>,
            resource: Resource,
            version: &'a str,
        }
        let shapes: Vec<Shape<'_>> = nodes
            .iter()
            .map(|n| Shape {
                key: &n.key,
                kind: &n.kind,
                reads: &n.reads,
                gate: &n.gate,
                retry: &n.retry,
                timeout_ms: n.timeout.map(|t| t.as_millis()),
                resource: n.resource,
                version: n.node.version(),
            })
            .collect();
        let mut hasher = blake3::Hasher::new();
        hasher.update(name.as_bytes());
        hasher.update(&[0]);
        // Serializing plain data to a Vec cannot fail.
        hasher.update(&serde_json::to_vec(&shapes).unwrap_or_default());
        hasher.finalize().to_hex()[..16].to_owned()
    }

    /// The workflow's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The definition version: a hash of the structure and every node's declared version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The variant it is, when it is not its workflow's default ([`WorkflowBuilder::variant`]).
    pub fn variant(&self) -> Option<&str> {
        self.variant.as_deref()
    }

    /// The nodes, in the order they were added.
    pub fn nodes(&self) -> &[NodeSpec] {
        &self.nodes
    }

    /// The node with this key.
    pub fn node(&self, key: &str) -> Option<&NodeSpec> {
        self.index.get(key).map(|&i| &self.nodes[i])
    }

    /// The position of the node with this key.
    pub fn position(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }

    /// The positions of the nodes that depend on node `i`: those that read it, map over it or
    /// join it, and the readers of any map fed (directly or through other maps) by it.
    pub fn dependents(&self, i: usize) -> &[usize] {
        &self.dependents[i]
    }

    /// The JSON pointers item reads apply to node `i`'s items (list) or values (map).
    pub fn item_pointers(&self, i: usize) -> &[String] {
        &self.item_pointers[i]
    }

    /// The DAG's edges, as (from, to) node keys.
    pub fn edges(&self) -> Vec<(&str, &str)> {
        let mut edges = Vec::new();
        for (i, deps) in self.dependents.iter().enumerate() {
            for &d in deps {
                edges.push((self.nodes[i].key.as_str(), self.nodes[d].key.as_str()));
            }
        }
        edges
    }
}
