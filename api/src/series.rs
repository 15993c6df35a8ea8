//! Series: a bible and a cast that episodes share. `GET, POST series`, `GET, PUT, DELETE
//! series/{id}`, and `POST series/{id}/characters/{character}/references` to attach an uploaded
//! reference image to a regular character.
//!
//! An update names the revision it was made from (`409 series_conflict` when someone else's
//! landed first). Episodes created in a series get a copy of it as it stands then.
//!
//! A series belongs to the owner of the key that created it, and a user key sees only its
//! owner's (see the `owners` module). A reference image names a stored blob by its hash: any
//! stored blob is accepted, so its 256-bit hash is what a key must know, and a key learns one
//! only from its own upload or from an episode or series it may see.

use std::collections::HashSet;

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use showrunner_engine::{BlobRef, ContentHash, SeriesId, SeriesRecord, Timestamp};
use showrunner_story::model::{Bible, Character, CharacterSheet, MAX_REFERENCE_IMAGES, SeriesSheet};
use showrunner_story::series::{ReferenceError, SeriesContent};
use utoipa::{IntoParams, ToSchema};

use crate::access::Caller;
use crate::code::ErrorCode;
use crate::envelope::{Envelope, created, ok, ok_with_meta};
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::uploads::{ImageBody, Upload, store_image};
use crate::views::Deleted;
use crate::{AppState, limits, openapi, owners};

/// A series as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Series)]
pub(crate) struct SeriesView {
    #[schema(value_type = openapi::Ulid)]
    id: SeriesId,
    /// The title.
    title: String,
    bible: Bible,
    /// The regular characters.
    characters: Vec<Character>,
    /// Name it in `PUT series/{id}`.
    #[schema(minimum = 1)]
    revision: u32,
    #[schema(value_type = openapi::Timestamp)]
    created_at: Timestamp,
    #[schema(value_type = openapi::Timestamp)]
    updated_at: Timestamp,
    /// Who it belongs to: the user or team of the key that created it (absent on a server
    /// without keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
}

/// The `meta` of the list of series.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CountMeta {
    /// How many there are.
    count: usize,
}

/// The answer to an added reference image: the upload and the series with it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReferenceAdded {
    upload: Upload,
    series: SeriesView,
}

impl SeriesView {
    pub(crate) fn from(record: &SeriesRecord) -> Result<Self, ApiError> {
        let content = SeriesContent::deserialize(&record.content)
            .map_err(|e| ApiError::internal(format!("series {} does not read back: {e}", record.id)))?;
        Ok(Self {
            id: record.id,
            title: record.title.clone(),
            bible: content.bible,
            characters: content.characters,
            revision: record.revision,
            created_at: record.created_at,
            updated_at: record.updated_at,
            owner: record.owner.clone(),
        })
    }
}

/// `POST series` body: a title, a bible and the regular characters.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateSeries {
    /// The title (not blank).
    title: String,
    #[serde(default)]
    bible: Bible,
    /// The regular characters, who appear in every episode as they are here.
    #[serde(default)]
    characters: Vec<CharacterSheet>,
}

/// `PUT series/{id}` body: the whole series, and the revision it was made from.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateSeries {
    /// The revision the update was made from.
    revision: u32,
    /// The title (not blank).
    title: String,
    #[serde(default)]
    bible: Bible,
    /// The regular characters, who appear in every episode as they are here.
    #[serde(default)]
    characters: Vec<CharacterSheet>,
}

