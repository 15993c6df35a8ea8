//! Episodes: list, create, show, delete, cancel and fork.

use std::collections::HashSet;

use axum::extract::State;
use axum::response::Response;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::json;
use showrunner_engine::{Command, EngineError, EpisodeId, EpisodeStatus, IdempotencyToken, Outcome, Timestamp};
use showrunner_story::fountain;
use showrunner_story::model::{Brief, Settings};
use showrunner_story::stock;
use utoipa::{IntoParams, ToSchema};

use crate::access::Caller;
use crate::code::ErrorCode;
use crate::envelope::{Envelope, ok, ok_with_meta};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{EpisodePath, JsonBody, QueryParams, episode_id};
use crate::views::{Deleted, EpisodeView};
use crate::{AppState, limits, openapi, owners};

/// The page size when none is asked for, and the largest one allowed.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

/// `GET episodes` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only episodes with this status (`active`, `paused`, `completed`, `failed`, `cancelled`).
    #[param(value_type = Option<openapi::EpisodeStatus>)]
    status: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    #[param(value_type = Option<openapi::Ulid>)]
    cursor: Option<String>,
}

/// One episode of a list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EpisodeItem {
    #[schema(value_type = openapi::Ulid)]
    id: EpisodeId,
    #[schema(value_type = openapi::EpisodeStatus)]
    status: &'static str,
    #[schema(value_type = openapi::Timestamp)]
    created_at: Timestamp,
    /// Its workflow.
    workflow: String,
    /// What it is about: its idea, or its screenplay's title (else first line), at most 60
    /// characters and an ellipsis.
    #[schema(max_length = 61)]
    title: String,
    /// Who it belongs to: the user or team of the key that created or forked it (absent on a
    /// server without keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
}

/// The `meta` of a page of episodes.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PageMeta {
    /// The page size.
    limit: usize,
    /// The cursor of the next page; `null` on the last page.
    #[schema(value_type = Option<openapi::Ulid>, required = true)]
    next_cursor: Option<EpisodeId>,
}

/// Episodes from the status index, newest first, a page at a time: those the key may see (its
/// owner's; all of them for an admin key or without keys). The cursor is the id of the last
/// episode of the previous page: ids are ULIDs, so "older than the cursor" is a stable position
/// even while episodes are created.
#[utoipa::path(
    get,
    path = "/api/v1/episodes",
    operation_id = "list_episodes",
    tag = "episodes",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of episodes, newest first", body = Envelope<Vec<EpisodeItem>, PageMeta>),
        (status = 400, description = "`bad_request`: an unknown status or parameter, a limit outside 1 to 200, a malformed cursor", body = ErrorBody),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<Envelope<Vec<EpisodeItem>, PageMeta>>, ApiError> {
    let statuses = match query.status.as_deref() {
        None => EpisodeStatus::ALL.to_vec(),
        Some(name) => vec![
            EpisodeStatus::ALL
                .into_iter()
                .find(|s| s.name() == name)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "unknown status `{name}`: use active, paused, completed, failed or cancelled"
                    ))
                })?,
        ],
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be from 1 to {MAX_LIMIT}, not {limit}"
        )));
    }
    let mut before = query.cursor.as_deref().map(episode_id).transpose()?;
    // Pages of the status index, newest first, until the page and one more visible episode are
    // found (the owner is read from each header: a user key sees only its own).
    let mut page = Vec::with_capacity(limit);
    let mut next_cursor = None;
    'fill: loop {
        let batch = state.engine.episode_page(&statuses, before, limit + 1)?;
        let exhausted = batch.len() <= limit;
        for (id, status) in batch {
            before = Some(id);
            let header = match state.engine.header(id) {
                Ok(header) => header,
                // Deleted since the index was read.
                Err(EngineError::EpisodeNotFound(_)) => continue,
                Err(e) => return Err(ApiError::from(e)),
            };
            if !caller.may_see(header.owner.as_deref()) {
                continue;
            }
            if page.len() == limit {
                next_cursor = page.last().map(|item: &EpisodeItem| item.id);
                break 'fill;
            }
            page.push(EpisodeItem {
                id,
                status: status.name(),
                created_at: id.0.timestamp_ms(),
                title: showrunner_story::stock::title(&header.input),
                workflow: header.workflow,
                owner: header.owner,
            });
        }
        if exhausted {
            break;
        }
    }
    Ok(ok_with_meta(page, PageMeta { limit, next_cursor }))
}

