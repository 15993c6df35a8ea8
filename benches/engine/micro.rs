//! Scenario 5: the pure core alone (no store, no runtime), and the per-transition costs that the
//! other scenarios point at: record encoding and input decoding.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use showrunner::engine::{Changes, Command, Episode, EpisodeId, InstanceKey, Produced, now_ms};

use crate::common::{
    FANOUT_LIST, FANOUT_MAP, GATE_NODE, Samples, edit, fanout_workflow, gate_episode, gate_workflow, items, nanos,
};

/// One micro result: the median time per operation over several batches, and an optional size.
pub struct Micro {
    /// What was measured.
    pub name: String,
    /// Median time per operation.
    pub per_op: Duration,
    /// A size that goes with it (bytes), if any.
    pub bytes: Option<usize>,
}

/// The median of `rounds` timings of `batch`, each divided by `ops`.
fn median_per_op(rounds: usize, ops: usize, mut batch: impl FnMut() -> Duration) -> Duration {
    let samples: Vec<u64> = (0..rounds).map(|_| nanos(batch()) / ops.max(1) as u64).collect();
    Samples::new(samples).pct(50.0)
}

/// Runs every micro measurement; `fanout_sizes` are the list sizes for the fan-out core.
pub fn run(fanout_sizes: &[usize]) -> Vec<Micro> {
    let mut out = Vec::new();
    let def = gate_workflow();
    let base = gate_episode(&def, 1, now_ms()).0;
    let key = InstanceKey::single(GATE_NODE);
    let now = now_ms();
    const BATCH: usize = 2_000;

    // Approve and edit of an instance at its gate, on fresh clones (cloning is not timed).
    for (name, command) in [
        (
            "Episode::apply(Approve) at a Human gate",
            Command::Approve {
                key: key.clone(),
                version: 1,
            },
        ),
        ("Episode::apply(Edit) at a Human gate", edit(1, 1)),
    ] {
        let per_op = median_per_op(15, BATCH, || {
            let mut episodes: Vec<Episode> = (0..BATCH).map(|_| base.clone()).collect();
            let commands: Vec<Command> = (0..BATCH).map(|_| command.clone()).collect();
            let t = Instant::now();
            for (e, c) in episodes.iter_mut().zip(commands) {
                let mut changes = Changes::default();
                e.apply(&def, c, now, &mut changes).expect("a legal command");
                black_box(&changes);
            }
            t.elapsed()
        });
        out.push(Micro {
            name: name.to_owned(),
            per_op,
            bytes: None,
        });
    }

    // Encoding the instance record, which every transition writes whole, as its versions grow.
    let mut grown = base.clone();
    let mut version = 1u32;
    for target in [1usize, 100, 400, 2_000] {
        while (version as usize) < target {
            let mut changes = Changes::default();
            grown
                .apply(&def, edit(version, version as usize), now, &mut changes)
                .expect("an edit");
            version += 1;
        }
        let record = grown.instance(&def, &key).expect("the instance").clone();
        let bytes = serde_json::to_vec(&record).expect("encoding").len();
        let reps = (20_000 / target).clamp(5, 2_000);
        let per_op = median_per_op(11, reps, || {
            let t = Instant::now();
            for _ in 0..reps {
                black_box(serde_json::to_vec(black_box(&record)).expect("encoding"));
            }
            t.elapsed()
        });
        out.push(Micro {
            name: format!("encode the instance record with {target} versions"),
            per_op,
            bytes: Some(bytes),
        });
    }

    // The fan-out in the pure core: the list's Finished (which instantiates and readies every map
    // instance), then the Start of map instances, then decoding the list value (each map run
    // reads the whole list from the store to pick its item).
    for &n in fanout_sizes {
        let def = fanout_workflow(n);
        let now = now_ms();
        let (mut e, mut c) = Episode::create(&def, EpisodeId::generate(), json!({}), 1, now);
        let list = InstanceKey::single(FANOUT_LIST);
        e.apply(&def, Command::Start { key: list.clone() }, now, &mut c)
            .expect("start the list");
        let value = Arc::new(items(n));
        let finished = Command::Finished {
            key: list,
            attempt: 1,
            result: Ok(vec![Produced {
                value: value.clone(),
                score: None,
                remarks: Vec::new(),
            }]),
        };
        let mut scheduled = None;
        let per_op = median_per_op(3, 1, || {
            let mut episode = e.clone();
            let mut changes = Changes::default();
            let t = Instant::now();
            episode
                .apply(&def, finished.clone(), now, &mut changes)
                .expect("finish the list");
            let took = t.elapsed();
            scheduled = Some(episode);
            took
        });
        out.push(Micro {
            name: format!("Episode::apply(Finished list of {n}): fan-out scheduled"),
            per_op,
            bytes: None,
        });
        let mut episode = scheduled.expect("a scheduled episode");
        let starts = n.min(1_000);
        let t = Instant::now();
        for k in 0..starts {
            let mut changes = Changes::default();
            let key = InstanceKey::item(FANOUT_MAP, format!("item-{k:06}"));
            episode
                .apply(&def, Command::Start { key }, now, &mut changes)
                .expect("start a map instance");
            black_box(&changes);
        }
        out.push(Micro {
            name: format!("Episode::apply(Start) of one map instance of {n}"),
            per_op: t.elapsed() / starts as u32,
            bytes: None,
        });
        let bytes = serde_json::to_vec(value.as_ref()).expect("encoding the list");
        let per_op = median_per_op(5, 1, || {
            let t = Instant::now();
            black_box(serde_json::from_slice::<Value>(black_box(&bytes)).expect("decoding the list"));
            t.elapsed()
        });
        out.push(Micro {
            name: format!("decode the list value of {n} items (once per map run)"),
            per_op,
            bytes: Some(bytes.len()),
        });
    }
    out
}
