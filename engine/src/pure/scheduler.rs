//! Per-resource admission: which ready instances get a slot, so one GPU is never oversubscribed.
//!
//! Pure bookkeeping: the runner enqueues tickets, asks for grants, and releases a slot when a run
//! ends (or when the episode refuses the start).

use std::collections::{BTreeMap, HashSet, VecDeque};

use crate::ids::{EpisodeId, InstanceKey};
use crate::pure::definition::Resource;

/// A ready instance waiting for a slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ticket {
    /// The episode.
    pub episode: EpisodeId,
    /// The instance.
    pub key: InstanceKey,
}

#[derive(Debug, Default)]
struct Lane {
    limit: usize,
    busy: usize,
    queue: VecDeque<Ticket>,
    queued: HashSet<Ticket>,
}

/// FIFO queues per resource with concurrency limits.
#[derive(Debug)]
pub struct Scheduler {
    lanes: BTreeMap<Resource, Lane>,
}

impl Scheduler {
    /// A scheduler with these limits; a resource without a limit gets 1.
    pub fn new(limits: &BTreeMap<Resource, usize>) -> Self {
        let mut lanes = BTreeMap::new();
        for resource in [Resource::Cpu, Resource::Gpu] {
            lanes.insert(
                resource,
                Lane {
                    limit: limits.get(&resource).copied().unwrap_or(1).max(1),
                    ..Lane::default()
                },
            );
        }
        Self { lanes }
    }

    /// Queues a ticket; a ticket already queued is not queued twice.
    pub fn enqueue(&mut self, resource: Resource, ticket: Ticket) {
        let lane = self.lanes.entry(resource).or_default();
        if lane.queued.insert(ticket.clone()) {
            lane.queue.push_back(ticket);
        }
    }

    /// Grants slots to queued tickets while limits allow, oldest first.
    pub fn grant(&mut self) -> Vec<(Resource, Ticket)> {
        let mut grants = Vec::new();
        for (resource, lane) in &mut self.lanes {
            while lane.busy < lane.limit {
                let Some(ticket) = lane.queue.pop_front() else { break };
                lane.queued.remove(&ticket);
                lane.busy += 1;
                grants.push((*resource, ticket));
            }
        }
        grants
    }

    /// Frees a granted slot.
    pub fn release(&mut self, resource: Resource) {
        if let Some(lane) = self.lanes.get_mut(&resource) {
            lane.busy = lane.busy.saturating_sub(1);
        }
    }

    /// Tickets waiting, over all resources.
    pub fn queued(&self) -> usize {
        self.lanes.values().map(|l| l.queue.len()).sum()
    }

    /// Slots in use for `resource`.
    pub fn busy(&self, resource: Resource) -> usize {
        self.lanes.get(&resource).map_or(0, |l| l.busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(n: usize) -> Ticket {
        Ticket {
            episode: EpisodeId(ulid::Ulid::from_parts(1, n as u128)),
            key: InstanceKey::single(format!("n{n}")),
        }
    }

    #[test]
    fn gpu_is_never_oversubscribed() {
        let mut s = Scheduler::new(&BTreeMap::from([(Resource::Cpu, 2), (Resource::Gpu, 1)]));
        for n in 0..5 {
            s.enqueue(Resource::Gpu, ticket(n));
            s.enqueue(Resource::Cpu, ticket(10 + n));
        }
        let grants = s.grant();
        assert_eq!(grants.iter().filter(|(r, _)| *r == Resource::Gpu).count(), 1);
        assert_eq!(grants.iter().filter(|(r, _)| *r == Resource::Cpu).count(), 2);
        assert!(s.grant().is_empty());
        s.release(Resource::Gpu);
        let next = s.grant();
        assert_eq!(next, vec![(Resource::Gpu, ticket(1))]);
        assert_eq!(s.busy(Resource::Gpu), 1);
    }

    #[test]
    fn duplicate_tickets_queue_once() {
        let mut s = Scheduler::new(&BTreeMap::new());
        s.enqueue(Resource::Cpu, ticket(1));
        s.enqueue(Resource::Cpu, ticket(1));
        assert_eq!(s.queued(), 1);
    }
}