/// `POST episodes` body: the workflow, an idea or a Fountain screenplay, and render settings
/// (each omitted setting takes its default).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateEpisode {
    /// The workflow: `idea2video` (needs an `idea`) or `script2video` (needs a `script`).
    workflow: String,
    /// The series the episode belongs to: its bible and regular characters join the input.
    #[serde(default)]
    #[schema(value_type = Option<openapi::Ulid>)]
    series_id: Option<String>,
    /// The idea, for idea2video (give exactly one of `idea` and `script`).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    idea: Option<String>,
    /// The screenplay, in Fountain, for script2video (give exactly one of `idea` and `script`).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    script: Option<String>,
    #[serde(default)]
    settings: Settings,
}

/// An optional field that, when given, must have a value: `null` is refused like any other
/// value of the wrong type, as the document (which does not make it nullable) says.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Refuses settings the renderer cannot honour, naming the field: the text bounds of a request
/// body, then [`Settings::validate`], which the CLI and the backends share.
fn check_settings(s: &Settings) -> Result<(), ApiError> {
    limits::text("settings.style", &s.style, limits::STYLE)?;
    limits::text("settings.aspect_ratio", &s.aspect_ratio, limits::ASPECT_RATIO)?;
    s.validate()
        .map_err(|e| ApiError::invalid_value(format!("settings.{}", e.field), e.to_string()))
}

impl CreateEpisode {
    /// The episode input, once the idea or screenplay and the settings are checked. A
    /// screenplay that does not parse is refused here, with its line, rather than failing
    /// later inside the episode.
    fn brief(&self) -> Result<Brief, ApiError> {
        limits::non_blank("workflow", &self.workflow, limits::WORKFLOW)?;
        if let Some(idea) = &self.idea {
            limits::non_blank("idea", idea, limits::IDEA)?;
        }
        if let Some(script) = &self.script {
            limits::non_blank("script", script, limits::SCRIPT)?;
        }
        stock::check_input(&self.workflow, self.idea.is_some(), self.script.is_some())
            .map_err(|e| ApiError::invalid_value(e.field(), e.to_string()))?;
        if let Some(script) = &self.script
            && let Err(e) = fountain::parse(script)
        {
            return Err(ApiError::new(
                ErrorCode::InvalidScreenplay,
                format!("the screenplay is not valid Fountain: {e}"),
            )
            .with_details(json!({"path": "script", "line": e.line, "reason": e.message()})));
        }
        check_settings(&self.settings)?;
        Ok(Brief {
            series: None,
            idea: self.idea.clone(),
            script: self.script.clone(),
            settings: self.settings.clone(),
        })
    }
}

/// The location of an episode.
pub(crate) fn location(id: EpisodeId) -> String {
    format!("/api/v1/episodes/{id}")
}

/// Creates an episode (`201`, with `Location`), owned by the key's owner; its first nodes are
/// queued when this answers. A `series_id` the key may not see is `404 series_not_found`.
#[utoipa::path(
    post,
    path = "/api/v1/episodes",
    operation_id = "create_episode",
    tag = "episodes",
    request_body = CreateEpisode,
    responses(
        (status = 201, description = "The episode, its first nodes queued", body = Envelope<EpisodeView>,
            headers(("Location" = String, description = "The episode's URL"))),
        (status = 400, description = "`bad_json`: the body is not JSON; `bad_request`: a malformed `series_id`", body = ErrorBody),
        (status = 404, description = "`workflow_not_found`, `series_not_found`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_value` (with the field's `path`): a body that does not fit, not exactly one of `idea` and `script`, a blank text or one over its bound, settings out of bounds; `invalid_screenplay` (with the `line`)", body = ErrorBody),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    token: Option<Extension<IdempotencyToken>>,
    JsonBody(request): JsonBody<CreateEpisode>,
) -> Result<Response, ApiError> {
    let brief = request.brief()?;
    let seed = brief.settings.seed;
    let input = serde_json::to_value(&brief).map_err(ApiError::internal)?;
    owners::check_references(&state, &caller, "", &input, &HashSet::new())?;
    let series = match request.series_id.as_deref() {
        None => None,
        Some(series) => {
            let series = crate::series::series_id(series).map_err(|e| e.with_details(json!({"path": "series_id"})))?;
            owners::series(&state, &caller, series)?;
            Some(series)
        }
    };
    let variant = brief.settings.review_variant();
    let snapshot = state
        .engine
        .create_variant_episode(
            caller.owner(),
            series,
            (&request.workflow, variant.as_deref()),
            input,
            seed,
            token.map(|t| t.0),
        )
        .await?;
    crate::outcome::answer(&Outcome::Created { snapshot })
}

