//! Terrain backgrounds on the real model: the registry's `terrain` (the consistency UNet of the
//! PyPI package `adaptive-terrain-diffusion` 0.4.2) on ONNX Runtime 1.31.1 (`onnxruntime`), both
//! installed by the registry's own install code when missing (see `installed`).

#[path = "../../models/tests/installed/mod.rs"]
mod installed;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use image::RgbImage;
use showrunner_backend::{ImageModel, View};
use showrunner_models::{Registry, RegistryError, Role};
use showrunner_onnx::terrain::render::{Look, Sky, landscape};
use showrunner_onnx::terrain::{HEIGHT_RANGE, SIZE};
use showrunner_onnx::{Device, OnnxError, Placement, TERRAIN_MODEL, TerrainImages, TerrainModel};
use showrunner_procedural::image::ProceduralImages;
use showrunner_story::fixtures;
use showrunner_story::model::{Camera, Character, Generator, Scene, Settings, Shot, ShotType};

fn registry() -> Registry {
    installed::registry(&["onnxruntime", TERRAIN_MODEL])
}

fn model() -> Arc<TerrainModel> {
    static MODEL: OnceLock<Arc<TerrainModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let model = TerrainModel::from_registry(&registry(), TERRAIN_MODEL, Device::Cpu)
                .unwrap_or_else(|e| panic!("loading the terrain model: {e}"));
            Arc::new(model)
        })
        .clone()
}

fn images() -> TerrainImages {
    TerrainImages::new(model(), Arc::new(ProceduralImages))
}

fn generator() -> Generator {
    Generator {
        backend: "test".into(),
        model: "test".into(),
        seed: 0,
    }
}

fn scene(id: &str, slugline: &str, location: &str, time: &str) -> Scene {
    Scene {
        id: id.into(),
        slugline: slugline.into(),
        location: location.into(),
        time_of_day: time.into(),
        description: format!("The {} at {time}.", location.to_lowercase()),
        character_ids: vec!["mara".into()],
        script: vec![],
        transition: None,
        generated_by: generator(),
    }
}

fn settings() -> Settings {
    Settings {
        width: 480,
        height: 270,
        ..Settings::default()
    }
}

fn distinct_colours(image: &RgbImage) -> usize {
    let mut colours: Vec<[u8; 3]> = image.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    colours.len()
}

/// The mean colour of rows `rows` of an image.
fn band_mean(image: &RgbImage, rows: std::ops::Range<u32>) -> [f64; 3] {
    let mut sum = [0f64; 3];
    let mut n = 0f64;
    for y in rows {
        for x in 0..image.width() {
            let p = image.get_pixel(x, y).0;
            (0..3).for_each(|i| sum[i] += f64::from(p[i]));
            n += 1.0;
        }
    }
    sum.map(|s| s / n)
}

