//! The engine's error types: definition errors (at build time), store errors, node errors and
//! the errors an action or command can return.

use crate::ids::{EpisodeId, InstanceKey, SeriesId};

/// A workflow definition that cannot be built. Each variant names the nodes at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    /// Two nodes share one key.
    #[error("duplicate node key `{key}`")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// A node reads (or maps over) a node the definition does not have.
    #[error("node `{node}` depends on unknown node `{dependency}`")]
    UnknownDependency {
        /// The node that declares the dependency.
        node: String,
        /// The missing node.
        dependency: String,
    },
    /// The dependencies form a cycle.
    #[error("dependency cycle through nodes {}", .nodes.join(" -> "))]
    Cycle {
        /// The nodes on the cycle, sorted.
        nodes: Vec<String>,
    },
    /// A map node is fed by something that is neither a list node nor another map node.
    #[error("map node `{node}` maps over `{source_node}`, which is neither a list node nor a map node")]
    MapWithoutList {
        /// The map node.
        node: String,
        /// What it maps over.
        source_node: String,
    },
    /// A reduce node, or an item read, names a node that is not a map node.
    #[error("node `{node}` joins the items of `{source_node}`, which is not a map node")]
    NotAMap {
        /// The node that needs a map.
        node: String,
        /// The node that is not one.
        source_node: String,
    },
    /// A key that cannot be used: empty, reserved, or with characters outside `[A-Za-z0-9_-]`.
    #[error("invalid node key `{key}`: {reason}")]
    InvalidKey {
        /// The key.
        key: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A gate, retry policy or read with impossible parameters.
    #[error("node `{node}`: {reason}")]
    InvalidParameter {
        /// The node.
        node: String,
        /// What is wrong.
        reason: String,
    },
    /// A workflow without nodes.
    #[error("workflow `{workflow}` has no nodes")]
    Empty {
        /// The workflow name.
        workflow: String,
    },
}

/// A failure of the store or the blob store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The disk or the operating system failed; the operation may succeed if retried.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file system is full (or the quota spent): the write did not take effect, and the
    /// store stays usable; the same write succeeds once space is freed.
    #[error("no space left for {context}")]
    Full {
        /// What was being written.
        context: String,
    },
    /// The storage backend failed.
    #[error("storage backend: {0}")]
    Backend(String),
    /// The storage backend cannot be reached now (a database server restarting, a network
    /// cut): nothing was written; the same operation may succeed in a moment.
    #[error("the store cannot be reached: {0}")]
    Unavailable(String),
    /// A record that does not decode: suspect corruption.
    #[error("corrupt record{}: {what}", .episode.map(|e| format!(" of episode {e}")).unwrap_or_default())]
    Corrupt {
        /// The episode the record belongs to, when known.
        episode: Option<EpisodeId>,
        /// What is wrong.
        what: String,
    },
    /// The store was written by a format this build does not know.
    #[error("store format version {found} is not supported (this build reads version {supported})")]
    UnknownFormat {
        /// The version found on disk.
        found: String,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// A record or blob that does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The store is shutting down.
    #[error("the store is closed")]
    Closed,
    /// Another process has the store open.
    #[error("the store at {path} is in use by {}", .pid.map_or_else(|| "another process".to_owned(), |pid| format!("process {pid}")))]
    InUse {
        /// The store's directory.
        path: String,
        /// The process that holds it, when its lock file says.
        pid: Option<u32>,
    },
    /// Another live process holds the episode in a store several processes share: it alone
    /// writes the episode until it dies or lets it go (a request for the episode goes there).
    #[error("episode {episode} is held by another process ({})", .url.as_deref().unwrap_or("which serves no API"))]
    Elsewhere {
        /// The episode.
        episode: EpisodeId,
        /// Where that process's API answers, when it serves one.
        url: Option<String>,
    },
}

impl StoreError {
    /// An I/O failure while doing `context`: [`StoreError::Full`] when the file system is full or
    /// the quota spent, else [`StoreError::Io`].
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        use std::io::ErrorKind;
        let context = context.into();
        match source.kind() {
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => Self::Full { context },
            _ => Self::Io { context, source },
        }
    }
}

impl StoreError {
    /// The same failure for one more caller (the commits of one group share one): the variants
    /// a caller acts on are kept, the others become [`StoreError::Backend`] with the message.
    pub fn for_caller(&self) -> Self {
        match self {
            Self::Full { context } => Self::Full {
                context: context.clone(),
            },
            Self::Closed => Self::Closed,
            Self::Unavailable(why) => Self::Unavailable(why.clone()),
            Self::InUse { path, pid } => Self::InUse {
                path: path.clone(),
                pid: *pid,
            },
            Self::Elsewhere { episode, url } => Self::Elsewhere {
                episode: *episode,
                url: url.clone(),
            },
            other => Self::Backend(other.to_string()),
        }
    }
}

