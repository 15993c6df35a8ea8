//! The OpenAPI 3.1 document of the API, generated from the code with utoipa and served at
//! `GET /api/v1/openapi.json` (open, like health).
//!
//! Each handler carries its own `#[utoipa::path]` with the statuses it answers; the views and
//! bodies derive `ToSchema`. What the middleware adds to every route is added here from the same
//! rules the middleware applies ([`Conventions`]): `401` wherever a key is needed, `403` on the
//! admin routes (`access::admin_only`), and on every `POST` the `Idempotency-Key` header with its
//! `400`, `413` and `422` answers. The site checks (`site`) add `421 host_not_allowed` to every
//! operation, and `403 cross_origin_refused` and `415 unsupported_media_type` (unless the body
//! is an image) to every one that changes state; the connection cap adds
//! `503 too_many_connections` to every operation. The item routes of map nodes (`…/nodes/{key}/items/{item}…`)
//! run the same handlers as the node routes, so their operations are copies of the node routes'
//! with the `item` parameter added.
//!
//! Two answers belong to no operation: a path no route matches is `404 route_not_found`, and a
//! route asked with a method it lacks is `405 method_not_allowed`, both with the error body.
//!
//! Types of other crates that answers carry get hand-written schemas in `schemas`; the
//! integration tests validate every answer they receive against this document, so a schema that
//! drifts from what the server sends fails them.

use std::sync::OnceLock;

use axum::Json;
use axum::extract::State;
use axum::http::Method;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, Required, Schema};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::AppState;
use crate::access::{admin_only, open_path};
use crate::site::takes_image;
use crate::{admin, artifacts, episodes, events, health, inbox, messages, metrics, nodes, series, uploads, workflows};

/// The path of the document itself.
mod scalars;
pub(crate) use scalars::*;

pub(crate) const PATH: &str = "/api/v1/openapi.json";

/// The prefix of the node routes whose item routes are copies.
const NODE_ROUTE: &str = "/api/v1/episodes/{id}/nodes/{key}";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Showrunner",
        description = "A durable workflow engine for AI video episodes: REST and server-sent events under \
                       `/api/v1`.\n\nSuccesses are `{\"data\": …, \"meta\": …}`; failures are \
                       `{\"error\": {\"code\", \"message\", \"details\"}}` with a stable `code`. A path no \
                       route matches answers `404 route_not_found`, a route asked with a method it lacks \
                       `405 method_not_allowed`.\n\nWith API keys configured every route but `health` and \
                       this document needs one, as `Authorization: Bearer KEY` or `X-Api-Key: KEY` \
                       (two different keys in one request are refused: the credentials disagree); a user key \
                       sees only its owner's episodes and series, anything else answering `404`; deletions, \
                       garbage collection, `/metrics` and `GET artifacts/{hash}` need an admin key. Every `POST` under \
                       `/api/v1` takes an `Idempotency-Key`: a retry with the same key gets the first \
                       answer again, with `Idempotent-Replayed: true`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        health::health,
        document,
        workflows::list,
        workflows::show,
        episodes::list,
        inbox::inbox,
        episodes::create,
        episodes::show,
        episodes::delete,
        episodes::cancel,
        episodes::fork,
        events::stream,
        messages::list,
        messages::post,
        nodes::show,
        nodes::approve,
        nodes::regenerate,
        nodes::edit,
        nodes::select,
        nodes::revert,
        artifacts::get,
        artifacts::of_episode,
        artifacts::of_series,
        series::list,
        series::create,
        series::show,
        series::update,
        series::delete,
        series::add_reference,
        uploads::upload,
        uploads::get,
        admin::collect_garbage,
        metrics::metrics,
    ),
    components(schemas(crate::schemas::Event, crate::events::StreamError, crate::error::ErrorBody, crate::envelope::NoMeta)),
    modifiers(&Conventions),
    security(("bearer" = []), ("api_key" = [])),
    tags(
        (name = "meta", description = "Health, this document and metrics"),
        (name = "workflows", description = "Workflow definitions with their DAG"),
        (name = "episodes", description = "Episodes: create, list, show, cancel, fork, delete"),
        (name = "events", description = "An episode's event log as server-sent events"),
        (name = "nodes", description = "Node instances and the actions taken at their gates"),
        (name = "messages", description = "The conversation with an episode"),
        (name = "artifacts", description = "Blobs by content hash"),
        (name = "series", description = "Series: a bible and a cast shared by episodes"),
        (name = "uploads", description = "Reference images"),
        (name = "admin", description = "Admin routes"),
    ),
)]
struct ApiDoc;

