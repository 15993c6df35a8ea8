//! Chat that asks before it throws work away: a regenerate the classifier is not sure of is
//! proposed and waits for a yes (a no drops it); a message about a character's field edits the
//! cast wherever the episode stands and says what that sends back to work; "undo" takes the last
//! edit back; "show me the outline" shows it; "cancel" asks first, and a yes stops the episode.

use serde_json::{Value, json};

use crate::http::{Server, find};
use crate::studio::say;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsure_regenerate_waits_for_a_yes_and_a_field_goes_to_its_stage() {
    let server = Server::start().await;
    let id = server.create("a lighthouse keeper vanishes", 20.0).await;
    server.wait_gate(&id, "outline", 1).await;
    say(&server, &id, "looks good, go ahead").await;
    server.wait_gate(&id, "characters", 1).await;
    let cast = server.value(&id, "characters").await;
    let name = cast[1]["name"].as_str().expect("a name").to_owned();
    let ask = format!("{name} should wear a blue scarf");

    // Not sure: proposed, nothing done.
    let proposed = say(&server, &id, &ask).await;
    assert_eq!(proposed["actions"], json!([]), "{proposed:#}");
    assert_eq!(proposed["pending"]["node"], json!("characters"), "{proposed:#}");
    assert!(
        proposed["text"].as_str().is_some_and(|t| t.contains("yes / no")),
        "{proposed:#}"
    );
    let no = say(&server, &id, "no").await;
    assert_eq!(no["actions"], json!([]));
    assert_eq!(no["pending"], Value::Null);
    let episode = server.wait_gate(&id, "characters", 1).await;
    assert_eq!(
        find(&episode, "characters").map(|n| n["version_count"].clone()),
        Some(json!(1))
    );

    // Asked again and confirmed: done, and only what the note asks changes.
    say(&server, &id, &ask).await;
    let yes = say(&server, &id, "yes").await;
    assert_eq!(yes["actions"][0]["action"], json!("regenerate"), "{yes:#}");
    server.wait_gate(&id, "characters", 2).await;
    let revised = server.value(&id, "characters").await;
    assert_eq!(
        revised[1]["dynamic_features"]["clothing"],
        json!("a blue scarf"),
        "{revised:#}"
    );
    assert_eq!(revised[0], cast[0]);

    // At the scenes' gate, a character's field still edits the characters.
    say(&server, &id, "approve").await;
    server.wait_gate(&id, "scenes", 1).await;
    let hair = say(&server, &id, &format!("change {name}'s hair to blue")).await;
    assert_eq!(hair["intent"], json!("edit"), "{hair:#}");
    assert_eq!(hair["node"], json!("characters"), "{hair:#}");
    assert_eq!(hair["actions"][0]["action"], json!("edit"), "{hair:#}");
    assert!(
        hair["text"].as_str().is_some_and(|t| t.contains("sends back to work")),
        "{hair:#}"
    );
    let edited = server.value(&id, "characters").await;
    assert!(
        edited[1]["static_features"]["face"]
            .as_str()
            .is_some_and(|f| f.ends_with("blue hair")),
        "{edited:#}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_asks_first_and_a_yes_stops_the_episode_for_good() {
    let server = Server::start().await;
    let id = server.create("a lighthouse keeper vanishes", 8.0).await;
    server.wait_gate(&id, "outline", 1).await;

    // Asked, then declined: the episode goes on.
    let asked = say(&server, &id, "cancel").await;
    assert_eq!(asked["intent"], json!("cancel"), "{asked:#}");
    assert_eq!(asked["pending"]["action"], json!("cancel"), "{asked:#}");
    assert!(
        asked["text"].as_str().is_some_and(|t| t.contains("yes / no")),
        "{asked:#}"
    );
    let no = say(&server, &id, "no").await;
    assert_eq!(no["pending"], Value::Null, "{no:#}");
    let episode = server.get(&format!("episodes/{id}")).await;
    assert_eq!(episode.data()["status"], json!("active"));

    // A cancel proposal lapses when the next message is something else.
    say(&server, &id, "stop everything").await;
    let other = say(&server, &id, "what's left?").await;
    assert_eq!(other["intent"], json!("question"), "{other:#}");
    let yes = say(&server, &id, "yes").await;
    assert_ne!(
        yes["intent"],
        json!("cancel"),
        "a lapsed proposal is not carried out: {yes:#}"
    );
    assert_eq!(
        server.get(&format!("episodes/{id}")).await.data()["status"],
        json!("active")
    );

    // Asked and confirmed: cancelled, and nothing more is accepted. "cancel" again to the
    // question asks again rather than reading as a no.
    say(&server, &id, "Stop.").await;
    let again = say(&server, &id, "cancel").await;
    assert_eq!(again["pending"]["action"], json!("cancel"), "{again:#}");
    assert!(
        again["text"].as_str().is_some_and(|t| t.contains("Say yes")),
        "{again:#}"
    );
    let yes = say(&server, &id, "yes").await;
    assert_eq!(yes["intent"], json!("cancel"), "{yes:#}");
    assert_eq!(yes["refused"], Value::Null, "{yes:#}");
    assert_eq!(
        server.get(&format!("episodes/{id}")).await.data()["status"],
        json!("cancelled")
    );
    let again = say(&server, &id, "cancel").await;
    assert_eq!(again["pending"], Value::Null, "{again:#}");
    assert!(
        again["text"].as_str().is_some_and(|t| t.contains("nothing to cancel")),
        "{again:#}"
    );
    server.stop().await;
}
