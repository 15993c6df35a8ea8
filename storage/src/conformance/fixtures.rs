//! The records the suite commits: an episode header, and commit `seq` of an episode with one
//! instance's version `seq`, its value and one event.

use std::sync::Arc;

use serde_json::json;
use showrunner_engine::{
    Author, Commit, EpisodeId, EpisodeRecord, EpisodeStatus, Event, EventKind, InstanceKey, InstanceRecord, NewVersion,
    VersionMeta, now_ms, value_hash,
};

/// The workflow every fixture episode names.
pub(crate) const WORKFLOW: &str = "conformance";
/// The definition version every fixture episode names.
pub(crate) const DEFINITION: &str = "v1";

/// An episode's header with `status`, whose next event is `next_seq`.
pub(crate) fn header(id: EpisodeId, status: EpisodeStatus, next_seq: u64) -> EpisodeRecord {
    EpisodeRecord {
        id,
        workflow: WORKFLOW.into(),
        definition_version: DEFINITION.into(),
        input: json!({"idea": "x"}),
        seed: 1,
        status,
        created_at: now_ms(),
        forked_from: None,
        series: None,
        owner: None,
        next_seq,
    }
}

/// Version `n`'s metadata.
pub(crate) fn version(n: u32) -> VersionMeta {
    let hash = value_hash(&json!({"take": n}));
    VersionMeta {
        n,
        hash,
        fingerprint: hash,
        reads: Vec::new(),
        seed: 1,
        attempt: n,
        feedback: None,
        author: Author::Engine,
        created_at: now_ms(),
        score: None,
        remarks: Vec::new(),
        items: None,
        picks: Vec::new(),
        blobs: Vec::new(),
    }
}

/// Commit `seq` of an episode: version `seq` of the instance `shots/s1`, with its value
/// `{"take": seq}`, and event `seq`.
pub(crate) fn commit(id: EpisodeId, status: EpisodeStatus, seq: u64) -> Commit {
    let key = InstanceKey::item("shots", "s1");
    let mut c = Commit::new(id);
    c.header = Some(header(id, status, seq + 1));
    let mut record = InstanceRecord::new(key.clone());
    record.current = Some(seq as u32);
    c.instances.push(record);
    c.versions.push(NewVersion {
        key,
        meta: version(seq as u32),
        value: Arc::new(json!({"take": seq})),
    });
    c.events.push(Event {
        episode: id,
        seq,
        at: now_ms(),
        kind: EventKind::EpisodeCompleted,
    });
    c
}
