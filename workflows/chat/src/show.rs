//! Showing a stage's content in words, for "show me the outline" and "what's the logline?".

use serde_json::Value;

/// The most lines of a list shown.
const MOST: usize = 8;

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// `items` as `MOST` lines at most, with how many more.
fn listed(items: &[Value], line: impl Fn(&Value) -> String) -> String {
    let mut out: Vec<String> = items.iter().take(MOST).map(line).collect();
    if items.len() > MOST {
        out.push(format!("… and {} more", items.len() - MOST));
    }
    out.join("\n")
}

/// The current value of `node` in words.
pub fn summary(node: &str, value: &Value) -> String {
    match (node, value) {
        ("outline", v) => {
            let beats = v["beats"].as_array().map(Vec::as_slice).unwrap_or_default();
            format!(
                "Logline: {}\nSynopsis: {}\nBeats:\n{}",
                text(&v["logline"]),
                text(&v["synopsis"]),
                listed(beats, |b| format!("- {}", text(&b["summary"])))
            )
        }
        ("characters", Value::Array(cast)) => listed(cast, |c| {
            format!(
                "{} ({}): {}; {}; wears {}",
                text(&c["name"]),
                text(&c["role"]),
                text(&c["static_features"]["face"]),
                text(&c["static_features"]["body"]),
                text(&c["dynamic_features"]["clothing"])
            )
        }),
        ("scenes", Value::Array(scenes)) => listed(scenes, |s| {
            let lines = s["script"].as_array().map_or(0, Vec::len);
            format!("{}: {} ({lines} lines)", text(&s["slugline"]), text(&s["description"]))
        }),
        ("storyboard", Value::Array(shots)) => {
            let seconds: f64 = shots.iter().filter_map(|s| s["duration_s"].as_f64()).sum();
            format!(
                "{} shots, {seconds:.1} s:\n{}",
                shots.len(),
                listed(shots, |s| format!(
                    "{} ({}, {:.1} s): {}",
                    text(&s["id"]),
                    text(&s["camera"]["shot_type"]),
                    s["duration_s"].as_f64().unwrap_or_default(),
                    text(&s["visual_desc"])
                ))
            )
        }
        ("final", v) => format!(
            "The video lasts {:.1} s ({} frames, {} shots).",
            v["duration_s"].as_f64().unwrap_or_default(),
            v["frames"],
            v["shot_ids"].as_array().map_or(0, Vec::len)
        ),
        (_, v) => {
            let json = v.to_string();
            match json.char_indices().nth(400) {
                Some((at, _)) => format!("{}…", &json[..at]),
                None => json,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stages_are_shown_in_words() {
        let outline = json!({"logline": "A keeper vanishes.", "synopsis": "Storms.", "beats": [{"summary": "Gone"}]});
        let shown = summary("outline", &outline);
        assert!(
            shown.starts_with("Logline: A keeper vanishes.") && shown.contains("- Gone"),
            "{shown}"
        );
        let shots: Vec<Value> = (0..10)
            .map(|i| json!({"id": format!("s{i}"), "camera": {"shot_type": "wide"}, "duration_s": 1.5, "visual_desc": "sea"}))
            .collect();
        let board = summary("storyboard", &Value::Array(shots));
        assert!(
            board.starts_with("10 shots, 15.0 s") && board.contains("… and 2 more"),
            "{board}"
        );
        assert!(summary("other", &json!("é".repeat(500))).ends_with('…'));
    }
}