/// Checks every text and list of a series against its bound (see `limits`).
fn check_bounds(title: &str, bible: &Bible, characters: &[CharacterSheet]) -> Result<(), ApiError> {
    use limits::{BIBLE_TEXT, CHARACTER_TEXT, text};
    limits::non_blank("title", title, limits::TITLE)?;
    text("bible.visual_style", &bible.visual_style, BIBLE_TEXT)?;
    text("bible.world", &bible.world, BIBLE_TEXT)?;
    limits::texts("bible.rules", &bible.rules, limits::RULES, limits::RULE)?;
    limits::items("characters", characters, limits::CHARACTERS)?;
    for (i, c) in characters.iter().enumerate() {
        let at = |field: &str| format!("characters[{i}].{field}");
        if let Some(id) = &c.id {
            text(&at("id"), id, limits::CHARACTER_ID)?;
        }
        limits::non_blank(&at("name"), &c.name, limits::NAME)?;
        text(&at("role"), &c.role, CHARACTER_TEXT)?;
        text(&at("static_features.face"), &c.static_features.face, CHARACTER_TEXT)?;
        text(&at("static_features.body"), &c.static_features.body, CHARACTER_TEXT)?;
        text(
            &at("dynamic_features.clothing"),
            &c.dynamic_features.clothing,
            CHARACTER_TEXT,
        )?;
        limits::texts(
            &at("dynamic_features.props"),
            &c.dynamic_features.props,
            limits::PROPS,
            limits::PROP,
        )?;
        text(&at("personality"), &c.personality, CHARACTER_TEXT)?;
        if let Some(voice) = &c.voice {
            text(&at("voice"), voice, CHARACTER_TEXT)?;
        }
    }
    Ok(())
}

/// Checks a title and a sheet, and that every reference image is an uploaded blob the caller
/// may name (see [`owners::check_references`]; `known`: what the series references already);
/// gives the stored content.
async fn content(
    state: &AppState,
    caller: &Caller,
    known: &HashSet<ContentHash>,
    title: &str,
    sheet: SeriesSheet,
) -> Result<Value, ApiError> {
    check_bounds(title, &sheet.bible, &sheet.characters)?;
    let content = sheet
        .into_content()
        .map_err(|e| ApiError::invalid_value(e.path.clone(), e.to_string()))?;
    let value = serde_json::to_value(&content).map_err(ApiError::internal)?;
    // First what the caller may name (a user key: its own uploads), so that another owner's blob
    // and one that is not stored answer alike; then, for any key, that each is stored.
    owners::check_references(state, caller, "", &value, known)?;
    for (i, character) in content.characters.iter().enumerate() {
        for (j, reference) in character.reference_images.iter().enumerate() {
            if !state
                .engine
                .blobs()
                .contains(*reference)
                .await
                .map_err(ApiError::internal)?
            {
                let path = format!("characters[{i}].reference_images[{j}]");
                return Err(ApiError::invalid_value(
                    path.clone(),
                    format!("{path}: {reference} is not an uploaded image (POST /api/v1/uploads first)"),
                ));
            }
        }
    }
    Ok(value)
}

/// The series named by `{id}` in the path, one the caller may see (another owner's is `404
/// series_not_found`, as if it did not exist; see the `owners` module).
pub(crate) struct SeriesPath(pub(crate) SeriesId);

impl FromRequestParts<AppState> for SeriesPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
        let id = params
            .iter()
            .find(|(name, _)| name == "id")
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| ApiError::internal("a route without `{id}` uses SeriesPath"))?;
        let id = series_id(id)?;
        let caller = Caller::from_request_parts(parts, state).await?;
        if !caller.sees_all() {
            owners::series(state, &caller, id)?;
        }
        Ok(SeriesPath(id))
    }
}

/// Parses a series id; anything but a ULID is `400 bad_request`.
pub(crate) fn series_id(s: &str) -> Result<SeriesId, ApiError> {
    crate::extract::parse_ulid(s, "a series id")
}

pub(crate) fn location(id: SeriesId) -> String {
    format!("/api/v1/series/{id}")
}

