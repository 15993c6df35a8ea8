//! The node-instance lifecycle as a statig state machine.
//!
//! ```text
//!  Blocked ──inputs ready──▶ Ready ──start──▶ Running{attempt} ──produce──▶ Produced
//!     ▲                        ▲  ▲               │  │  │                      │ open gate / auto approve
//!     └──────inputs lost───────┘  │ retry due     │  │  └─fail(permanent)─▶ Failed
//!                                 │               │  └─fail(retry at)──▶ RetryWait{retry_at}
//!                                 └──interrupt────┘
//!  AwaitingApproval ──approve / select / edit / revert──▶ Approved
//!  AwaitingApproval, Approved, Failed ──regenerate──▶ Ready
//!  anything holding an output ──invalidate──▶ Stale ──inputs ready──▶ Ready
//!  anything unfinished ──cancel──▶ Cancelled
//! ```
//!
//! The machine is pure: [`NodeState::step`] takes a state and an input and returns the next state,
//! or `None` when the input is illegal in that state (and the caller changes nothing).

use statig::blocking::{IntoStateMachine, Outcome, StateExt};

use crate::ids::Timestamp;

/// An input to the lifecycle machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleInput {
    /// Every input of the instance is approved.
    InputsReady,
    /// An input is no longer approved.
    InputsLost,
    /// The scheduler granted a slot; the run is attempt `attempt`.
    Start {
        /// The attempt number.
        attempt: u32,
    },
    /// The run produced an output.
    Produce,
    /// The gate waits for a person.
    OpenGate,
    /// The gate passed the output on its own (auto, or quality above the bar).
    AutoApprove,
    /// A person approved the current version.
    Approve,
    /// A person picked one candidate.
    Select,
    /// Run again (with feedback from a person, or by a quality gate).
    Regenerate,
    /// A person stored their own version.
    Edit,
    /// A person moved the pointer back to an older version.
    Revert,
    /// The run failed; retried at `retry_at`, or never when `None`.
    Fail {
        /// When to retry.
        retry_at: Option<Timestamp>,
    },
    /// The backoff of a failed run is over.
    RetryDue,
    /// The run was stopped before it finished (crash, pause): run it again.
    Interrupt,
    /// An input changed under the output.
    Invalidate,
    /// The episode was cancelled.
    Cancel,
}

/// The statig machine. Its generated `NodeState` enum has one variant per state function below;
/// the generated items carry no docs of their own, so the lint is off in here alone.
mod machine {
    #![allow(missing_docs)]

    use serde::{Deserialize, Serialize};
    use statig::prelude::*;

    use super::LifecycleInput;
    use crate::ids::Timestamp;

    /// The machine's shared storage: none, the state carries everything.
    #[derive(Debug, Default)]
    pub struct Lifecycle;