/// The API's OpenAPI document, as `GET /api/v1/openapi.json` serves it.
pub fn openapi() -> Document {
    ApiDoc::openapi()
}

/// The document, built once.
fn cached() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(openapi)
}

/// The document of a server without keys, built once: the same, with authentication optional
/// (an empty security requirement first), as such a server answers without one.
fn cached_open() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = openapi();
        doc.security
            .get_or_insert_with(Vec::new)
            .insert(0, SecurityRequirement::default());
        doc
    })
}

/// This document: every route, its parameters, bodies and answers. A server without keys
/// serves it with authentication optional.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)),
)]
pub(crate) async fn document(State(state): State<AppState>) -> Json<&'static Document> {
    Json(if state.keys.is_open() { cached_open() } else { cached() })
}

/// What the middleware and the shared routes add to the handlers' own annotations.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`Authorization: Bearer KEY`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Api-Key",
                "`X-Api-Key: KEY`",
            ))),
        );
        crate::limits::declare(doc);
        exactly_one_of(doc, "CreateEpisode", &["idea", "script"]);
        crate::links::add_links(doc);
        add_item_routes(doc);
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, operation) in operations(item) {
                middleware(path, &method, operation);
                if method != Method::GET {
                    add_error(
                        operation,
                        507,
                        "`insufficient_storage`: the disk is full; nothing was stored, and the request succeeds once space is freed",
                    );
                }
            }
        }
    }
}

/// Makes `schema` take exactly one of `properties`: the object's own schema, and a `oneOf` of
/// one `required` each (both given match two branches, none matches none).
fn exactly_one_of(doc: &mut Document, schema: &str, properties: &[&str]) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let Some(object) = components.schemas.remove(schema) else {
        panic!("no schema {schema} to constrain");
    };
    let mut choice = OneOfBuilder::new();
    for property in properties {
        choice = choice.item(ObjectBuilder::new().required(*property));
    }
    let names = properties
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let all = AllOfBuilder::new()
        .item(object)
        .item(choice)
        .description(Some(format!("Exactly one of {names}")));
    components
        .schemas
        .insert(schema.to_owned(), RefOr::T(Schema::AllOf(all.build())));
}

/// The operations of a path item, with their methods.
fn operations(item: &mut PathItem) -> Vec<(Method, &mut Operation)> {
    [
        (Method::GET, item.get.as_mut()),
        (Method::PUT, item.put.as_mut()),
        (Method::POST, item.post.as_mut()),
        (Method::DELETE, item.delete.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|o| (method, o)))
    .collect()
}

/// Copies every node route to its item route: same handler, one more path parameter.
fn add_item_routes(doc: &mut Document) {
    let copies: Vec<(String, PathItem)> = doc
        .paths
        .paths
        .iter()
        .filter_map(|(path, item)| {
            let rest = path.strip_prefix(NODE_ROUTE)?;
            let mut item = item.clone();
            for (_, operation) in operations(&mut item) {
                if let Some(id) = &mut operation.operation_id {
                    id.push_str("_item");
                }
                if let Some(summary) = &mut operation.summary {
                    summary.push_str(" (an item of a map node)");
                }
                let parameters = operation.parameters.get_or_insert_with(Vec::new);
                let at = parameters
                    .iter()
                    .position(|p| p.name == "key")
                    .map_or(parameters.len(), |i| i + 1);
                parameters.insert(at, path_parameter("item", "The item's stable id, for a map node"));
            }
            Some((format!("{NODE_ROUTE}/items/{{item}}{rest}"), item))
        })
        .collect();
    doc.paths.paths.extend(copies);
}

