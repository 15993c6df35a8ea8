//! `episodes/{id}/messages`: the conversation. `POST` takes a chat message, acts on it (see
//! `showrunner_workflows::conversation`) and answers with the reply and the episode's new state;
//! `GET` lists the conversation so far, from the episode's log.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use showrunner_engine::{EventKind, Speaker, Timestamp};
use showrunner_workflows::conversation::{ConversationError, Reply};

use crate::AppState;
use crate::envelope::{Envelope, ok};
use crate::error::ApiError;
use crate::extract::{EpisodePath, JsonBody};
use crate::views::EpisodeView;

/// The most characters a chat message may have.
const MAX_MESSAGE: usize = 4000;

/// How many log events one read of the conversation takes at a time.
const PAGE: usize = 1000;

/// `POST messages` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MessageBody {
    text: String,
}

/// The answer to a message: the reply and the episode as it stands after it.
#[derive(Debug, Serialize)]
pub(crate) struct MessageAnswer {
    reply: Reply,
    episode: EpisodeView,
}

/// One line of the conversation.
#[derive(Debug, Serialize)]
pub(crate) struct Line {
    seq: u64,
    at: Timestamp,
    author: Speaker,
    text: String,
    #[serde(skip_serializing_if = "Value::is_null")]
    data: Value,
}

/// Acts on a chat message and answers it.
pub(crate) async fn post(
    State(state): State<AppState>,
    EpisodePath(id): EpisodePath,
    JsonBody(body): JsonBody<MessageBody>,
) -> Result<Json<Envelope<MessageAnswer>>, ApiError> {
    if body.text.trim().is_empty() {
        return Err(ApiError::invalid_value("text", "the message is empty"));
    }
    if body.text.chars().count() > MAX_MESSAGE {
        return Err(ApiError::invalid_value(
            "text",
            format!("a message may have at most {MAX_MESSAGE} characters"),
        ));
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
