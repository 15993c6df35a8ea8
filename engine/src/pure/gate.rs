//! Gates: what stands between a node's output and its dependents, and what a quality gate does
//! when its attempts run out.

use serde::{Deserialize, Serialize};

/// What happens when a quality gate's attempts run out below the bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Escalation {
    /// A person decides.
    Human,
    /// The instance fails.
    Fail,
}

/// What stands between a node's output and its dependents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Gate {
    /// Passed on at once.
    Auto,
    /// A person approves, regenerates, edits or reverts.
    Human,
    /// The node's scorer rates the output; below `min_score` it runs again, up to
    /// `max_attempts` runs, then escalates.
    Quality {
        /// The bar, in `[0, 1]`.
        min_score: f64,
        /// Runs before escalating.
        max_attempts: u32,
        /// What happens then.
        then: Escalation,
    },
    /// `n` versions are made and a person picks one.
    Candidates {
        /// How many.
        n: u32,
    },
}

impl Gate {
    /// The gate's kind, as events name it.
    pub fn kind(&self) -> GateKind {
        match self {
            Gate::Auto => GateKind::Auto,
            Gate::Human => GateKind::Human,
            Gate::Quality { .. } => GateKind::Quality,
            Gate::Candidates { .. } => GateKind::Candidates,
        }
    }
}

/// A gate's kind without its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum GateKind {
    /// Passes every version ([`Gate::Auto`]).
    Auto,
    /// Waits for a person ([`Gate::Human`]).
    Human,
    /// Passes versions that score well enough ([`Gate::Quality`]).
    Quality,
    /// Offers candidates to pick from ([`Gate::Candidates`]).
    Candidates,
}