/// A required string parameter of the path.
fn path_parameter(name: &str, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

/// The answers of the access and idempotency layers.
fn middleware(path: &str, method: &Method, operation: &mut Operation) {
    if !open_path(path) {
        add_error(
            operation,
            401,
            "`unauthorized`: API keys are configured and the request has none, an unknown one, or two that disagree",
        );
    } else {
        // Open routes need no key: an empty requirement.
        operation.security = Some(vec![Default::default()]);
    }
    if admin_only(method, path) {
        add_error(operation, 403, "`forbidden`: the route needs an admin key");
    }
    add_error(
        operation,
        421,
        "`host_not_allowed`: the `Host` is not a name this server answers for (DNS rebinding)",
    );
    add_error(
        operation,
        503,
        "`too_many_connections`: the server holds as many connections as it may",
    );
    if *method != Method::GET {
        add_error(
            operation,
            403,
            "`cross_origin_refused`: a page from another origin may not change state",
        );
        if !takes_image(path) {
            add_error(
                operation,
                415,
                "`unsupported_media_type`: a body without `Content-Type: application/json`",
            );
        }
    }
    if *method == Method::POST {
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(idempotency_key());
        add_error(
            operation,
            400,
            "`bad_request`: the `Idempotency-Key` is not 1 to 255 visible ASCII characters",
        );
        add_error(operation, 413, "`payload_too_large`: the body is over the limit");
        add_error(
            operation,
            422,
            "`idempotency_key_reused`: the `Idempotency-Key` was used for another method, path or body",
        );
        add_error(
            operation,
            500,
            "`internal`: an answer under the `Idempotency-Key` could not be read or stored",
        );
    }
}

/// The optional `Idempotency-Key` header of every `POST`.
fn idempotency_key() -> Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Makes the request safe to retry: the same key, method, path and body get the first answer \
             again (with `Idempotent-Replayed: true`), without acting twice",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[!-~]+$")),
        ))
        .build()
}

/// Adds an error answer, or appends its description to the one the operation has.
fn add_error(operation: &mut Operation, status: u16, description: &str) {
    let responses = &mut operation.responses.responses;
    match responses.get_mut(&status.to_string()) {
        Some(RefOr::T(response)) => {
            if !response.description.contains(description) {
                response.description = format!("{}; {description}", response.description);
            }
            // An answer of another shape (health's `503` with its envelope) may now be either.
            let error = Ref::from_schema_name(crate::error::ErrorBody::name());
            if let Some(content) = response.content.get_mut("application/json")
                && let Some(schema) = content.schema.take()
            {
                let is_error = matches!(&schema, RefOr::Ref(r) if *r == error);
                content.schema = Some(if is_error {
                    schema
                } else {
                    OneOfBuilder::new().item(schema).item(error).into()
                });
            }
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            responses.insert(status.to_string(), RefOr::T(error_response(description)));
        }
    }
}

/// An answer with the error body.
fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(crate::error::ErrorBody::name())))
                .build(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_settings_bounds_are_the_ones_checked() {
        use showrunner_story::model::Settings;
        let doc = serde_json::to_value(openapi()).expect("the document serialises");
        let settings = &doc["components"]["schemas"]["Settings"]["properties"];
        let bounds = |field: &str| (settings[field]["minimum"].as_f64(), settings[field]["maximum"].as_f64());
        let side = f64::from(Settings::MIN_SIDE);
        assert_eq!(bounds("width"), (Some(side), Some(f64::from(Settings::MAX_WIDTH))));
        assert_eq!(bounds("height"), (Some(side), Some(f64::from(Settings::MAX_HEIGHT))));
        let fps = (f64::from(*Settings::FPS.start()), f64::from(*Settings::FPS.end()));
        assert_eq!(bounds("fps"), (Some(fps.0), Some(fps.1)));
        let duration = (*Settings::DURATION_S.start(), *Settings::DURATION_S.end());
        assert_eq!(bounds("target_duration_s"), (Some(duration.0), Some(duration.1)));
    }

    #[test]
    fn operations_have_unique_ids_declared_path_parameters_and_401_unless_open() {
        let doc = serde_json::to_value(openapi()).expect("the document serialises");
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        let paths = doc["paths"].as_object().expect("paths");
        assert!(paths.contains_key(PATH));
        assert!(paths.contains_key("/api/v1/episodes/{id}/nodes/{key}/items/{item}/approve"));
        assert!(paths.contains_key("/metrics"));
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in paths {
            for (method, operation) in item.as_object().expect("a path item") {
                let id = operation["operationId"].as_str().expect("an operation id");
                assert!(ids.insert(id.to_owned()), "{id} twice");
                let responses = operation["responses"].as_object().expect("responses");
                let open = path == PATH || path == "/api/v1/health";
                assert_eq!(responses.contains_key("401"), !open, "{method} {path}");
                // Path parameters are declared for every `{name}` of the template.
                for name in path
                    .split('{')
                    .skip(1)
                    .filter_map(|s| s.split_once('}'))
                    .map(|(n, _)| n)
                {
                    let declared = operation["parameters"]
                        .as_array()
                        .is_some_and(|ps| ps.iter().any(|p| p["name"] == name && p["in"] == "path"));
                    assert!(declared, "{method} {path}: {{{name}}}");
                }
            }
        }
    }
}
