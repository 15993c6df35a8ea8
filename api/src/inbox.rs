//! The inbox: what waits for a person across the episodes a key may see. `GET inbox` walks the
//! open episodes (active, paused or failed), newest first, and lists each one's instances that
//! wait for a person (a gate to approve, candidates to pick from, a quality gate that ran out of
//! tries, a failed run), a page of episodes at a time.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use showrunner_engine::{
    EngineError, EpisodeId, EpisodeSnapshot, EpisodeStatus, GateKind, InstanceRecord, NodeState, Timestamp, WorkflowDef,
};
use utoipa::{IntoParams, ToSchema};

use crate::access::Caller;
use crate::envelope::{Envelope, ok_with_meta};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{QueryParams, episode_id};
use crate::views::state_name;
use crate::{AppState, openapi};

/// The page size when none is asked for, and the largest one allowed.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

/// The most episodes one request looks into; past them, the page ends with a cursor to go on
/// from, so a request's work stays bounded however many episodes run with nothing waiting.
const MAX_SCANNED: usize = 500;

/// The statuses of episodes that can have something waiting.
const OPEN: [EpisodeStatus; 3] = [EpisodeStatus::Active, EpisodeStatus::Paused, EpisodeStatus::Failed];

/// `GET inbox` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct InboxQuery {
    /// How many episodes with something waiting, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<openapi::Ulid>)]
    cursor: Option<String>,
}

/// Why an instance waits for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Reason {
    /// A human gate: approve, regenerate, edit or revert.
    Approval,
    /// A candidates gate: pick one.
    Pick,
    /// A quality gate ran out of tries below its bar: a person decides.
    Escalated,
    /// The run failed and will not be retried by itself: retry (regenerate) it.
    Failed,
}

/// One instance that waits.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = InboxInstance)]
pub(crate) struct Waiting {
    /// The node's key.
    node: String,
    /// The item's id, for an instance of a map node.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    item: Option<String>,
    #[schema(value_type = openapi::NodeState)]
    state: String,
    reason: Reason,
    /// Runs started so far.
    attempts: u32,
    /// The version it waits on (`null` when a failed run left none).
    #[schema(required = true, minimum = 1)]
    current_version: Option<u32>,
    /// When that version was made (`null` when there is none, and for a failure, whose
    /// version is the last good one, not the failed run).
    #[schema(value_type = Option<openapi::Timestamp>, required = true)]
    since: Option<Timestamp>,
    /// Why the last run failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    last_error: Option<String>,
}

/// An episode with what waits in it, in the workflow's order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = InboxEpisode)]
pub(crate) struct InboxEntry {
    #[schema(value_type = openapi::Ulid)]
    episode: EpisodeId,
    /// What it is about (as in the list of episodes).
    #[schema(max_length = 61)]
    title: String,
    /// Its workflow.
    workflow: String,
    #[schema(value_type = openapi::EpisodeStatus)]
    status: &'static str,
    #[schema(value_type = openapi::Timestamp)]
    created_at: Timestamp,
    /// What waits, at least one.
    waiting: Vec<Waiting>,
}

/// The `meta` of a page of the inbox.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct InboxMeta {
    /// The page size.
    limit: usize,
    /// The cursor of the next page; `null` on the last page. A page may hold fewer than
    /// `limit` episodes and still have a cursor: each request looks into at most 500 episodes.
    #[schema(value_type = Option<openapi::Ulid>, required = true)]
    next_cursor: Option<EpisodeId>,
}

