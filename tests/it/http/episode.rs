//! A whole idea2video episode driven over HTTP, and an SSE client that disconnects mid-episode
//! and resumes without gap or duplicate.

use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};
use showrunner::engine::BlobRef;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_idea2video_episode_is_driven_over_http() {
    let server = Server::start().await;
    let workflows = server.get("workflows").await.expect(StatusCode::OK, "workflows");
    let idea2video = workflows
        .data()
        .as_array()
        .and_then(|w| w.iter().find(|w| w["name"] == json!("idea2video")))
        .expect("idea2video is listed")
        .clone();
    assert_eq!(idea2video["nodes"].as_array().map(Vec::len), Some(9));
    let edges = idea2video["edges"].as_array().expect("edges");
    for (from, to) in [
        ("outline", "characters"),
        ("characters", "portraits"),
        ("clips", "final"),
        ("portraits", "keyframes"),
    ] {
        assert!(
            edges.contains(&json!({"from": from, "to": to})),
            "{from} -> {to}: {edges:?}"
        );
    }

    let id = server.create("a lighthouse keeper vanishes", 6.0).await;

    // Regenerate the outline with feedback, then approve the new version.
    server.wait_gate(&id, "outline", 1).await;
    let before = server.value(&id, "outline").await;
    let regenerated = server
        .post(
            &format!("episodes/{id}/nodes/outline/regenerate"),
            json!({"version": 1, "feedback": "make it darker"}),
        )
        .await
        .expect(StatusCode::OK, "regenerate");
    assert_eq!(regenerated.data()["feedback"], json!("make it darker"));
    server.wait_gate(&id, "outline", 2).await;
    let outline = server
        .get(&format!("episodes/{id}/nodes/outline"))
        .await
        .expect(StatusCode::OK, "outline");
    let after = &outline.data()["value"];
    assert_ne!(before["synopsis"], after["synopsis"]);
    assert!(
        after["synopsis"]
            .as_str()
            .is_some_and(|s| s.starts_with("A grim tale.")),
        "{after}"
    );
    let versions = outline.data()["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1]["feedback"], json!("make it darker"));
    let older = server
        .get(&format!("episodes/{id}/nodes/outline?version=1"))
        .await
        .expect(StatusCode::OK, "v1");
    assert_eq!(older.data()["value"], before);
    // A regenerate may leave the version out (a node whose first run failed has none); a
    // version that is not the current one is still a conflict.
    server
        .post(
            &format!("episodes/{id}/nodes/outline/regenerate"),
            json!({"version": 1}),
        )
        .await
        .expect(StatusCode::CONFLICT, "a stale version");
    server
        .post(&format!("episodes/{id}/nodes/outline/regenerate"), json!({}))
        .await
        .expect(StatusCode::OK, "regenerate without a version");
    server.wait_gate(&id, "outline", 3).await;
    // Back to the darker one, approved.
    let approved = server
        .post(&format!("episodes/{id}/nodes/outline/revert"), json!({"version": 2}))
        .await
        .expect(StatusCode::OK, "revert to and approve the darker outline");
    assert_eq!(approved.data()["state"], json!("approved"));

    // Change our mind: back to the first outline. The characters, made from the second, are
    // made again from the first.
    server.wait_gate(&id, "characters", 1).await;
    let reverted = server
        .post(&format!("episodes/{id}/nodes/outline/revert"), json!({"version": 1}))
        .await
        .expect(StatusCode::OK, "revert");
    assert_eq!(
        (&reverted.data()["state"], &reverted.data()["current_version"]),
        (&json!("approved"), &json!(1))
    );
    assert_eq!(server.value(&id, "outline").await, before);

    // Edit the characters: a person's version, approved as it is stored.
    server.wait_gate(&id, "characters", 2).await;
    let mut cast = server.value(&id, "characters").await;
    let clothing = "a yellow raincoat";
    cast[0]["dynamic_features"]["clothing"] = json!(clothing);
    let edited = server
        .post(
            &format!("episodes/{id}/nodes/characters/edit"),
            json!({"base_version": 2, "value": cast}),
        )
        .await
        .expect(StatusCode::OK, "edit");
    assert_eq!(
        (&edited.data()["state"], &edited.data()["current_version"]),
        (&json!("approved"), &json!(3))
    );
    assert_eq!(
        server.value(&id, "characters").await[0]["dynamic_features"]["clothing"],
        json!(clothing)
    );

    // Everything else, up to the final gate.
    let done = server.approve_all(&id).await;
    let last = find(&done, "final").expect("the final node");
    assert_eq!(last["state"], json!("approved"));
    assert_eq!(
        last["artifacts"].as_array().map(Vec::len),
        Some(3),
        "video and two subtitle files"
    );
    let portraits: Vec<&Value> = done["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["node"] == json!("portraits"))
        .collect();
    assert!(!portraits.is_empty() && portraits.iter().all(|p| p["state"] == json!("approved")));

    // The artifacts: the MP4 whole and in ranges, subtitles, a portrait.
    let video = server.value(&id, "final").await;
    let hash = blob_hash(&video["video"]);
    let mp4 = server
        .engine
        .blobs()
        .get(BlobRef::parse(video["video"].as_str().expect("a blob")).expect("blob"))
        .await
        .expect("the MP4 blob");
    let len = mp4.len();
    assert!(len > 2000, "{len} bytes");
    let url = server.url(&format!("artifacts/{hash}"));
    let (status, h, whole) = fetch(server.client.get(&url)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "video/mp4");
    assert_eq!(h[header::ETAG], format!("\"{hash}\"").as_str());
    assert_eq!(h[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert_eq!(h[header::ACCEPT_RANGES], "bytes");
    assert_eq!(whole, mp4);

    let ranged = |range: String| {
        let request = server.client.get(&url).header(header::RANGE, range);
        async move {
            let (status, headers, bytes) = fetch(request).await;
            let content_range = headers
                .get(header::CONTENT_RANGE)
                .map(|v| v.to_str().unwrap_or("").to_owned());
            (status, content_range, bytes)
        }
    };
    let (status, content_range, part) = ranged("bytes=100-1099".into()).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(content_range.as_deref(), Some(format!("bytes 100-1099/{len}").as_str()));
    assert_eq!(part, mp4[100..1100]);
    let (status, content_range, part) = ranged(format!("bytes={}-", len - 10)).await;
    assert_eq!(
        (status, part.as_slice()),
        (StatusCode::PARTIAL_CONTENT, &mp4[len - 10..])
    );
    assert_eq!(
        content_range.as_deref(),
        Some(format!("bytes {}-{}/{len}", len - 10, len - 1).as_str())
    );
    let (status, _, part) = ranged("bytes=-500".into()).await;
    assert_eq!(
        (status, part.as_slice()),
        (StatusCode::PARTIAL_CONTENT, &mp4[len - 500..])
    );
    let (status, content_range, _) = ranged(format!("bytes={len}-")).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(content_range.as_deref(), Some(format!("bytes */{len}").as_str()));
    let (status, _, body) = fetch(
        server
            .client
            .get(&url)
            .header(header::IF_NONE_MATCH, format!("\"{hash}\"")),
    )
    .await;
    assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));

    let vtt = server.url(&format!("artifacts/{}", blob_hash(&video["subtitles_vtt"])));
    let (_, vtt, _) = fetch(server.client.get(vtt)).await;
    assert_eq!(vtt[header::CONTENT_TYPE], "text/vtt; charset=utf-8");
    let portrait = &portraits[0]["artifacts"][0];
    let png = server.url(&format!("artifacts/{}", portrait.as_str().expect("a hash")));
    let (_, png, _) = fetch(server.client.get(png)).await;
    assert_eq!(png[header::CONTENT_TYPE], "image/png");
    server.stop().await;
}

/// One server-sent event, or a comment.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Sse {
    Event { id: u64, data: Value },
    Comment,
}

/// Reads server-sent events off a response, one block at a time.
pub(super) struct SseReader {
    body: futures::stream::BoxStream<'static, reqwest::Result<Vec<u8>>>,
    buffer: String,
}

impl From<reqwest::Response> for SseReader {
    fn from(response: reqwest::Response) -> Self {
        Self {
            body: response.bytes_stream().map(|chunk| chunk.map(|b| b.to_vec())).boxed(),
            buffer: String::new(),
        }
    }
}

impl SseReader {
    pub(super) async fn open(server: &Server, id: &str, last_event_id: Option<u64>) -> Self {
        let mut request = server.client.get(server.url(&format!("episodes/{id}/events")));
        if let Some(last) = last_event_id {
            request = request.header("Last-Event-ID", last.to_string());
        }
        let response = stream(request).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
        Self::from(response)
    }

    pub(super) async fn next(&mut self) -> Sse {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut data) = (None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                return match id {
                    Some(id) => {
                        let data: Value = serde_json::from_str(&data).expect("JSON data");
                        if let Err(e) = contract().validate_as("Event", &data) {
                            panic!("event {id} does not fit the document's `Event`: {e}\n{data:#}");
                        }
                        Sse::Event { id, data }
                    }
                    None => {
                        assert!(block.starts_with(':'), "{block:?}");
                        Sse::Comment
                    }
                };
            }
            let chunk = tokio::time::timeout(PATIENCE, self.body.next())
                .await
                .expect("an event in time")
                .expect("the stream goes on")
                .expect("a chunk");
            self.buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }

    /// The next event, skipping keep-alive comments.
    pub(super) async fn event(&mut self) -> (u64, Value) {
        loop {
            if let Sse::Event { id, data } = self.next().await {
                return (id, data);
            }
        }
    }

    /// Every event up to and including the first of type `kind`.
    pub(super) async fn events_until(&mut self, kind: &str) -> Vec<(u64, Value)> {
        let mut events = Vec::new();
        loop {
            let event = self.event().await;
            let last = event.1["type"] == json!(kind);
            events.push(event);
            if last {
                return events;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_client_that_disconnects_mid_episode_resumes_without_gap_or_duplicate() {
    let server = Server::start().await;
    let id = server.create("a clockmaker's last clock runs backwards", 6.0).await;
    let mut reader = SseReader::open(&server, &id, None).await;
    // Up to the outline's gate, then hang up.
    let mut seen = reader.events_until("GateOpened").await;
    drop(reader);

    // While no one listens, the episode goes on: the gates are approved over HTTP.
    let driver = {
        let server_client = (server.client.clone(), server.base.clone());
        let id = id.clone();
        tokio::spawn(async move {
            let (client, base) = server_client;
            let mut approvals = 0;
            let deadline = Instant::now() + PATIENCE;
            loop {
                assert!(Instant::now() < deadline, "the episode does not complete");
                let episode = answer(client.get(format!("{base}/episodes/{id}"))).await;
                let data = episode.data();
                if data["status"] == json!("completed") {
                    return approvals;
                }
                for gate in gates(data) {
                    let path = action_path(&id, gate, "approve");
                    let request = client
                        .post(format!("{base}/{path}"))
                        .json(&json!({"version": gate["current_version"]}));
                    let status = answer(request).await.status;
                    assert!(status == StatusCode::OK || status == StatusCode::CONFLICT, "{status}");
                    approvals += usize::from(status == StatusCode::OK);
                }
                tokio::time::sleep(Duration::from_millis(60)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Resume with Last-Event-ID, hang up again after a few events, and resume once more, up to
    // the end of the episode.
    let mut resumes = 0;
    'episode: loop {
        let last = seen.last().map(|(seq, _)| *seq);
        let mut reader = SseReader::open(&server, &id, last).await;
        resumes += 1;
        for _ in 0..25 {
            let event = reader.event().await;
            let completed = event.1["type"] == json!("EpisodeCompleted");
            seen.push(event);
            if completed {
                // Quiet now: the stream stays open with keep-alive comments.
                assert_eq!(reader.next().await, Sse::Comment);
                break 'episode;
            }
        }
    }
    assert!(resumes >= 2, "the client resumed {resumes} times");
    let approvals = driver.await.expect("the driver");
    assert!(approvals >= 4, "{approvals} approvals");

    let seqs: Vec<u64> = seen.iter().map(|(seq, _)| *seq).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "every event exactly once, in order");
    for (seq, event) in &seen {
        assert_eq!(event["seq"], json!(seq));
        assert_eq!(event["episode"], json!(id));
    }
    // A fresh subscription from the start sees the very same events.
    let mut fresh = SseReader::open(&server, &id, None).await;
    for (seq, event) in &seen {
        assert_eq!(&fresh.event().await, &(*seq, event.clone()));
    }
    // `?from=` resumes at a sequence number too.
    let from = seqs.len() as u64 / 2;
    let response = stream(
        server
            .client
            .get(server.url(&format!("episodes/{id}/events?from={from}"))),
    )
    .await;
    let mut reader = SseReader::from(response);
    assert_eq!(reader.event().await.0, from);
    server.stop().await;
}
