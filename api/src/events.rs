//! `GET episodes/{id}/events`: the episode's event log as server-sent events.
//!
//! Each SSE event's `id:` is the event's sequence number and its `data:` the event as JSON
//! (`{"episode", "seq", "at", "type", …}`); events carry no SSE `event:` name, so a browser's
//! `onmessage` sees them all. A client resumes with the standard `Last-Event-ID` header (the
//! last sequence number it saw; a browser's `EventSource` sends it when it reconnects) or with
//! `?from=N` (the first sequence number it wants); the header wins when both are given.
//!
//! The engine's subscription reads stored events and then live ones with no gap and no
//! duplicate, and publishes an event only once the commit holding it is durable, so a client
//! that resumes never misses or repeats one, and never sees one that a crash could take back.
//! On a store several processes share, every process streams every episode itself, whichever
//! process writes it (the store tells it of their commits), and a stream goes on when the
//! episode changes hands. A stream ends when the episode is deleted or the server shuts down.

use std::borrow::Cow;
use std::convert::Infallible;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{EpisodePath, QueryParams};
use crate::{AppState, openapi};

/// `GET episodes/{id}/events` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventsQuery {
    /// The first sequence number wanted (from 1); `Last-Event-ID` wins when both are given.
    from: Option<u64>,
}

/// The first sequence number to send: after `Last-Event-ID`, else `?from=`, else from the start.
fn first_seq(headers: &HeaderMap, query: &EventsQuery) -> Result<u64, ApiError> {
    match headers.get("last-event-id") {
        Some(value) => {
            let last = value
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| ApiError::bad_request("Last-Event-ID must be an event's sequence number"))?;
            Ok(last.saturating_add(1))
        }
        None => Ok(query.from.unwrap_or(1)),
    }
}

/// The SSE stream of an episode's events from the asked sequence number on.
#[utoipa::path(
    get,
    path = "/api/v1/episodes/{id}/events",
    operation_id = "stream_events",
    tag = "events",
    params(
        ("id" = openapi::Ulid, Path, description = "The episode's id"),
        EventsQuery,
        ("Last-Event-ID" = Option<u64>, Header, nullable = false, description = "The last sequence number seen: the stream resumes after it"),
    ),
    responses(
        (status = 200, description = "Server-sent events, stored ones first, then live ones, with keep-alive comments. \
            Each event's `id:` is its sequence number and its `data:` one `Event` as JSON (one schema per `type`); \
            a stream that cannot go on ends with an `event: error` whose data is `{\"code\", \"message\"}`. \
            The stream ends when the episode is deleted or the server shuts down.",
            content_type = "text/event-stream", body = StreamEvent),
        (status = 400, description = "`bad_request`: a malformed id, `from` or `Last-Event-ID`", body = ErrorBody),
        (status = 404, description = "`episode_not_found`", body = ErrorBody),
        (status = 409, description = "`definition_unavailable`: the episode's workflow definition is not registered", body = ErrorBody),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn stream(
    State(state): State<AppState>,
    EpisodePath(id): EpisodePath,
    QueryParams(query): QueryParams<EventsQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let from = first_seq(&headers, &query)?;
    let events = state.engine.subscribe(id, from).await?;
    let stream = futures::stream::unfold(Some(events), move |events| async move {
        let mut events = events?;
        match events.next().await? {
            Ok(event) => {
                let data = match serde_json::to_string(&event) {
                    Ok(data) => data,
                    Err(e) => {
                        tracing::error!(episode = %id, seq = event.seq, error = %e, "event does not serialise");
                        return Some((error_event(), None));
                    }
                };
                Some((Event::default().id(event.seq.to_string()).data(data), Some(events)))
            }
            Err(e) => {
                // The client reconnects with its Last-Event-ID and carries on from the store.
                tracing::error!(episode = %id, error = %e, "reading the event log failed");
                Some((error_event(), None))
            }
        }
    })
    .map(Ok)
    .take_until(state.shutdown.clone().cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(state.keep_alive)))
}

/// The last event of a stream that cannot go on: a named `error` event, without an id so the
/// client's `Last-Event-ID` stays at the last real event.
fn error_event() -> Event {
    let body = json!({"code": "internal", "message": "the event stream failed; reconnect to resume"});
    Event::default().event("error").data(body.to_string())
}

/// One server-sent event of an episode's stream, as an SSE parser reads it: each schema of a
/// `text/event-stream` answer describes one event (OpenAPI 3.1 has no `itemSchema`).
pub(crate) struct StreamEvent;

impl PartialSchema for StreamEvent {
    fn schema() -> RefOr<Schema> {
        let one_of = OneOfBuilder::new()
            .description(Some(
                "One server-sent event: an event of the log (no `event:` name, so `message`; `id:` its \
                 sequence number; `data:` the `Event` as JSON), or the `error` event that ends a stream \
                 that cannot go on",
            ))
            .item(sse_event(
                "message",
                Some("^[1-9][0-9]*$"),
                "#/components/schemas/Event",
            ))
            .item(sse_event("error", None, "#/components/schemas/StreamError"));
        RefOr::T(Schema::OneOf(one_of.build()))
    }
}

impl ToSchema for StreamEvent {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ServerSentEvent")
    }
}

/// The `data:` of the `error` event that ends a stream.
pub(crate) struct StreamError;

impl PartialSchema for StreamError {
    fn schema() -> RefOr<Schema> {
        let object = ObjectBuilder::new()
            .description(Some("Why a stream ended: reconnect with `Last-Event-ID` to resume"))
            .property("code", Ref::from_schema_name("ErrorCode"))
            .required("code")
            .property("message", ObjectBuilder::new().schema_type(Type::String))
            .required("message");
        RefOr::T(Schema::Object(object.build()))
    }
}

impl ToSchema for StreamError {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("StreamError")
    }
}

/// One kind of server-sent event: its `event:` name, its `id:` (when it has one) and its
/// `data:`, JSON of the schema at `data` (`contentSchema`, which utoipa has no field for).
fn sse_event(name: &str, id: Option<&str>, data: &str) -> Schema {
    let payload = ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("application/json")
        .extensions(Some(Extensions::from_iter([(
            "contentSchema",
            json!({ "$ref": data }),
        )])));
    let mut event = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("event", crate::openapi::names("The SSE event name", [name]))
        .required("event")
        .property("data", payload)
        .required("data")
        .property("retry", ObjectBuilder::new().schema_type(Type::Integer));
    let id_schema = ObjectBuilder::new().schema_type(Type::String);
    event = match id {
        Some(pattern) => event
            .property(
                "id",
                id_schema
                    .pattern(Some(pattern))
                    .description(Some("The event's sequence number")),
            )
            .required("id"),
        None => event.property("id", id_schema),
    };
    event.into()
}
