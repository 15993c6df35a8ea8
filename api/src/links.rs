//! The links of the document: from the answers that make a resource (an episode, a series) to
//! the operations on it, by the id in the answer. A client follows them, and schemathesis's
//! stateful phase walks them (`.ci/schemathesis`): create an episode, then show, cancel, fork,
//! message or delete it; create a series, then show, update or delete it.

use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::{OpenApi as Document, RefOr};

/// The links of the answers that make a resource to the operations on it, by the id in the
/// answer: what a client (or a stateful test) follows from a created episode or series.
pub(crate) fn add_links(doc: &mut Document) {
    let episode = "$response.body#/data/id";
    let from_episode = [
        ("ShowEpisode", "show_episode"),
        ("CancelEpisode", "cancel_episode"),
        ("ForkEpisode", "fork_episode"),
        ("DeleteEpisode", "delete_episode"),
        ("PostMessage", "post_message"),
        ("ListMessages", "list_messages"),
        ("StreamEvents", "stream_events"),
    ];
    let from_series = [
        ("ShowSeries", "show_series"),
        ("UpdateSeries", "update_series"),
        ("DeleteSeries", "delete_series"),
    ];
    let sources = [
        ("/api/v1/episodes", "201", &from_episode[..]),
        ("/api/v1/episodes/{id}/fork", "201", &from_episode[..]),
        ("/api/v1/series", "201", &from_series[..]),
    ];
    for (path, status, targets) in sources {
        let Some(Some(operation)) = doc.paths.paths.get_mut(path).map(|item| item.post.as_mut()) else {
            panic!("no POST {path} to link from");
        };
        let Some(RefOr::T(response)) = operation.responses.responses.get_mut(status) else {
            panic!("POST {path} has no {status} to link from");
        };
        for (name, target) in targets {
            // utoipa 5 writes `operation_id` and `request_body` in snake case, which no reader of
            // OpenAPI knows: the fields go in under their OpenAPI names instead.
            let mut fields = vec![("operationId", serde_json::json!(target))];
            if *target == "update_series" {
                let body = serde_json::json!({
                    "revision": "$response.body#/data/revision",
                    "title": "$response.body#/data/title",
                });
                fields.push(("requestBody", body));
            }
            let link = LinkBuilder::new()
                .parameter("id", episode)
                .description(format!("`{target}` on the resource made"))
                .extensions(Some(Extensions::from_iter(fields)));
            response.links.insert((*name).to_owned(), RefOr::T(link.build()));
        }
    }
}