    #[state_machine(
        initial = "NodeState::blocked()",
        state(
            name = "NodeState",
            derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)
        ),
        superstate(derive(Debug))
    )]
    impl Lifecycle {
        /// Waiting for inputs.
        #[state(superstate = "unfinished")]
        fn blocked(event: &LifecycleInput) -> Outcome<NodeState> {
            match event {
                LifecycleInput::InputsReady => Transition(NodeState::ready()),
                _ => Super,
            }
        }

        /// Queued for a slot.
        #[state(superstate = "unfinished")]
        fn ready(event: &LifecycleInput) -> Outcome<NodeState> {
            match *event {
                LifecycleInput::Start { attempt } => Transition(NodeState::running(attempt)),
                LifecycleInput::InputsLost => Transition(NodeState::blocked()),
                _ => Super,
            }
        }

        /// Running attempt `attempt`.
        #[state(superstate = "unfinished")]
        fn running(attempt: &u32, event: &LifecycleInput) -> Outcome<NodeState> {
            let _ = attempt;
            match *event {
                LifecycleInput::Produce => Transition(NodeState::produced()),
                LifecycleInput::Fail { retry_at: Some(at) } => Transition(NodeState::retry_wait(at)),
                LifecycleInput::Fail { retry_at: None } => Transition(NodeState::failed()),
                LifecycleInput::Interrupt => Transition(NodeState::ready()),
                LifecycleInput::Invalidate => Transition(NodeState::stale()),
                _ => Super,
            }
        }

        /// An output exists; its gate decides next.
        #[state(superstate = "unfinished")]
        fn produced(event: &LifecycleInput) -> Outcome<NodeState> {
            match event {
                LifecycleInput::OpenGate => Transition(NodeState::awaiting_approval()),
                LifecycleInput::AutoApprove => Transition(NodeState::approved()),
                LifecycleInput::Regenerate => Transition(NodeState::ready()),
                LifecycleInput::Fail { retry_at: None } => Transition(NodeState::failed()),
                _ => Super,
            }
        }

        /// A person is asked.
        #[state(superstate = "unfinished")]
        fn awaiting_approval(event: &LifecycleInput) -> Outcome<NodeState> {
            match event {
                LifecycleInput::Approve | LifecycleInput::Select | LifecycleInput::Edit | LifecycleInput::Revert => {
                    Transition(NodeState::approved())
                }
                LifecycleInput::Regenerate => Transition(NodeState::ready()),
                LifecycleInput::Invalidate => Transition(NodeState::stale()),
                _ => Super,
            }
        }

        /// Done: the current version is approved.
        #[state]
        fn approved(event: &LifecycleInput) -> Outcome<NodeState> {
            match event {
                LifecycleInput::Edit | LifecycleInput::Revert => Transition(NodeState::approved()),
                LifecycleInput::Regenerate => Transition(NodeState::ready()),
                LifecycleInput::Invalidate => Transition(NodeState::stale()),
                // Cancelling an episode keeps the work that was approved.
                LifecycleInput::Cancel => Handled,
                _ => Super,
            }
        }

        /// Waiting out the backoff after a failure.
        #[state(superstate = "unfinished")]
        fn retry_wait(retry_at: &Timestamp, event: &LifecycleInput) -> Outcome<NodeState> {
            let _ = retry_at;
            match event {
                LifecycleInput::RetryDue | LifecycleInput::Regenerate => Transition(NodeState::ready()),
                LifecycleInput::InputsLost => Transition(NodeState::blocked()),
                _ => Super,
            }
        }

        /// Failed for good; a person may regenerate or supply a value.
        #[state(superstate = "unfinished")]
        fn failed(event: &LifecycleInput) -> Outcome<NodeState> {
            match event {
                LifecycleInput::Regenerate => Transition(NodeState::ready()),
                LifecycleInput::Edit => Transition(NodeState::approved()),
                _ => Super,
            }
        }

        /// An input changed: the output no longer matches; runs again once inputs are approved.
        #[state(superstate = "unfinished")]
        fn stale(event: &LifecycleInput) -> Outcome<NodeState> {
            match event {
                LifecycleInput::InputsReady => Transition(NodeState::ready()),
                LifecycleInput::Edit | LifecycleInput::Revert => Transition(NodeState::approved()),
                LifecycleInput::Invalidate => Handled,
                _ => Super,
            }
        }

        /// Cancelled with its episode.
        #[state]
        fn cancelled(event: &LifecycleInput) -> Outcome<NodeState> {
            match event {
                LifecycleInput::Cancel => Handled,
                _ => Super,
            }
        }

        /// Every state that is not finished can be cancelled.
        #[superstate]
        fn unfinished(event: &LifecycleInput) -> Outcome<NodeState> {
            match event {
                LifecycleInput::Cancel => Transition(NodeState::cancelled()),
                _ => Super,
            }
        }
    }
}

pub use machine::{Lifecycle, NodeState};

impl NodeState {
    /// The state after `input`, or `None` when `input` is illegal here.
    pub fn step(self, input: LifecycleInput) -> Option<NodeState> {
        let mut state = self;
        match state.handle(&mut Lifecycle, &input, &mut ()) {
            Outcome::Transition(next) => Some(next),
            Outcome::Handled => Some(self),
            Outcome::Super => None,
        }
    }

    /// The state a new instance starts in.
    pub fn initial() -> Self {
        <Lifecycle as IntoStateMachine>::initial()
    }

    /// A short lower-case name, for errors and logs.
    pub fn name(&self) -> &'static str {
        match self {
            NodeState::Blocked {} => "blocked",
            NodeState::Ready {} => "ready",
            NodeState::Running { .. } => "running",
            NodeState::Produced {} => "produced",
            NodeState::AwaitingApproval {} => "awaiting approval",
            NodeState::Approved {} => "approved",
            NodeState::RetryWait { .. } => "waiting to retry",
            NodeState::Failed {} => "failed",
            NodeState::Stale {} => "stale",
            NodeState::Cancelled {} => "cancelled",
        }
    }

    /// True for `Approved`.
    pub fn is_approved(&self) -> bool {
        matches!(self, NodeState::Approved {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path() {
        let s = NodeState::initial();
        assert_eq!(s, NodeState::Blocked {});
        let s = s.step(LifecycleInput::InputsReady).expect("ready");
        let s = s.step(LifecycleInput::Start { attempt: 1 }).expect("start");
        assert_eq!(s, NodeState::Running { attempt: 1 });
        let s = s.step(LifecycleInput::Produce).expect("produce");
        let s = s.step(LifecycleInput::OpenGate).expect("gate");
        let s = s.step(LifecycleInput::Approve).expect("approve");
        assert!(s.is_approved());
    }

    #[test]
    fn illegal_inputs_are_refused() {
        let running = NodeState::Running { attempt: 2 };
        assert_eq!(running.step(LifecycleInput::Approve), None);
        assert_eq!(NodeState::Approved {}.step(LifecycleInput::Approve), None);
        assert_eq!(NodeState::Blocked {}.step(LifecycleInput::Start { attempt: 1 }), None);
        assert_eq!(NodeState::Cancelled {}.step(LifecycleInput::InputsReady), None);
    }

    #[test]
    fn cancel_keeps_approved_work() {
        assert_eq!(
            NodeState::Approved {}.step(LifecycleInput::Cancel),
            Some(NodeState::Approved {})
        );
        assert_eq!(
            NodeState::Ready {}.step(LifecycleInput::Cancel),
            Some(NodeState::Cancelled {})
        );
    }
}
