//! Issue 11, item 10: the OpenAPI document says what the server does. The series bodies can be
//! satisfied, the event stream has one schema per event kind, and the idea-or-script choice,
//! non-blank strings and the links between operations are in the document. (Schemathesis
//! checks the rest against the real server: `.ci/schemathesis`.)

use reqwest::StatusCode;
use serde_json::json;

use crate::http::{Server, contract};

#[test]
fn the_request_schemas_accept_what_the_server_accepts() {
    let contract = contract();
    let series = json!({
        "title": "Harbour Lights",
        "bible": {"visual_style": "ink", "rules": ["no one leaves"]},
        "characters": [{"name": "Mara", "static_features": {"face": "round", "body": "tall"}}],
    });
    assert_eq!(contract.validate_as("CreateSeries", &series), Ok(()));
    let mut update = series.clone();
    update["revision"] = json!(3);
    assert_eq!(contract.validate_as("UpdateSeries", &update), Ok(()));
    let mut unknown = series.clone();
    unknown["colour"] = json!("red");
    contract
        .validate_as("CreateSeries", &unknown)
        .expect_err("an unknown field");
    contract
        .validate_as("CreateSeries", &json!({"title": " \t"}))
        .expect_err("a blank title");
    contract
        .validate_as(
            "CreateSeries",
            &json!({"title": "x", "characters": [{"name": "A", "id": "a b"}]}),
        )
        .expect_err("an id that is not one");

    // Exactly one of `idea` and `script`, neither blank nor null.
    let idea = json!({"workflow": "idea2video", "idea": "a kite"});
    assert_eq!(contract.validate_as("CreateEpisode", &idea), Ok(()));
    let script = json!({"workflow": "script2video", "script": "INT. LAB - DAY\n\nIt hums."});
    assert_eq!(contract.validate_as("CreateEpisode", &script), Ok(()));
    for refused in [
        json!({"workflow": "idea2video"}),
        json!({"workflow": "idea2video", "idea": "a kite", "script": "INT. LAB - DAY"}),
        json!({"workflow": "idea2video", "idea": "  \n"}),
        json!({"workflow": "idea2video", "idea": null, "script": "INT. LAB - DAY"}),
        json!({"workflow": "", "idea": "a kite"}),
    ] {
        contract
            .validate_as("CreateEpisode", &refused)
            .expect_err(&refused.to_string());
    }
}

#[test]
fn each_event_kind_has_its_schema_chosen_by_its_type() {
    let doc = serde_json::to_value(showrunner_api::openapi()).expect("the document");
    let schemas = &doc["components"]["schemas"];
    let event = &schemas["Event"];
    assert_eq!(event["discriminator"]["propertyName"], json!("type"));
    let kinds = event["oneOf"].as_array().expect("a oneOf");
    assert!(kinds.len() >= 20, "{} kinds", kinds.len());
    for (kind, target) in event["discriminator"]["mapping"].as_object().expect("a mapping") {
        let name = target
            .as_str()
            .expect("a ref")
            .trim_start_matches("#/components/schemas/");
        let schema = &schemas[name];
        assert_eq!(schema["properties"]["type"]["enum"], json!([kind]), "{name}");
        for field in ["episode", "seq", "at", "type"] {
            assert!(
                schema["required"].as_array().expect("required").contains(&json!(field)),
                "{name}.{field}"
            );
        }
    }
    // The stream's answer is typed by the events, not as a bare string.
    let stream =
        &doc["paths"]["/api/v1/episodes/{id}/events"]["get"]["responses"]["200"]["content"]["text/event-stream"];
    assert_eq!(stream["schema"]["$ref"], json!("#/components/schemas/ServerSentEvent"));
    let sse = &schemas["ServerSentEvent"]["oneOf"][0]["properties"]["data"];
    assert_eq!(sse["contentMediaType"], json!("application/json"));
    assert_eq!(sse["contentSchema"]["$ref"], json!("#/components/schemas/Event"));

    let contract = contract();
    let ready = json!({"episode": "01J0000000000000000000000Z", "seq": 3, "at": 5, "type": "NodeReady", "key": {"node": "outline"}});
    assert_eq!(contract.validate_as("Event", &ready), Ok(()));
    let mut keyless = ready.clone();
    keyless.as_object_mut().expect("an event").remove("key");
    contract
        .validate_as("Event", &keyless)
        .expect_err("a NodeReady without its key");
    let mut produced = ready.clone();
    produced["type"] = json!("NodeProduced");
    contract
        .validate_as("Event", &produced)
        .expect_err("a NodeProduced without version and hash");
}

#[test]
fn the_answers_that_make_a_resource_link_to_the_operations_on_it() {
    let doc = serde_json::to_value(showrunner_api::openapi()).expect("the document");
    let links = &doc["paths"]["/api/v1/episodes"]["post"]["responses"]["201"]["links"];
    assert_eq!(links["ShowEpisode"]["operationId"], json!("show_episode"));
    assert_eq!(
        links["ShowEpisode"]["parameters"]["id"],
        json!("$response.body#/data/id")
    );
    let links = &doc["paths"]["/api/v1/series"]["post"]["responses"]["201"]["links"];
    assert_eq!(links["UpdateSeries"]["operationId"], json!("update_series"));
    let ids: Vec<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().expect("an item").values())
        .filter_map(|operation| operation["operationId"].as_str())
        .collect();
    for links in [
        &doc["paths"]["/api/v1/episodes"]["post"]["responses"]["201"]["links"],
        &doc["paths"]["/api/v1/series"]["post"]["responses"]["201"]["links"],
    ] {
        for link in links.as_object().expect("links").values() {
            let target = link["operationId"].as_str().expect("an operation id");
            assert!(ids.contains(&target), "a link to {target}, which is no operation");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_what_the_document_refuses() {
    let server = Server::start().await;
    for (body, path) in [
        (
            json!({"workflow": "idea2video", "idea": null, "script": "INT. LAB - DAY\n\nIt hums."}),
            "idea",
        ),
        (json!({"workflow": "idea2video", "idea": "\u{2003}\u{85}"}), "idea"),
        (json!({"workflow": " ", "idea": "a kite"}), "workflow"),
    ] {
        let answer = server.post("episodes", body.clone()).await;
        let answer = answer.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", &body.to_string());
        assert_eq!(answer.body["error"]["details"]["path"], json!(path), "{body}");
    }
    // Ids are written in upper case, as the document's pattern says; lower case is refused.
    let created = server
        .post(
            "episodes",
            json!({"workflow": "idea2video", "idea": "a kite", "settings": {"target_duration_s": 2.0}}),
        )
        .await
        .expect(StatusCode::CREATED, "an episode");
    let id = created.data()["id"].as_str().expect("an id").to_owned();
    server
        .get(&format!("episodes/{id}"))
        .await
        .expect(StatusCode::OK, "upper case");
    server
        .get(&format!("episodes/{}", id.to_lowercase()))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request", "lower case");
    server
        .get(&format!("episodes?cursor={}", id.to_lowercase()))
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request", "a lower-case cursor");
    server.stop().await;
}