#[test]
fn a_heightmap_is_128_square_finite_and_not_flat() {
    let model = model();
    assert_eq!(model.placement(), Placement::Cpu);
    for difficulty in [1, 50, 100] {
        let heights = model.heightmap(7, difficulty).expect("heightmap");
        assert_eq!(heights.dim(), (SIZE, SIZE));
        assert!(heights.iter().all(|h| h.is_finite()), "difficulty {difficulty}");
        let low = heights.iter().copied().fold(f32::INFINITY, f32::min);
        let high = heights.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(low, 0.0, "the lowest point is the floor");
        assert!(
            high > 0.1 && high <= HEIGHT_RANGE,
            "difficulty {difficulty}: {low}..{high}"
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_heightmap_and_another_seed_another() {
    let model = model();
    let a = model.heightmap(11, 60).expect("heightmap");
    let b = model.heightmap(11, 60).expect("heightmap");
    let c = model.heightmap(12, 60).expect("heightmap");
    assert_eq!(a, b);
    let differ = a.iter().zip(&c).filter(|(x, y)| (*x - *y).abs() > 1e-3).count();
    assert!(differ > SIZE * SIZE / 2, "{differ} cells differ");
}

#[test]
fn rougher_difficulties_give_rougher_terrain() {
    let model = model();
    let roughness = |difficulty| {
        let mean = |seed| {
            let h = model.heightmap(seed, difficulty).expect("heightmap");
            let steps: f32 = h
                .windows((1, 2))
                .into_iter()
                .map(|w| (w[[0, 1]] - w[[0, 0]]).abs())
                .sum();
            steps / (SIZE * (SIZE - 1)) as f32
        };
        (1..=3).map(mean).sum::<f32>() / 3.0
    };
    let (gentle, rough) = (roughness(1), roughness(100));
    assert!(rough > gentle * 1.5, "mean step {gentle} at 1, {rough} at 100");
}

#[test]
fn a_rendered_landscape_has_the_frame_size_a_sky_and_ground() {
    let heights = model().heightmap(3, 80).expect("heightmap");
    let image = landscape(heights.view(), Look::new(Sky::Day), 480, 270);
    assert_eq!(image.dimensions(), (480, 270));
    let colours = distinct_colours(&image);
    assert!(colours > 500, "{colours} colours");
    let sky = band_mean(&image, 0..20);
    let ground = band_mean(&image, 250..270);
    assert!(sky[2] > sky[0] + 40.0, "a blue sky: {sky:?}");
    let distance: f64 = (0..3).map(|i| (sky[i] - ground[i]).abs()).sum();
    assert!(distance > 60.0, "sky {sky:?} ground {ground:?}");
    let night = landscape(heights.view(), Look::new(Sky::Night), 480, 270);
    assert!(band_mean(&night, 0..270).iter().sum::<f64>() * 2.0 < band_mean(&image, 0..270).iter().sum::<f64>());
}

#[test]
fn outdoor_scenes_get_terrain_and_the_rest_goes_to_the_inner_model() {
    let images = images();
    let s = settings();
    let exterior = scene("s1", "EXT. MOUNTAIN PASS - DAY", "Mountain pass", "day");
    let terrain = images.scene(&exterior, &s, 5).expect("terrain scene");
    assert_eq!(terrain.dimensions(), (480, 270));
    assert_ne!(terrain, ProceduralImages.scene(&exterior, &s, 5).expect("procedural"));
    assert_eq!(terrain, images.scene(&exterior, &s, 5).expect("again"), "deterministic");
    assert_ne!(terrain, images.scene(&exterior, &s, 6).expect("another seed"));
    let mixed = scene("s2", "int./ext. car - dusk", "Car", "dusk");
    assert_ne!(
        images.scene(&mixed, &s, 5).expect("terrain"),
        ProceduralImages.scene(&mixed, &s, 5).expect("procedural")
    );

    let interior = scene("s3", "INT. KITCHEN - NIGHT", "Kitchen", "night");
    assert_eq!(
        images.scene(&interior, &s, 5).expect("inner"),
        ProceduralImages.scene(&interior, &s, 5).expect("procedural")
    );

    let generator = images.generator(9);
    assert_eq!(generator.backend, "procedural+onnx");
    assert_eq!(generator.model, "procedural-image-1+terrain");
    assert_eq!(generator.seed, 9);

    let small = Settings { width: 4, ..settings() };
    assert!(
        images.scene(&exterior, &small, 5).is_err(),
        "a frame too small is refused"
    );
}

#[test]
fn portraits_keyframes_and_scores_are_the_inner_models() {
    let images = images();
    let s = settings();
    let mara = Character {
        name: "Mara".into(),
        role: "keeper".into(),
        personality: "calm".into(),
        generated_by: generator(),
        ..fixtures::character("mara", "", "", "", &[])
    };
    let portrait = images.portrait(&mara, View::Front, &s, 1).expect("portrait");
    assert_eq!(
        portrait,
        ProceduralImages.portrait(&mara, View::Front, &s, 1).expect("inner")
    );
    let background = images
        .scene(&scene("s1", "EXT. BEACH - DAWN", "Beach", "dawn"), &s, 1)
        .expect("terrain");
    let shot = Shot {
        scene_id: "s1".into(),
        camera: Camera {
            shot_type: ShotType::Wide,
            ..fixtures::shot("s1-shot-1").camera
        },
        visual_desc: "Wide of mara at the beach".into(),
        first_frame_desc: "mara, dawn".into(),
        motion_desc: "static".into(),
        character_ids: vec!["mara".into()],
        seed: 3,
        transition: None,
        generated_by: generator(),
        ..fixtures::shot("s1-shot-1")
    };
    let cast = [(&mara, &portrait)];
    let keyframe = images.keyframe(&shot, &background, &cast, &s, 2).expect("keyframe");
    assert_eq!(
        keyframe,
        ProceduralImages
            .keyframe(&shot, &background, &cast, &s, 2)
            .expect("inner")
    );
    assert_eq!(
        images.consistency(&keyframe, &shot, &cast),
        ProceduralImages.consistency(&keyframe, &shot, &cast)
    );
}

#[test]
fn a_corrupt_model_file_is_refused_by_checksum() {
    let shared = registry();
    let scratch = tempfile::tempdir().expect("tempdir");
    let source = shared.require(TERRAIN_MODEL, Role::Landscape).expect("installed");
    let dir = scratch.path().join(TERRAIN_MODEL);
    std::fs::create_dir_all(&dir).expect("mkdir");
    for entry in std::fs::read_dir(source.dir()).expect("read model dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.join(entry.file_name())).expect("copy");
    }
    let copy = Registry::new(scratch.path());
    copy.require(TERRAIN_MODEL, Role::Landscape)
        .expect("an intact copy verifies");

    let graph = dir.join("terrain_consistency_unet_difficulty100.onnx");
    let mut bytes = std::fs::read(&graph).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&graph, &bytes).expect("write");
    let err = TerrainModel::from_registry(&copy, TERRAIN_MODEL, Device::Cpu).expect_err("corrupt");
    let message = err.to_string();
    match err {
        OnnxError::Registry(RegistryError::Corrupt { name, file, .. }) => {
            assert_eq!(name, TERRAIN_MODEL);
            assert_eq!(file, graph);
        }
        other => panic!("expected a corrupt-model error, got {other:?}"),
    }
    assert!(message.contains("showrunner models install terrain"), "{message}");
}

#[test]
fn a_graph_that_is_not_the_terrain_unet_is_refused() {
    let registry = installed::registry(&["onnxruntime", "minilm-l6"]);
    let runtime = showrunner_onnx::Runtime::from_registry(&registry).expect("runtime");
    let minilm = registry.require("minilm-l6", Role::Embeddings).expect("MiniLM");
    let err = TerrainModel::load(&runtime, &minilm.main_file().expect("graph"), "minilm", Device::Cpu)
        .expect_err("not a terrain model");
    assert!(matches!(err, OnnxError::Session { .. }), "{err:?}");
    assert!(err.to_string().contains("`noisy`"), "{err}");
}

/// Writes sample backgrounds to `/tmp/showrunner-samples/` (run with `--ignored`).
#[test]
#[ignore]
fn write_samples() {
    let dir = Path::new("/tmp/showrunner-samples");
    std::fs::create_dir_all(dir).expect("mkdir");
    let images = images();
    let s = Settings::default();
    for (i, (slugline, location, time)) in [
        ("EXT. MOUNTAIN PASS - DAY", "Mountain pass", "day"),
        ("EXT. FOREST - DUSK", "Forest", "dusk"),
        ("EXT. BEACH - NIGHT", "Beach", "night"),
        ("EXT. MOOR - DAY", "Moor", "day"),
        ("EXT. HARBOUR - DAY", "Harbour", "day"),
        ("EXT. MEADOW - DAWN", "Meadow", "dawn"),
    ]
    .into_iter()
    .enumerate()
    {
        let image = images
            .scene(&scene(&format!("s{i}"), slugline, location, time), &s, 1)
            .expect("scene");
        image
            .save(dir.join(format!("terrain-{i}-{}.png", location.to_lowercase().replace(' ', "-"))))
            .expect("save");
    }
}