/// What waits for a person, newest episode first.
#[utoipa::path(
    get,
    path = "/api/v1/inbox",
    operation_id = "inbox",
    tag = "episodes",
    params(InboxQuery),
    responses(
        (status = 200, description = "Episodes with something waiting, newest first", body = Envelope<Vec<InboxEntry>, InboxMeta>),
        (status = 400, description = "`bad_request`: an unknown parameter, a limit outside 1 to 100, a malformed cursor", body = ErrorBody),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn inbox(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<InboxQuery>,
) -> Result<Json<Envelope<Vec<InboxEntry>, InboxMeta>>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be from 1 to {MAX_LIMIT}, not {limit}"
        )));
    }
    let mut before = query.cursor.as_deref().map(episode_id).transpose()?;
    let mut page = Vec::with_capacity(limit);
    let mut next_cursor = None;
    let mut scanned = 0;
    let batch_size = (limit + 1).max(100);
    'fill: loop {
        let batch = state.engine.episode_page(&OPEN, before, batch_size)?;
        let exhausted = batch.len() < batch_size;
        for (id, _) in batch {
            if scanned == MAX_SCANNED {
                // Bounded work: the next page starts after the last episode looked into.
                next_cursor = before;
                break 'fill;
            }
            scanned += 1;
            before = Some(id);
            let snapshot = match visible_snapshot(&state, &caller, id).await? {
                Some(snapshot) => snapshot,
                None => continue,
            };
            let Some(entry) = entry(&state, &snapshot) else {
                continue;
            };
            if page.len() == limit {
                next_cursor = page.last().map(|e: &InboxEntry| e.episode);
                break 'fill;
            }
            page.push(entry);
        }
        if exhausted {
            break;
        }
    }
    Ok(ok_with_meta(page, InboxMeta { limit, next_cursor }))
}

/// The episode's state, when it still exists and the caller may see it.
async fn visible_snapshot(
    state: &AppState,
    caller: &Caller,
    id: EpisodeId,
) -> Result<Option<EpisodeSnapshot>, ApiError> {
    let header = match state.engine.header(id) {
        Ok(header) => header,
        // Deleted since the index was read.
        Err(EngineError::EpisodeNotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if !caller.may_see(header.owner.as_deref()) {
        return Ok(None);
    }
    match state.engine.snapshot(id).await {
        Ok(snapshot) => Ok(Some(snapshot)),
        Err(EngineError::EpisodeNotFound(_)) => Ok(None),
        // An episode whose definition is gone still shows in the list; here it has nothing a
        // person can act on.
        Err(EngineError::UnknownDefinition { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The episode's entry, when something in it waits.
fn entry(state: &AppState, snapshot: &EpisodeSnapshot) -> Option<InboxEntry> {
    let header = &snapshot.header;
    let def = state
        .engine
        .workflow_version(&header.workflow, &header.definition_version);
    let waiting: Vec<Waiting> = snapshot
        .instances
        .iter()
        .filter_map(|instance| waiting(def.as_deref(), instance))
        .collect();
    (!waiting.is_empty()).then(|| InboxEntry {
        episode: header.id,
        title: showrunner_story::stock::title(&header.input),
        workflow: header.workflow.clone(),
        status: header.status.name(),
        created_at: header.created_at,
        waiting,
    })
}

/// The instance as the inbox shows it, when it waits for a person.
fn waiting(def: Option<&WorkflowDef>, instance: &InstanceRecord) -> Option<Waiting> {
    let reason = match instance.state {
        NodeState::Failed {} => Reason::Failed,
        NodeState::AwaitingApproval {} if !instance.candidates.is_empty() => Reason::Pick,
        NodeState::AwaitingApproval {} => {
            let gate = def
                .and_then(|d| d.node(&instance.key.node))
                .map(|spec| spec.gate_ref().kind());
            match gate {
                Some(GateKind::Quality) => Reason::Escalated,
                Some(GateKind::Candidates) => Reason::Pick,
                _ => Reason::Approval,
            }
        }
        _ => return None,
    };
    Some(Waiting {
        node: instance.key.node.clone(),
        item: instance.key.item.clone(),
        state: state_name(&instance.state),
        reason,
        attempts: instance.attempts,
        current_version: instance.current,
        since: match reason {
            Reason::Failed => None,
            _ => instance.current_version().map(|v| v.created_at),
        },
        last_error: instance.last_error.clone(),
    })
}
