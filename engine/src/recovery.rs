//! Recovery on open: every unfinished episode is loaded from its snapshot records, runs that
//! were in flight go back to the queue (their attempt counts), open gates stay open, and nothing
//! approved runs again.

use std::sync::Arc;

use futures::future::join_all;

use crate::command::Command;
use crate::engine::Shared;
use crate::episode::Episode;
use crate::error::{Result, StoreError};
use crate::ids::EpisodeId;
use crate::record::EpisodeStatus;

/// What recovery found.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    /// Episodes loaded and running again.
    pub loaded: usize,
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

/// Loads and restarts every unfinished episode. Finished ones (completed, cancelled) load on
/// first use.
pub(crate) async fn recover(shared: &Arc<Shared>) -> Result<RecoveryReport> {
    let unfinished = [EpisodeStatus::Active, EpisodeStatus::Paused, EpisodeStatus::Failed];
    let mut report = RecoveryReport::default();
    let mut handles = Vec::new();
    for loaded in shared.store.load_episodes(&unfinished)? {
        let stored = match loaded {
            Ok(stored) => stored,
            Err(failure) => {
                tracing::error!(episode = ?failure.episode, error = %failure.error, "episode does not load");
                report.corrupt.push((failure.episode, failure.error.to_string()));
                continue;
            }
        };
        let header = &stored.header;
        let id = header.id;
        let Some(def) = shared.definition(&header.workflow, &header.definition_version) else {
            tracing::warn!(episode = %id, workflow = %header.workflow, version = %header.definition_version,
                "definition version not registered; episode left untouched");
            report.unknown_definitions.push(UnknownDefinition {
                episode: id,
                workflow: header.workflow.clone(),
                version: header.definition_version.clone(),
            });
            shared.mark_unavailable(id, header.workflow.clone(), header.definition_version.clone());
            continue;
        };
        match Episode::restore(&def, stored) {
            Ok(episode) => handles.push((id, shared.adopt(def, episode))),
            Err(what) => {
                let error = StoreError::Corrupt {
                    episode: Some(id),
                    what,
                };
                report.corrupt.push((Some(id), error.to_string()));
            }
        }
    }
    let results = join_all(handles.iter().map(|(_, h)| h.command(Command::Recover))).await;
    for ((id, _), result) in handles.iter().zip(results) {
        match result {
            Ok(()) => report.loaded += 1,
            Err(e) => report.failed.push((*id, e.to_string())),
        }
    }
    Ok(report)
}
