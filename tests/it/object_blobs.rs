//! Blobs on S3: `showrunner --store postgres://… --blobs s3://…` runs an episode to its video
//! with nothing of it in the data directory but the models, against a real PostgreSQL and a
//! real S3 server (s3rver) the test starts; the export reads every blob back from S3.

use std::process::Command;

use showrunner::storage::{BUCKET, PgCluster, S3Server};

#[test]
fn an_episode_runs_on_postgres_and_s3_and_exports_from_there() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let url = cluster.create_database("on_s3").expect("a database");
    let s3 = S3Server::start().expect("an S3 server (bash .ci/s3rver)");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let blobs = format!("s3://{BUCKET}/episodes");
    let showrunner = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_showrunner"))
            .args(["--store", &url, "--blobs", &blobs, "--data"])
            .arg(&data)
            .args(args)
            .envs(s3.settings())
            .output()
            .expect("run the CLI");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let out = dir.path().join("out");
    let ran = showrunner(&[
        "run",
        "--workflow",
        "idea2video",
        "--idea",
        "a kite over the harbour",
        "--auto-approve",
        "--duration",
        "3",
        "--size",
        "128x72",
        "--fps",
        "6",
        "--out",
        out.to_str().expect("a UTF-8 path"),
    ]);
    assert!(ran.contains("completed"), "{ran}");
    let video = std::fs::read(out.join("final.mp4")).expect("the exported video");
    assert!(video.len() > 1000 && &video[4..8] == b"ftyp");
    assert!(
        !data.join("blobs").exists(),
        "no blob was written into the data directory"
    );
    assert!(!data.join("store").exists(), "no embedded store was made");
    let id = ran
        .lines()
        .find_map(|l| l.strip_prefix("episode ").and_then(|l| l.split(':').next()))
        .expect("the episode id")
        .to_owned();
    let again = dir.path().join("again");
    let exported = showrunner(&["export", &id, again.to_str().expect("a UTF-8 path")]);
    assert!(exported.contains("final.mp4"), "{exported}");
    assert_eq!(std::fs::read(again.join("final.mp4")).expect("exported again"), video);

    // A blob URL that is not S3 is refused by name.
    let refused = Command::new(env!("CARGO_BIN_EXE_showrunner"))
        .args(["--blobs", "ftp://nowhere", "--data"])
        .arg(&data)
        .args(["episodes", "list"])
        .output()
        .expect("run the CLI");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("s3://BUCKET"), "{stderr}");
}