/// Why a node run failed; the variant decides whether the retry policy applies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum NodeError {
    /// A passing failure: retried with backoff while the retry policy allows.
    #[error("{0}")]
    Retryable(String),
    /// A failure that retrying cannot fix (bad input, a bug): the instance fails at once.
    #[error("{0}")]
    Permanent(String),
    /// The run stopped because its cancellation token fired.
    #[error("cancelled")]
    Cancelled,
}

impl NodeError {
    /// A retryable error with this message.
    pub fn retryable(msg: impl Into<String>) -> Self {
        Self::Retryable(msg.into())
    }

    /// A permanent error with this message.
    pub fn permanent(msg: impl Into<String>) -> Self {
        Self::Permanent(msg.into())
    }
}

/// The errors of the engine's API: actions refused, episodes unknown, store failures.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No episode with this id.
    #[error("episode {0} not found")]
    EpisodeNotFound(EpisodeId),
    /// No such node instance in the episode.
    #[error("episode {episode} has no node instance `{key}`")]
    InstanceNotFound {
        /// The episode.
        episode: EpisodeId,
        /// The instance asked for.
        key: InstanceKey,
    },
    /// The action is not allowed in the instance's (or episode's) current state; nothing changed.
    #[error("cannot {action} `{key}` while it is {state}")]
    IllegalAction {
        /// The action refused.
        action: &'static str,
        /// The instance.
        key: InstanceKey,
        /// Its state, as a word.
        state: String,
    },
    /// The action names a version that is not the one it must act on; nothing changed.
    #[error("version conflict on `{key}`: acted on version {given}, current is {current:?}")]
    VersionConflict {
        /// The instance.
        key: InstanceKey,
        /// The version the action named.
        given: u32,
        /// The current version.
        current: Option<u32>,
    },
    /// An action on the whole episode that its status does not allow.
    #[error("cannot {action} episode {episode} while it is {status}")]
    IllegalEpisodeAction {
        /// The action refused.
        action: &'static str,
        /// The episode.
        episode: EpisodeId,
        /// Its status, as a word.
        status: String,
    },
    /// A user-authored value that does not fit the node's output type.
    #[error("invalid value for `{key}`: {error}")]
    InvalidValue {
        /// The instance.
        key: InstanceKey,
        /// Where in the value, and what is wrong.
        error: ValueError,
    },
    /// No series with this id.
    #[error("series {0} not found")]
    SeriesNotFound(SeriesId),
    /// An update names a series revision that is not the current one; nothing changed.
    #[error("series {series} changed: the update was made from revision {given}, current is {current}")]
    SeriesConflict {
        /// The series.
        series: SeriesId,
        /// The revision the update was made from.
        given: u32,
        /// The current revision.
        current: u32,
    },
    /// A value names a blob that is not stored (never uploaded, or collected); nothing changed.
    #[error("{0} is not stored (upload it first)")]
    MissingBlob(crate::store::BlobRef),
    /// An episode input that cannot be used (a series needs an object to join).
    #[error("invalid episode input: {0}")]
    InvalidInput(String),
    /// No workflow registered under this name.
    #[error("workflow `{0}` is not registered")]
    UnknownWorkflow(String),
    /// The workflow has no variant of this name (for example no per-item review).
    #[error("workflow `{0}` has no variant `{1}`")]
    UnknownVariant(String, String),
    /// The episode was created under a definition version that is not registered; it is left untouched.
    #[error("episode {episode} needs workflow `{workflow}` at definition version {version}, which is not registered")]
    UnknownDefinition {
        /// The episode.
        episode: EpisodeId,
        /// Its workflow's name.
        workflow: String,
        /// The definition version it was created under.
        version: String,
    },
    /// A workflow with this name and a different definition is already registered under this version.
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    /// The store failed; the action did not take effect.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine is shutting down.
    #[error("the engine is shutting down")]
    ShuttingDown,
}

impl EngineError {
    /// True for the refusals a client resolves by reloading state: a version conflict or an
    /// action that the current state does not allow.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Self::VersionConflict { .. }
                | Self::IllegalAction { .. }
                | Self::IllegalEpisodeAction { .. }
                | Self::SeriesConflict { .. }
        )
    }
}

/// Result alias for the engine's API.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// What is wrong with a value, and where: `path` within it (`[1].dynamic_features.clothing`;
/// empty for the value as a whole), and the `reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    /// Where in the value: a serde path, empty for the whole value.
    pub path: String,
    /// What is wrong there.
    pub reason: String,
}

impl ValueError {
    /// An error about the value as a whole.
    pub fn whole(reason: impl Into<String>) -> Self {
        Self {
            path: String::new(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "at `{}`: {}", self.path, self.reason)
        }
    }
}
