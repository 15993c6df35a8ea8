//! The procedural embedder: feature hashing of words and character trigrams into a fixed-size
//! unit vector. No weights; related texts (shared words) land close together, which is what the
//! keyword fallbacks need until real embeddings are installed.

pub use showrunner_backend::cosine;
use showrunner_backend::{BackendResult, Embedder};
use showrunner_story::model::Generator;
use showrunner_story::rng::hash_str;

/// Dimensions of the hashed vectors.
pub const DIMENSIONS: usize = 256;

/// Hashed bag of words and trigrams.
#[derive(Debug, Default, Clone, Copy)]
pub struct HashedEmbedder;

fn add(vector: &mut [f32], feature: &str, weight: f32) {
    let h = hash_str(feature);
    let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
    vector[(h % DIMENSIONS as u64) as usize] += sign * weight;
}

/// The unit vector of one text.
pub fn embed_one(text: &str) -> Vec<f32> {
    let mut vector = vec![0.0f32; DIMENSIONS];
    let lower = text.to_lowercase();
    for word in lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        add(&mut vector, word, 1.0);
        let padded: Vec<char> = format!(" {word} ").chars().collect();
        for gram in padded.windows(3) {
            add(&mut vector, &gram.iter().collect::<String>(), 0.3);
        }
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

impl Embedder for HashedEmbedder {
    fn generator(&self) -> Generator {
        Generator {
            backend: "procedural".into(),
            model: "hashed-trigrams-256".into(),
            seed: 0,
        }
    }

    fn embed(&self, texts: &[&str]) -> BackendResult<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| embed_one(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn related_texts_are_closer_than_unrelated_ones() {
        let v = HashedEmbedder.embed(&[
            "approve the storyboard",
            "approve storyboard now",
            "the harbour at night",
        ]);
        let v = v.expect("embed");
        assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]));
        assert!((cosine(&v[0], &v[0]) - 1.0).abs() < 1e-5);
        assert_eq!(embed_one(""), vec![0.0; DIMENSIONS]);
    }
}
