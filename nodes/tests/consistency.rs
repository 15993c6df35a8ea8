//! The text consistency of the keyframe gate on the real MiniLM (`minilm-l6` on ONNX Runtime
//! 1.31.1), both installed by the registry's own install code when missing (see `installed`).

#[path = "../models/tests/installed/mod.rs"]
mod installed;

use showrunner_nodes::consistency::{combined, text_consistency};
use showrunner_nodes::model::{Character, Shot};
use showrunner_onnx::{Device, MINILM_MODEL, MiniLmEmbedder};
use showrunner_story::fixtures;

fn embedder() -> MiniLmEmbedder {
    let registry = installed::registry(&["onnxruntime", MINILM_MODEL]);
    MiniLmEmbedder::from_registry(&registry, MINILM_MODEL, Device::Cpu)
        .unwrap_or_else(|e| panic!("loading MiniLM: {e}"))
}

fn character(id: &str, name: &str, face: &str, body: &str, clothing: &str, props: &[&str]) -> Character {
    Character {
        name: name.into(),
        personality: "stubborn and kind".into(),
        ..fixtures::character(id, face, body, clothing, props)
    }
}

fn shot(visual: &str, first_frame: &str, ids: &[&str]) -> Shot {
    Shot {
        scene_id: "s1".into(),
        visual_desc: visual.into(),
        first_frame_desc: first_frame.into(),
        motion_desc: "static".into(),
        character_ids: fixtures::ids(ids),
        ..fixtures::shot("s1-shot-1")
    }
}

#[test]
fn a_shot_that_describes_its_character_scores_higher_than_one_about_something_else() {
    let embedder = embedder();
    let mara = character(
        "mara",
        "Mara",
        "round face, freckles, dark eyes, red hair",
        "tall and wiry",
        "a yellow raincoat",
        &["a lantern"],
    );
    let about = shot(
        "Medium shot of Mara, red-haired and freckled, in her yellow raincoat, holding up a lantern",
        "Mara's freckled face in the lantern light",
        &["mara"],
    );
    let elsewhere = shot(
        "A container ship unloads at the docks while cranes swing overhead",
        "Stacks of steel containers under a grey sky",
        &["mara"],
    );
    let score = |s: &Shot| {
        text_consistency(&embedder, s, &[&mara])
            .expect("embed")
            .expect("a character is shown")
    };
    let (good, bad) = (score(&about), score(&elsewhere));
    eprintln!("MiniLM text consistency: describing {good:.3}, elsewhere {bad:.3}");
    assert!((0.0..=1.0).contains(&good) && (0.0..=1.0).contains(&bad));
    assert!(good > bad + 0.1, "describing {good}, elsewhere {bad}");
    // With the same image score, the gate ranks the describing shot's keyframe higher.
    assert!(combined(0.8, Some(good)) > combined(0.8, Some(bad)));
}

#[test]
fn each_character_counts_the_shot_score_is_their_mean() {
    let embedder = embedder();
    let mara = character(
        "mara",
        "Mara",
        "round face, freckles",
        "tall",
        "a yellow raincoat",
        &["a lantern"],
    );
    let ossie = character(
        "ossie",
        "Ossie",
        "square jaw, grey beard",
        "broad-shouldered",
        "a fisherman's jumper",
        &["a fishing net"],
    );
    let s = shot(
        "Mara in a yellow raincoat lifts her lantern",
        "Mara, freckles, rain",
        &["mara", "ossie"],
    );
    let one = |c: &Character| text_consistency(&embedder, &s, &[c]).expect("embed").expect("score");
    let both = text_consistency(&embedder, &s, &[&mara, &ossie])
        .expect("embed")
        .expect("score");
    let (m, o) = (one(&mara), one(&ossie));
    assert!(m > o, "the shot is about Mara: {m} vs {o}");
    assert!((both - (m + o) / 2.0).abs() < 1e-4, "{both} vs {m} and {o}");
}