/// One episode: every node's state, current version and artifacts.
#[utoipa::path(
    get,
    path = "/api/v1/episodes/{id}",
    operation_id = "show_episode",
    tag = "episodes",
    params(("id" = openapi::Ulid, Path, description = "The episode's id")),
    responses(
        (status = 200, description = "The episode", body = Envelope<EpisodeView>),
        (status = 400, description = "`bad_request`: a malformed id", body = ErrorBody),
        (status = 404, description = "`episode_not_found`", body = ErrorBody),
        (status = 409, description = "`definition_unavailable`: the episode's workflow definition is not registered", body = ErrorBody),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    EpisodePath(id): EpisodePath,
) -> Result<Json<Envelope<EpisodeView>>, ApiError> {
    let snapshot = state.engine.snapshot(id).await?;
    Ok(ok(EpisodeView::from(&snapshot)))
}

/// Deletes an episode and everything stored for it; its event streams end.
#[utoipa::path(
    delete,
    path = "/api/v1/episodes/{id}",
    operation_id = "delete_episode",
    tag = "episodes",
    params(("id" = openapi::Ulid, Path, description = "The episode's id")),
    responses(
        (status = 200, description = "Deleted", body = Envelope<Deleted>),
        (status = 400, description = "`bad_request`: a malformed id", body = ErrorBody),
        (status = 404, description = "`episode_not_found`", body = ErrorBody),
        (status = 409, description = "`definition_unavailable`: the episode's workflow definition is not registered", body = ErrorBody),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    EpisodePath(id): EpisodePath,
) -> Result<Json<Envelope<Deleted>>, ApiError> {
    state.engine.delete(id).await?;
    Ok(ok(Deleted::new(id)))
}

/// Cancels an episode: running nodes stop, approved work is kept.
#[utoipa::path(
    post,
    path = "/api/v1/episodes/{id}/cancel",
    operation_id = "cancel_episode",
    tag = "episodes",
    params(("id" = openapi::Ulid, Path, description = "The episode's id")),
    responses(
        (status = 200, description = "The episode, cancelled", body = Envelope<EpisodeView>),
        (status = 400, description = "`bad_request`: a malformed id", body = ErrorBody),
        (status = 404, description = "`episode_not_found`", body = ErrorBody),
        (status = 409, description = "`illegal_episode_action`: the episode's status does not allow it; `definition_unavailable`", body = ErrorBody),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    EpisodePath(id): EpisodePath,
    token: Option<Extension<IdempotencyToken>>,
) -> Result<Response, ApiError> {
    let outcome = state.engine.act(id, Command::Cancel, token.map(|t| t.0)).await?;
    crate::outcome::answer(&outcome)
}

/// Forks an episode into a new one with the same versions (`201`, with `Location`); the fork
/// belongs to the key's owner.
#[utoipa::path(
    post,
    path = "/api/v1/episodes/{id}/fork",
    operation_id = "fork_episode",
    tag = "episodes",
    params(("id" = openapi::Ulid, Path, description = "The episode's id")),
    responses(
        (status = 201, description = "The new episode", body = Envelope<EpisodeView>,
            headers(("Location" = String, description = "The new episode's URL"))),
        (status = 400, description = "`bad_request`: a malformed id", body = ErrorBody),
        (status = 404, description = "`episode_not_found`, `workflow_not_found`", body = ErrorBody),
        (status = 409, description = "`definition_unavailable`: the episode's workflow definition is not registered", body = ErrorBody),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn fork(
    State(state): State<AppState>,
    caller: Caller,
    EpisodePath(id): EpisodePath,
    token: Option<Extension<IdempotencyToken>>,
) -> Result<Response, ApiError> {
    let snapshot = state.engine.fork_as(id, caller.owner(), token.map(|t| t.0)).await?;
    crate::outcome::answer(&Outcome::Created { snapshot })
}
