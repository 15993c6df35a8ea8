//! Content hashes of JSON values and input fingerprints.
//!
//! Hashes are taken over a canonical encoding (object keys sorted, no whitespace), so they do not
//! depend on how a value was built or on serde_json's map ordering features.

use serde_json::Value;

use crate::ids::ContentHash;
use crate::record::ReadKey;

fn feed(h: &mut blake3::Hasher, v: &Value) {
    match v {
        Value::Null => {
            h.update(b"n");
        }
        Value::Bool(b) => {
            h.update(if *b { b"t" } else { b"f" });
        }
        Value::Number(n) => {
            h.update(b"#");
            h.update(n.to_string().as_bytes());
            h.update(b";");
        }
        Value::String(s) => {
            h.update(b"s");
            h.update(&(s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
        Value::Array(a) => {
            h.update(b"[");
            h.update(&(a.len() as u64).to_le_bytes());
            a.iter().for_each(|v| feed(h, v));
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            h.update(b"{");
            h.update(&(keys.len() as u64).to_le_bytes());
            for k in keys {
                h.update(&(k.len() as u64).to_le_bytes());
                h.update(k.as_bytes());
                feed(h, &o[k]);
            }
        }
    }
}

/// The content hash of a JSON value.
pub fn value_hash(value: &Value) -> ContentHash {
    let mut h = blake3::Hasher::new();
    feed(&mut h, value);
    ContentHash(*h.finalize().as_bytes())
}

/// The input fingerprint of a run: the node's declared version, the item, and every input read
/// with its content hash (sorted, so the order of reads does not matter).
pub fn fingerprint(node_version: &str, item: Option<&str>, reads: &[(ReadKey, ContentHash)]) -> ContentHash {
    let mut sorted: Vec<&(ReadKey, ContentHash)> = reads.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = blake3::Hasher::new();
    h.update(node_version.as_bytes());
    h.update(&[0]);
    h.update(item.unwrap_or("").as_bytes());
    h.update(&[0]);
    for (key, hash) in sorted {
        h.update(key.node.as_bytes());
        h.update(&[1]);
        h.update(key.item.as_deref().unwrap_or("").as_bytes());
        h.update(&[2]);
        h.update(&hash.0);
    }
    ContentHash(*h.finalize().as_bytes())
}

/// The hash of a whole map node: its items' ids and approved hashes, in id order.
pub fn map_hash<'a>(items: impl Iterator<Item = (&'a str, ContentHash)>) -> ContentHash {
    let mut h = blake3::Hasher::new();
    for (id, hash) in items {
        h.update(&(id.len() as u64).to_le_bytes());
        h.update(id.as_bytes());
        h.update(&hash.0);
    }
    ContentHash(*h.finalize().as_bytes())
}

/// A run's seed: derived from the episode's seed, the instance, the regeneration count and the
/// candidate index, so a crash-retry repeats its seed and a regenerate changes it.
pub fn derive_seed(episode_seed: u64, node: &str, item: Option<&str>, generation: u32, candidate: u32) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(&episode_seed.to_le_bytes());
    h.update(node.as_bytes());
    h.update(&[0]);
    h.update(item.unwrap_or("").as_bytes());
    h.update(&[0]);
    h.update(&generation.to_le_bytes());
    h.update(&candidate.to_le_bytes());
    let bytes = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_matter() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":[1,2,{"x":"y","w":null}]}"#).expect("json");
        let b: Value = serde_json::from_str(r#"{"b":[1,2,{"w":null,"x":"y"}],"a":1}"#).expect("json");
        assert_eq!(value_hash(&a), value_hash(&b));
        assert_ne!(value_hash(&a), value_hash(&json!({"a": 1})));
    }

    #[test]
    fn strings_cannot_collide_by_concatenation() {
        assert_ne!(value_hash(&json!(["ab", "c"])), value_hash(&json!(["a", "bc"])));
    }
}