/// Every series the key may see (its owner's; all of them for an admin key or without keys),
/// oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/series",
    operation_id = "list_series",
    tag = "series",
    responses(
        (status = 200, description = "Every series the key may see, oldest first", body = Envelope<Vec<SeriesView>, CountMeta>),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Envelope<Vec<SeriesView>, CountMeta>>, ApiError> {
    let all = state
        .engine
        .all_series()?
        .iter()
        .filter(|record| caller.may_see(record.owner.as_deref()))
        .map(SeriesView::from)
        .collect::<Result<Vec<_>, _>>()?;
    let count = all.len();
    Ok(ok_with_meta(all, CountMeta { count }))
}

/// Creates a series (`201`, with `Location`), owned by the key's owner.
#[utoipa::path(
    post,
    path = "/api/v1/series",
    operation_id = "create_series",
    tag = "series",
    request_body = CreateSeries,
    responses(
        (status = 201, description = "The series, at revision 1", body = Envelope<SeriesView>,
            headers(("Location" = String, description = "The series' URL"))),
        (status = 400, description = "`bad_json`: the body is not JSON", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_value` (with the field's `path`): a body that does not fit, a blank title, a text or list over its bound, a character without a name, two characters with one id, more than 3 reference images, a reference that was never uploaded", body = ErrorBody),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    token: Option<axum::Extension<showrunner_engine::IdempotencyToken>>,
    JsonBody(request): JsonBody<CreateSeries>,
) -> Result<Response, ApiError> {
    let sheet = SeriesSheet {
        bible: request.bible,
        characters: request.characters,
    };
    let content = content(&state, &caller, &HashSet::new(), &request.title, sheet).await?;
    let record = state
        .engine
        .create_owned_series(
            caller.owner(),
            request.title.trim().to_owned(),
            content,
            token.map(|t| t.0),
        )
        .await?;
    crate::outcome::answer(&showrunner_engine::Outcome::Series { record })
}

/// One series.
#[utoipa::path(
    get,
    path = "/api/v1/series/{id}",
    operation_id = "show_series",
    tag = "series",
    params(("id" = openapi::Ulid, Path, description = "The series' id")),
    responses(
        (status = 200, description = "The series", body = Envelope<SeriesView>),
        (status = 400, description = "`bad_request`: a malformed id", body = ErrorBody),
        (status = 404, description = "`series_not_found`", body = ErrorBody),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    SeriesPath(id): SeriesPath,
) -> Result<Json<Envelope<SeriesView>>, ApiError> {
    Ok(ok(SeriesView::from(&state.engine.series(id)?)?))
}

/// Replaces a series; `409 series_conflict` when `revision` is not the current one.
#[utoipa::path(
    put,
    path = "/api/v1/series/{id}",
    operation_id = "update_series",
    tag = "series",
    params(("id" = openapi::Ulid, Path, description = "The series' id")),
    request_body = UpdateSeries,
    responses(
        (status = 200, description = "The series at its next revision", body = Envelope<SeriesView>),
        (status = 400, description = "`bad_json`: the body is not JSON; `bad_request`: a malformed id", body = ErrorBody),
        (status = 404, description = "`series_not_found`", body = ErrorBody),
        (status = 409, description = "`series_conflict`: `revision` is not the current one (with `given_revision` and `current_revision`)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_value` (with the field's `path`): as for `POST series`", body = ErrorBody),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    SeriesPath(id): SeriesPath,
    JsonBody(request): JsonBody<UpdateSeries>,
) -> Result<Json<Envelope<SeriesView>>, ApiError> {
    let known: HashSet<ContentHash> = BlobRef::find_all(&state.engine.series(id)?.content)
        .into_iter()
        .collect();
    let sheet = SeriesSheet {
        bible: request.bible,
        characters: request.characters,
    };
    let content = content(&state, &caller, &known, &request.title, sheet).await?;
    let record = state
        .engine
        .update_series(id, request.revision, request.title.trim().to_owned(), content)
        .await?;
    Ok(ok(SeriesView::from(&record)?))
}

/// Deletes a series; its episodes keep the copy they were made with.
#[utoipa::path(
    delete,
    path = "/api/v1/series/{id}",
    operation_id = "delete_series",
    tag = "series",
    params(("id" = openapi::Ulid, Path, description = "The series' id")),
    responses(
        (status = 200, description = "Deleted", body = Envelope<Deleted>),
        (status = 400, description = "`bad_request`: a malformed id", body = ErrorBody),
        (status = 404, description = "`series_not_found`", body = ErrorBody),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    SeriesPath(id): SeriesPath,
) -> Result<Json<Envelope<Deleted>>, ApiError> {
    state.engine.delete_series(id).await?;
    Ok(ok(Deleted::new(id)))
}

/// `?revision=` of a reference upload: the series revision the client saw. Without it the
/// upload applies to the revision it reads, and still refuses to overwrite a concurrent update.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReferenceQuery {
    /// The series revision the client saw.
    revision: Option<u32>,
}

/// Stores the image in the body (PNG or JPEG, within the upload limit) and adds it to the
/// character's reference images: `201` with the reference and the updated series. A character
/// has at most three (`422 too_many_references`).
#[utoipa::path(
    post,
    path = "/api/v1/series/{id}/characters/{character}/references",
    operation_id = "add_reference",
    tag = "series",
    params(
        ("id" = openapi::Ulid, Path, description = "The series' id"),
        ("character" = String, Path, description = "The character's id"),
        ReferenceQuery,
    ),
    request_body(content(
        (openapi::Binary = "image/png"),
        (openapi::Binary = "image/jpeg"),
    ), description = "The image, with its `Content-Type`"),
    responses(
        (status = 201, description = "The upload and the series with it", body = Envelope<ReferenceAdded>,
            headers(("Location" = String, description = "The series' URL"))),
        (status = 400, description = "`bad_request`: a malformed id or query", body = ErrorBody),
        (status = 404, description = "`series_not_found`, `character_not_found`", body = ErrorBody),
        (status = 409, description = "`series_conflict`: `revision` is not the current one, or another update landed first", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: over the upload limit (10 MB unless configured)", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not `image/png` or `image/jpeg`, or bytes that are not what the type says", body = ErrorBody),
        (status = 422, description = "`too_many_references`: the character has 3 already; `invalid_image`: the image does not decode in full (truncated, a broken checksum) or is over the budget of 8192 pixels a side and 64 MiB decoded", body = ErrorBody),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn add_reference(
    State(state): State<AppState>,
    caller: Caller,
    SeriesPath(id): SeriesPath,
    crate::extract::PathParams((_id, character)): crate::extract::PathParams<(String, String)>,
    crate::extract::QueryParams(query): crate::extract::QueryParams<ReferenceQuery>,
    headers: HeaderMap,
    ImageBody(body): ImageBody,
) -> Result<Response, ApiError> {
    let record = state.engine.series(id)?;
    let mut content = SeriesContent::deserialize(&record.content)
        .map_err(|e| ApiError::internal(format!("series {id} does not read back: {e}")))?;
    // The rule is the series' own; checked before the image is stored, and again as it is added.
    let refused = |e: ReferenceError| match e {
        ReferenceError::NoCharacter(_) => ApiError::new(
            ErrorCode::CharacterNotFound,
            format!("series {id} has no character `{character}`"),
        )
        .with_details(json!({"series": id, "character": character})),
        ReferenceError::Full { index, .. } => ApiError::new(ErrorCode::TooManyReferences, e.to_string()).with_details(
            json!({"path": format!("characters[{index}].reference_images"), "limit": MAX_REFERENCE_IMAGES}),
        ),
    };
    content.room_for_reference(&character).map_err(refused)?;
    let upload = store_image(&state, &caller, &headers, body).await?;
    content.add_reference(&character, upload.reference).map_err(refused)?;
    let value = serde_json::to_value(&content).map_err(ApiError::internal)?;
    let updated = state
        .engine
        .update_series(
            id,
            query.revision.unwrap_or(record.revision),
            record.title.clone(),
            value,
        )
        .await?;
    Ok(created(
        &location(id),
        ReferenceAdded {
            upload,
            series: SeriesView::from(&updated)?,
        },
    ))
}
