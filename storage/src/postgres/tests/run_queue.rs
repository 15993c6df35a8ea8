//! The run queue on a real PostgreSQL: fencing, lapses, replacement, filters, fairness, what
//! blob collection must keep, and the list of workers.

use std::collections::HashSet;

use showrunner_engine::queue::{QueuedRun, ReportedOutput, RunQueue, Takeable};
use showrunner_engine::{InstanceKey, NodeError, Resource, RunSpec};

use super::*;
use crate::postgres::PgRunQueue;

fn run(episode: EpisodeId, node: &str, attempt: u32, resource: Resource, tags: &[&str]) -> QueuedRun {
    QueuedRun {
        episode,
        workflow: "w".into(),
        definition_version: "v1".into(),
        resource,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        run: RunSpec {
            key: InstanceKey::single(node),
            attempt,
            seeds: vec![7],
            feedback: None,
            inputs: Vec::new(),
            object_fields: Vec::new(),
        },
    }
}

fn can(resources: &[Resource], tags: &[&str]) -> Takeable {
    Takeable {
        resources: resources.to_vec(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        definitions: vec![("w".into(), "v1".into())],
    }
}

fn queue(url: &str) -> PgRunQueue {
    PgRunQueue::new(Arc::new(PgStore::open(url).expect("open")))
}

const LEASE: Duration = Duration::from_millis(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_run_is_taken_again_and_the_old_delivery_is_refused() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let (_, url) = database(&cluster);
    let q = queue(&url);
    let episode = EpisodeId::generate();
    q.push(&run(episode, "a", 1, Resource::Cpu, &[])).await.expect("push");
    // Pushed again (a holder retrying): still one run.
    q.push(&run(episode, "a", 1, Resource::Cpu, &[]))
        .await
        .expect("push again");
    let cpu = can(&[Resource::Cpu], &[]);
    let first = q.take("w1", &cpu, LEASE, 4).await.expect("take").expect("a run");
    assert_eq!((first.delivery, first.queued.run.attempt), (1, 1));
    assert!(
        q.take("w2", &cpu, LEASE, 4).await.expect("take").is_none(),
        "taken once"
    );
    assert!(q.renew("w1", &first, LEASE).await.expect("renew"));
    assert!(q.progress("w1", &first, 0.25, "a quarter").await.expect("progress"));
    assert!(q.progress("w1", &first, 0.5, "half").await.expect("progress"));
    let progressing = q.progressing(&[episode]).await.expect("progressing");
    assert_eq!(
        progressing
            .iter()
            .map(|p| (p.attempt, p.seq, p.fraction, p.message.as_str()))
            .collect::<Vec<_>>(),
        [(1, 2, 0.5, "half")]
    );
    tokio::time::sleep(LEASE * 2).await;
    let second = q
        .take("w2", &cpu, LEASE, 4)
        .await
        .expect("take")
        .expect("the lapsed run");
    assert_eq!(second.delivery, 2);
    assert!(
        !q.renew("w1", &first, LEASE).await.expect("renew"),
        "the old delivery's lease"
    );
    assert!(
        !q.progress("w1", &first, 0.9, "late").await.expect("progress"),
        "the old delivery's progress"
    );
    let blob = showrunner_engine::ContentHash([7; 32]);
    let output = vec![ReportedOutput {
        value: serde_json::json!({"made": "by w2", "image": format!("blob:{}", blob.to_hex())}),
        score: None,
        remarks: Vec::new(),
    }];
    // While it runs, blob collection spares what is younger than the run.
    let store = PgStore::open(&url).expect("open");
    let (kept, oldest) = store.queued_blobs().expect("queued blobs");
    assert!(kept.is_empty());
    assert!(oldest.is_some_and(|age| age >= LEASE * 2), "{oldest:?}");
    assert!(
        !q.report("w1", &first, &Ok(output.clone())).await.expect("report"),
        "late result"
    );
    assert!(q.report("w2", &second, &Ok(output.clone())).await.expect("report"));
    let reported = q.reported(&[episode]).await.expect("reported");
    assert_eq!(reported.len(), 1);
    // Blob collection keeps what a result not yet applied names (a reported run no longer
    // holds the grace back).
    assert_eq!(store.queued_blobs().expect("queued blobs"), (vec![blob], None));
    assert_eq!(reported[0].result, Ok(output));
    assert!(q.reported(&[EpisodeId::generate()]).await.expect("reported").is_empty());
    q.acknowledge(episode, &InstanceKey::single("a"), 1).await.expect("ack");
    assert!(q.reported(&[episode]).await.expect("reported").is_empty());
    let depth = q.depth().await.expect("depth");
    assert!(depth.by_resource.is_empty(), "{depth:?}");
    assert_eq!(store.queued_blobs().expect("queued blobs"), (Vec::new(), None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_attempt_replaces_a_run_and_withdrawn_runs_are_refused() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let (_, url) = database(&cluster);
    let q = queue(&url);
    let episode = EpisodeId::generate();
    let cpu = can(&[Resource::Cpu], &[]);
    q.push(&run(episode, "a", 1, Resource::Cpu, &[])).await.expect("push");
    let old = q.take("w1", &cpu, LEASE, 4).await.expect("take").expect("a run");
    q.push(&run(episode, "a", 2, Resource::Cpu, &[]))
        .await
        .expect("push attempt 2");
    // An earlier attempt pushed late changes nothing.
    q.push(&run(episode, "a", 1, Resource::Cpu, &[]))
        .await
        .expect("push attempt 1 late");
    let new = q.take("w2", &cpu, LEASE, 4).await.expect("take").expect("attempt 2");
    assert_eq!((new.queued.run.attempt, new.delivery), (2, 1));
    assert!(!q.report("w1", &old, &Err(NodeError::Cancelled)).await.expect("report"));
    q.withdraw(episode, &InstanceKey::single("a"), 2)
        .await
        .expect("withdraw");
    assert!(!q.renew("w2", &new, LEASE).await.expect("renew"));
    assert!(!q.report("w2", &new, &Err(NodeError::Cancelled)).await.expect("report"));
    assert!(q.take("w3", &cpu, LEASE, 4).await.expect("take").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_take_only_what_they_have_and_never_the_same_run_twice() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let (_, url) = database(&cluster);
    let q = Arc::new(queue(&url));
    let episode = EpisodeId::generate();
    q.push(&run(episode, "gpu", 1, Resource::Gpu, &[])).await.expect("push");
    q.push(&run(episode, "llm", 1, Resource::Cpu, &["llm"]))
        .await
        .expect("push");
    let mut other = run(episode, "other", 1, Resource::Cpu, &[]);
    other.definition_version = "v2".into();
    q.push(&other).await.expect("push");
    let cpu = can(&[Resource::Cpu], &[]);
    assert!(
        q.take("w", &cpu, LEASE, 4).await.expect("take").is_none(),
        "no GPU, no tag, no v2"
    );
    let taken = q
        .take("w", &can(&[Resource::Cpu], &["llm", "fast"]), LEASE, 4)
        .await
        .expect("take")
        .expect("the llm run");
    assert_eq!(taken.queued.run.key.node, "llm");
    let taken = q
        .take("w", &can(&[Resource::Gpu], &[]), LEASE, 4)
        .await
        .expect("take")
        .expect("the GPU run");
    assert_eq!(taken.queued.run.key.node, "gpu");
    // Many runs of many episodes, eight workers at once: each run is taken once.
    let mut pushed = HashSet::new();
    for e in 0..10 {
        let episode = EpisodeId::generate();
        for n in 0..10 {
            q.push(&run(episode, &format!("n{n}"), 1, Resource::Cpu, &[]))
                .await
                .expect("push");
            pushed.insert((episode, format!("n{n}")));
        }
        let _ = e;
    }
    let takers: Vec<_> = (0..8)
        .map(|w| {
            let q = q.clone();
            tokio::spawn(async move {
                let mut taken = Vec::new();
                let long = Duration::from_secs(60);
                while let Some(run) = q
                    .take(&format!("w{w}"), &can(&[Resource::Cpu], &[]), long, 100)
                    .await
                    .expect("take")
                {
                    taken.push((run.queued.episode, run.queued.run.key.node));
                }
                taken
            })
        })
        .collect();
    let mut taken = Vec::new();
    for taker in takers {
        taken.extend(taker.await.expect("a taker"));
    }
    let unique: HashSet<_> = taken.iter().cloned().collect();
    assert_eq!(taken.len(), unique.len(), "a run taken twice");
    assert_eq!(unique, pushed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_taken_from_the_episode_served_least_lately_within_its_cap() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let (_, url) = database(&cluster);
    let q = queue(&url);
    let (big, small) = (EpisodeId::generate(), EpisodeId::generate());
    for n in 0..6 {
        q.push(&run(big, &format!("b{n}"), 1, Resource::Cpu, &[]))
            .await
            .expect("push");
    }
    let cpu = can(&[Resource::Cpu], &[]);
    let first = q.take("w", &cpu, LEASE * 100, 2).await.expect("take").expect("a run");
    assert_eq!(first.queued.episode, big);
    q.push(&run(small, "s0", 1, Resource::Cpu, &[])).await.expect("push");
    let second = q.take("w", &cpu, LEASE * 100, 2).await.expect("take").expect("a run");
    assert_eq!(second.queued.episode, small, "the episode never served comes first");
    let third = q.take("w", &cpu, LEASE * 100, 2).await.expect("take").expect("a run");
    assert_eq!(third.queued.episode, big);
    // The big episode has two runs taken: its cap.
    assert!(q.take("w", &cpu, LEASE * 100, 2).await.expect("take").is_none());
    let depth = q.depth().await.expect("depth");
    assert_eq!(depth.by_resource, vec![(Resource::Cpu, 4, 3, 0)]);
    assert!(depth.oldest_ready.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_are_listed_and_runs_none_of_them_can_take_are_counted() {
    use showrunner_engine::queue::{ListedWorker, WorkerCard};
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let (_, url) = database(&cluster);
    let q = queue(&url);
    let card = |id: &str, slots: Vec<(Resource, usize)>, tags: &[&str]| WorkerCard {
        id: id.into(),
        pid: 42,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        slots,
        definitions: vec![("w".into(), "v1".into())],
        lease: Duration::from_secs(60),
    };
    let cpu_only = card("cpu-only", vec![(Resource::Cpu, 2), (Resource::Gpu, 0)], &[]);
    q.announce(&cpu_only).await.expect("announce");
    let episode = EpisodeId::generate();
    q.push(&run(episode, "text", 1, Resource::Cpu, &[]))
        .await
        .expect("push");
    q.push(&run(episode, "image", 1, Resource::Gpu, &[]))
        .await
        .expect("push");
    q.push(&run(episode, "speech", 1, Resource::Cpu, &["tts"]))
        .await
        .expect("push");
    let mut other = run(episode, "old", 1, Resource::Cpu, &[]);
    other.definition_version = "v0".into();
    q.push(&other).await.expect("push");
    // The GPU run (no GPU slot), the tagged one and the other version's wait for a worker.
    assert_eq!(q.untakeable().await.expect("untakeable"), 3);
    let gpu = card("gpu-tts", vec![(Resource::Gpu, 1), (Resource::Cpu, 1)], &["tts"]);
    q.announce(&gpu).await.expect("announce");
    q.announce(&gpu).await.expect("announce again");
    assert_eq!(q.untakeable().await.expect("untakeable"), 1, "the other version");
    let listed = q.workers().await.expect("workers");
    assert_eq!(
        listed.iter().map(|w| w.card.clone()).collect::<Vec<_>>(),
        [cpu_only.clone(), gpu.clone()]
    );
    assert!(listed.iter().all(ListedWorker::is_alive));
    // A worker silent for longer than its own lease counts for nothing; a retired one is off
    // the list.
    let brief = WorkerCard {
        lease: Duration::from_millis(100),
        ..gpu.clone()
    };
    q.retire("gpu-tts").await.expect("retire");
    q.announce(&brief).await.expect("announce with a short lease");
    assert_eq!(q.untakeable().await.expect("untakeable"), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(q.untakeable().await.expect("untakeable"), 3);
    let listed = q.workers().await.expect("workers");
    assert!(listed.iter().any(|w| w.card.id == "gpu-tts" && !w.is_alive()));
    q.retire("gpu-tts").await.expect("retire");
    assert_eq!(q.workers().await.expect("workers").len(), 1);
}
