//! Moving a store's contents into another (`showrunner store copy`): every episode with its
//! instances, versions and their values, events and work mark, then the series and the upload
//! records; each episode read back from the target and checked against the source (snapshot,
//! every event, every version value's hash). An episode already in the target is left as it
//! is when it matches (so a copy that stopped can run again) and reported when it differs; an
//! episode that does not load from the source is reported, and the others are copied.
//! Idempotency records are not copied: they only answer retries of requests in flight.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use showrunner_engine::{
    Commit, EpisodeId, EpisodeSnapshot, Event, InstanceKey, InstanceRecord, NewVersion, Store, StoreError, value_hash,
};

/// Events read from the source at a time.
const EVENT_PAGE: usize = 1_000;

/// What a copy did.
#[derive(Debug, Default)]
pub struct CopyReport {
    /// Episodes copied and verified.
    pub copied: usize,
    /// Episodes the target already held, identical.
    pub already: usize,
    /// Series copied (those the target lacked).
    pub series: usize,
    /// Upload records copied.
    pub uploads: usize,
    /// Episodes not copied, with why: the source's record does not load, the target holds a
    /// different episode under its id, or it did not read back the same.
    pub failed: Vec<(Option<EpisodeId>, String)>,
}

/// Copies everything in `from` into `to`, reading every episode back (see the module docs).
pub async fn copy(from: &dyn Store, to: &dyn Store) -> Result<CopyReport, StoreError> {
    let mut report = CopyReport::default();
    let with_work: HashSet<EpisodeId> = from.episodes_with_work()?.into_iter().collect();
    for summary in from.summaries(&[])? {
        let id = match summary {
            Ok(summary) => summary.id,
            Err(failure) => {
                report.failed.push((failure.episode, failure.error.to_string()));
                continue;
            }
        };
        let source = match read(from, id) {
            Ok(Some(source)) => source,
            Ok(None) => continue,
            Err(e) => {
                report
                    .failed
                    .push((Some(id), format!("does not load from the source: {e}")));
                continue;
            }
        };
        if to.load_header(id)?.is_some() {
            match read(to, id)? {
                Some(there) if same(&there, &source) => report.already += 1,
                _ => report
                    .failed
                    .push((Some(id), "the target holds a different episode under this id".into())),
            }
            continue;
        }
        to.commit(commit_of(&source, with_work.contains(&id))).await?;
        match read(to, id)? {
            Some(there) if same(&there, &source) => report.copied += 1,
            _ => report
                .failed
                .push((Some(id), "did not read back from the target as it was written".into())),
        }
    }
    for series in from.all_series()? {
        if to.series(series.id)?.is_none() {
            to.put_series(&series, None).await?;
            report.series += 1;
        }
    }
    for upload in from.uploads()? {
        to.put_upload(&upload).await?;
        report.uploads += 1;
    }
    Ok(report)
}

/// An episode with everything a store holds of it.
struct Whole {
    snapshot: EpisodeSnapshot,
    events: Vec<Event>,
    versions: Vec<NewVersion>,
}

fn read(store: &dyn Store, id: EpisodeId) -> Result<Option<Whole>, StoreError> {
    let Some(snapshot) = store.load_episode(id)? else {
        return Ok(None);
    };
    let mut events = Vec::new();
    loop {
        let from = events.last().map_or(0, |e: &Event| e.seq + 1);
        let page = store.events(id, from, EVENT_PAGE)?;
        let done = page.len() < EVENT_PAGE;
        events.extend(page);
        if done {
            break;
        }
    }
    let mut versions = Vec::new();
    for instance in &snapshot.instances {
        for meta in &instance.versions {
            let value = store.version_value(id, &instance.key, meta.n)?;
            if value_hash(&value) != meta.hash {
                return Err(StoreError::Corrupt {
                    episode: Some(id),
                    what: format!("version {} of `{}` does not match its hash", meta.n, instance.key),
                });
            }
            versions.push(NewVersion {
                key: instance.key.clone(),
                meta: meta.clone(),
                value: Arc::new(value),
            });
        }
    }
    Ok(Some(Whole {
        snapshot,
        events,
        versions,
    }))
}

/// The same episode: header, instances (in any order), events and version values.
fn same(a: &Whole, b: &Whole) -> bool {
    let by_key = |s: &EpisodeSnapshot| -> BTreeMap<InstanceKey, InstanceRecord> {
        s.instances.iter().map(|r| (r.key.clone(), r.clone())).collect()
    };
    let hashes = |w: &Whole| -> Vec<_> {
        let mut all: Vec<_> = w
            .versions
            .iter()
            .map(|v| (v.key.clone(), v.meta.n, value_hash(&v.value)))
            .collect();
        all.sort();
        all
    };
    a.snapshot.header == b.snapshot.header
        && by_key(&a.snapshot) == by_key(&b.snapshot)
        && a.events == b.events
        && hashes(a) == hashes(b)
}

/// The one commit that writes the whole episode.
fn commit_of(whole: &Whole, runnable: bool) -> Commit {
    let mut commit = Commit::new(whole.snapshot.header.id);
    commit.header = Some(whole.snapshot.header.clone());
    commit.instances = whole
        .snapshot
        .instances
        .iter()
        .map(InstanceRecord::without_versions)
        .collect();
    commit.versions = whole.versions.clone();
    commit.events = whole.events.clone();
    commit.runnable = Some(runnable);
    commit
}
