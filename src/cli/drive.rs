//! Drives an episode to its end at the terminal: a progress bar per node, and each gate either
//! approved or put to the person at the keyboard.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::bail;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use showrunner::engine::{Engine, EpisodeId, EpisodeSnapshot, EpisodeStatus, EventKind, NodeState};

use super::gate::{self, Applied, Decision};

/// What happens at a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gates {
    /// Approve the current version.
    Approve,
    /// Ask at the terminal.
    Ask,
}

/// A progress bar per node, in definition order.
struct Bars {
    multi: MultiProgress,
    bars: BTreeMap<usize, (String, ProgressBar)>,
    notes: BTreeMap<String, String>,
}

impl Bars {
    fn new() -> Self {
        Self {
            multi: MultiProgress::new(),
            bars: BTreeMap::new(),
            notes: BTreeMap::new(),
        }
    }

    fn note(&mut self, node: &str, message: String) {
        self.notes.insert(node.to_owned(), message);
    }

    fn update(&mut self, engine: &Engine, snapshot: &EpisodeSnapshot) {
        let Some(def) = engine.workflow(&snapshot.header.workflow) else {
            return;
        };
        let style = ProgressStyle::with_template("{prefix:>13} [{bar:24}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        for (i, spec) in def.nodes().iter().enumerate() {
            let mine: Vec<_> = snapshot.instances.iter().filter(|r| r.key.node == spec.key()).collect();
            if mine.is_empty() {
                continue;
            }
            let (_, bar) = self.bars.entry(i).or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new(0));
                bar.set_style(style.clone());
                bar.set_prefix(spec.key().to_owned());
                (spec.key().to_owned(), bar)
            });
            let approved = mine.iter().filter(|r| r.state.is_approved()).count();
            let running = mine
                .iter()
                .filter(|r| matches!(r.state, NodeState::Running { .. }))
                .count();
            let waiting = mine
                .iter()
                .filter(|r| r.state == NodeState::AwaitingApproval {})
                .count();
            bar.set_length(mine.len() as u64);
            bar.set_position(approved as u64);
            let message = if waiting > 0 {
                "waiting for approval".to_owned()
            } else if running > 0 {
                let note = self.notes.get(spec.key()).map(String::as_str).unwrap_or("running");
                format!("{running} running: {note}")
            } else if approved == mine.len() {
                "done".to_owned()
            } else {
                String::new()
            };
            bar.set_message(message);
        }
    }

    /// Leaves every bar where it stands (a finished bar would draw as done).
    fn stop(&self) {
        for (_, bar) in self.bars.values() {
            bar.abandon();
        }
    }
}

/// Drives one episode.
pub struct Driver<'a> {
    engine: &'a Engine,
    id: EpisodeId,
    gates: Gates,
    bars: Bars,
}

impl<'a> Driver<'a> {
    /// A driver of `id`.
    pub fn new(engine: &'a Engine, id: EpisodeId, gates: Gates) -> Self {
        Self {
            engine,
            id,
            gates,
            bars: Bars::new(),
        }
    }

    /// Stops driving, the bars where they stand, with how to go on.
    fn leave(&self, why: &str) -> bool {
        self.bars.stop();
        println!("{why}; continue with: showrunner resume {}", self.id);
        false
    }

    /// Runs until the episode completes (true), fails, or the person quits at a gate or with
    /// ctrl-c (false).
    pub async fn drive(&mut self) -> anyhow::Result<bool> {
        let first = self.engine.snapshot(self.id).await?;
        let mut events = self.engine.subscribe(self.id, first.header.next_seq).await?;
        loop {
            let snapshot = self.engine.snapshot(self.id).await?;
            self.bars.update(self.engine, &snapshot);
            match snapshot.header.status {
                EpisodeStatus::Completed => {
                    self.bars.stop();
                    println!("episode {} completed", self.id);
                    return Ok(true);
                }
                EpisodeStatus::Cancelled => bail!("episode {} was cancelled", self.id),
                EpisodeStatus::Failed => {
                    self.bars.stop();
                    for record in snapshot.instances.iter().filter(|r| r.state == NodeState::Failed {}) {
                        eprintln!("{} failed: {}", record.key, record.last_error.as_deref().unwrap_or("?"));
                    }
                    bail!(
                        "episode {} failed; regenerate or edit the failed nodes, then `showrunner resume {}`",
                        self.id,
                        self.id
                    );
                }
                _ => {}
            }
            let open: Vec<_> = snapshot
                .instances
                .iter()
                .filter(|r| r.state == NodeState::AwaitingApproval {})
                .collect();
            if !open.is_empty() {
                for record in open {
                    let decision = match self.gates {
                        // The first of the candidates, at a candidates gate.
                        Gates::Approve => match record.candidates.first() {
                            Some(&first) => Decision::Pick(first),
                            None => Decision::Approve,
                        },
                        Gates::Ask => {
                            let multi = self.bars.multi.clone();
                            tokio::select! {
                                decision = gate::ask(self.engine, self.id, record, &multi) => decision?,
                                _ = tokio::signal::ctrl_c() => return Ok(self.leave("\ninterrupted")),
                            }
                        }
                    };
                    match gate::apply(self.engine, self.id, record, decision).await? {
                        Applied::Done => {}
                        Applied::Quit => return Ok(self.leave("left at the gate")),
                        // Printed above the bars, so their redraws do not wipe it.
                        Applied::Refused(why) => self.bars.multi.println(why)?,
                    }
                }
                continue;
            }
            let next = tokio::select! {
                next = tokio::time::timeout(Duration::from_secs(1), events.next()) => next,
                _ = tokio::signal::ctrl_c() => return Ok(self.leave("interrupted")),
            };
            match next {
                Ok(Some(event)) => {
                    if let EventKind::NodeProgress { key, message, .. } = event?.kind {
                        self.bars.note(&key.node, message);
                    }
                }
                Ok(None) => bail!("the engine stopped"),
                Err(_) => {}
            }
        }
    }
}
