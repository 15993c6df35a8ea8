//! Seeds past 2^53 survive JSON: every seed the API writes is a decimal string (a browser or
//! `jq` would round a number), a number is still accepted on input, and the document says so.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Server;

/// Every `seed` field anywhere in `value`, with its path.
fn seeds(value: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let here = format!("{path}.{k}");
                if k == "seed" {
                    out.push((here.clone(), v.clone()));
                }
                seeds(v, &here, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                seeds(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_are_written_as_strings_and_read_as_either() {
    let server = Server::start().await;
    let big = "16157121518725781294";
    let body = |seed: Value| {
        json!({
            "workflow": "idea2video",
            "idea": "a whale in a storm",
            "settings": {"width": 64, "height": 36, "fps": 4, "target_duration_s": 4.0, "seed": seed},
        })
    };
    for given in [json!(big), json!(16_157_121_518_725_781_294u64)] {
        let created = server
            .post("episodes", body(given.clone()))
            .await
            .expect(StatusCode::CREATED, "create");
        let episode = created.data();
        assert_eq!(episode["seed"], json!(big), "{given}");
        assert_eq!(episode["input"]["settings"]["seed"], json!(big), "{given}");
        let id = episode["id"].as_str().expect("an id").to_owned();
        let outline = server.wait_gate(&id, "outline", 1).await;
        let mut found = Vec::new();
        seeds(&outline, "", &mut found);
        let node = server
            .get(&format!("episodes/{id}/nodes/outline"))
            .await
            .expect(StatusCode::OK, "the outline");
        seeds(&node.body, "outline", &mut found);
        assert!(found.len() >= 4, "{found:?}");
        for (path, seed) in &found {
            let text = seed
                .as_str()
                .unwrap_or_else(|| panic!("{path} is not a string: {seed}"));
            assert!(text.parse::<u64>().is_ok(), "{path}: {text}");
        }
    }
    // Not a seed: refused with the field's path.
    for bad in [json!("18446744073709551616"), json!(-1), json!(1.5), json!("007")] {
        let answer = server.post("episodes", body(bad.clone())).await;
        let answer = answer.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "a bad seed");
        assert_eq!(
            answer.body["error"]["details"]["path"],
            json!("settings.seed"),
            "{bad}: {:#}",
            answer.body
        );
    }
    // The document says what a seed is.
    let document = serde_json::to_value(showrunner_api::openapi()).expect("the document");
    let seed = &document["components"]["schemas"]["Seed"];
    assert_eq!(seed["oneOf"][0]["type"], json!("string"), "{seed:#}");
    server.stop().await;
}
