//! `episodes/{id}/messages`: the conversation. `POST` takes a chat message, acts on it (see
//! `showrunner_chat::conversation`) and answers with the reply and the episode's new state;
//! `GET` lists the conversation so far, from the episode's log.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use showrunner_chat::conversation::{ConversationError, Reply};
use showrunner_engine::{EventKind, Speaker, Timestamp};
use utoipa::ToSchema;

use crate::access::Caller;
use crate::envelope::{Envelope, ok};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{EpisodePath, JsonBody};
use crate::views::EpisodeView;
use crate::{AppState, limits, openapi, owners};

/// How many log events one read of the conversation takes at a time.
const PAGE: usize = 1000;

/// `POST messages` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MessageBody {
    /// The message: not blank, at most 4000 characters.
    text: String,
}

/// The answer to a message: the reply and the episode as it stands after it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MessageAnswer {
    reply: Reply,
    episode: EpisodeView,
}

/// One line of the conversation.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = MessageLine)]
pub(crate) struct Line {
    /// The sequence number of its event in the episode's log.
    seq: u64,
    #[schema(value_type = openapi::Timestamp)]
    at: Timestamp,
    #[schema(value_type = showrunner_engine::Speaker)]
    author: Speaker,
    /// The text.
    text: String,
    /// What the line did or understood, for clients: a reply's `intent`, `confidence`, `node`,
    /// `actions` and `refused`. Left out when there is nothing.
    #[serde(skip_serializing_if = "Value::is_null")]
    data: Value,
}

/// Acts on a chat message and answers it.
#[utoipa::path(
    post,
    path = "/api/v1/episodes/{id}/messages",
    operation_id = "post_message",
    tag = "messages",
    params(("id" = openapi::Ulid, Path, description = "The episode's id")),
    request_body = MessageBody,
    responses(
        (status = 200, description = "The reply (a refused action is a reply too) and the episode after it", body = Envelope<MessageAnswer>),
        (status = 400, description = "`bad_json`: the body is not JSON; `bad_request`: a malformed id", body = ErrorBody),
        (status = 404, description = "`episode_not_found`", body = ErrorBody),
        (status = 409, description = "`definition_unavailable`: the episode's workflow definition is not registered", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_value`: an empty message, one over 4000 characters, a body that does not fit", body = ErrorBody),
        (status = 500, description = "`internal`: the store or the classifier failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn post(
    State(state): State<AppState>,
    caller: Caller,
    EpisodePath(id): EpisodePath,
    JsonBody(body): JsonBody<MessageBody>,
) -> Result<Json<Envelope<MessageAnswer>>, ApiError> {
    limits::non_blank("text", &body.text, limits::MESSAGE)?;
    if !caller.sees_all() && body.text.contains("blob:") {
        let known = state.engine.episode_blobs(id)?;
        owners::check_text_references(&state, &caller, "text", &body.text, &known)?;
    }
    let reply = state.conversation.respond(id, &body.text).await.map_err(|e| match e {
        ConversationError::Engine(e) => ApiError::from(e),
        ConversationError::Empty => ApiError::invalid_value("text", "the message is empty"),
        ConversationError::Classifier(e) => ApiError::internal(e),
    })?;
    let snapshot = state.engine.snapshot(id).await?;
    Ok(ok(MessageAnswer {
        reply,
        episode: EpisodeView::from(&snapshot),
    }))
}

/// The conversation so far, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/episodes/{id}/messages",
    operation_id = "list_messages",
    tag = "messages",
    params(("id" = openapi::Ulid, Path, description = "The episode's id")),
    responses(
        (status = 200, description = "Every line, oldest first", body = Envelope<Vec<Line>>),
        (status = 400, description = "`bad_request`: a malformed id", body = ErrorBody),
        (status = 404, description = "`episode_not_found`", body = ErrorBody),
        (status = 409, description = "`definition_unavailable`: the episode's workflow definition is not registered", body = ErrorBody),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    EpisodePath(id): EpisodePath,
) -> Result<Json<Envelope<Vec<Line>>>, ApiError> {
    // Reading through the engine checks the episode exists (404 otherwise).
    let next = state.engine.snapshot(id).await?.header.next_seq;
    let mut lines = Vec::new();
    let mut from = 1;
    while from < next {
        let events = state.engine.events(id, from, PAGE)?;
        let Some(last) = events.last() else { break };
        from = last.seq + 1;
        lines.extend(events.into_iter().filter_map(|e| match e.kind {
            EventKind::Message { author, text, data } => Some(Line {
                seq: e.seq,
                at: e.at,
                author,
                text,
                data,
            }),
            _ => None,
        }));
    }
    Ok(ok(lines))
}
