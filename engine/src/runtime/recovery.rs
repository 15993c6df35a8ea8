//! Recovery on open: runs that were in flight go back to the queue (their attempt counts), open
//! gates stay open, and nothing approved runs again.
//!
//! Only the episodes with work for the runner (an instance ready, running or waiting to retry,
//! as their last commit recorded) are loaded and restarted at open. Every other unfinished
//! episode waits for a person and its records load on first use. The store keeps a count of
//! unfinished episodes per definition version, so checking them all against the registered
//! definitions reads a handful of keys; only when one is missing are the episodes that need it
//! looked up (and reported, and left untouched). Opening costs little more than the work in
//! flight, however many episodes wait at gates.

use std::collections::HashSet;
use std::sync::Arc;

use crate::error::{Result, StoreError};
use crate::ids::EpisodeId;
use crate::pure::episode::Episode;
use crate::record::EpisodeStatus;
use crate::runtime::engine::Shared;
use crate::store::Claim;

/// What recovery found.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    /// Episodes with work, loaded and running again.
    pub loaded: usize,
    /// Unfinished episodes with no work in flight (waiting at gates): checked, loaded on use.
    pub waiting: usize,
    /// Episodes whose definition version is not registered: reported and left untouched.
    pub unknown_definitions: Vec<UnknownDefinition>,
    /// Episodes whose records do not load: reported; the others run.
    pub corrupt: Vec<(Option<EpisodeId>, String)>,
    /// Episodes whose recovery commit failed.
    pub failed: Vec<(EpisodeId, String)>,
}

/// An episode created under a definition this engine does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownDefinition {
    /// The episode.
    pub episode: EpisodeId,
    /// Its workflow's name.
    pub workflow: String,
    /// The definition version it needs.
    pub version: String,
}

/// Checks the definitions of the unfinished episodes and restarts the ones with work.
pub(crate) async fn recover(shared: &Arc<Shared>) -> Result<RecoveryReport> {
    let mut report = RecoveryReport::default();
    let mut unfinished = 0;
    let mut missing = HashSet::new();
    for used in shared.store.definitions_in_use()? {
        unfinished += used.unfinished as usize;
        if shared.definition(&used.workflow, &used.version).is_none() {
            missing.insert((used.workflow, used.version));
        }
    }
    if !missing.is_empty() {
        // Rare: find which episodes need a definition this engine lacks.
        let statuses = [EpisodeStatus::Active, EpisodeStatus::Paused, EpisodeStatus::Failed];
        for summary in shared.store.summaries(&statuses)? {
            let summary = match summary {
                Ok(summary) => summary,
                Err(failure) => {
                    report.corrupt.push((failure.episode, failure.error.to_string()));
                    continue;
                }
            };
            if !missing.contains(&(summary.workflow.clone(), summary.definition_version.clone())) {
                continue;
            }
            tracing::warn!(episode = %summary.id, workflow = %summary.workflow, version = %summary.definition_version,
                "definition version not registered; episode left untouched");
            shared.mark_unavailable(summary.id, summary.workflow.clone(), summary.definition_version.clone());
            report.unknown_definitions.push(UnknownDefinition {
                episode: summary.id,
                workflow: summary.workflow,
                version: summary.definition_version,
            });
        }
    }
    let untouched: HashSet<EpisodeId> = report.unknown_definitions.iter().map(|u| u.episode).collect();
    let mut handles = Vec::new();
    for id in shared.store.episodes_with_work()? {
        if untouched.contains(&id) {
            continue;
        }
        // In a shared store, another live process may hold it: it runs there.
        let claim = match shared.store.claim(id).await {
            Ok(claim) => claim,
            Err(StoreError::Elsewhere { .. }) => continue,
            Err(error) => {
                report.failed.push((id, error.to_string()));
                continue;
            }
        };
        match restore(shared, id, claim) {
            Ok(handle) => handles.push((id, handle)),
            Err(error) => {
                tracing::error!(episode = %id, %error, "episode does not load");
                report.corrupt.push((Some(id), error.to_string()));
            }
        }
    }
    report.waiting = unfinished.saturating_sub(untouched.len() + handles.len() + report.corrupt.len());
    let results = crate::runtime::queued::recover(shared, &handles).await;
    for ((id, _), result) in handles.iter().zip(results) {
        match result {
            Ok(()) => report.loaded += 1,
            Err(e) => report.failed.push((*id, e.to_string())),
        }
    }
    Ok(report)
}

fn restore(
    shared: &Arc<Shared>,
    id: EpisodeId,
    claim: Claim,
) -> std::result::Result<crate::runtime::actor::Handle, StoreError> {
    let stored = shared
        .store
        .load_episode(id)?
        .ok_or_else(|| StoreError::NotFound(format!("episode {id}")))?;
    let def = shared
        .definition(&stored.header.workflow, &stored.header.definition_version)
        .ok_or_else(|| StoreError::Corrupt {
            episode: Some(id),
            what: "its definition changed between summary and load".into(),
        })?;
    let episode = Episode::restore(&def, stored).map_err(|what| StoreError::Corrupt {
        episode: Some(id),
        what,
    })?;
    Ok(shared.adopt(def, episode, claim))
}
