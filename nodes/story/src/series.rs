//! What a series record holds, and its rules: the bible and the characters as episodes read
//! them under `episode.series`, and how many reference images a character may have.

use serde::{Deserialize, Serialize};
use showrunner_engine::BlobRef;

use crate::model::{Bible, Character, MAX_REFERENCE_IMAGES};

/// A series' content as stored: its bible and its regular characters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesContent {
    /// The bible.
    pub bible: Bible,
    /// The regular characters.
    pub characters: Vec<Character>,
}

/// Why a reference image cannot be added to a series' character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The series has no character with this id.
    #[error("the series has no character `{0}`")]
    NoCharacter(String),
    /// The character has as many reference images as a character may.
    #[error("`{character}` already has {MAX_REFERENCE_IMAGES} reference images, the most a character may have")]
    Full {
        /// The character's id.
        character: String,
        /// Its position among the series' characters.
        index: usize,
    },
}

impl SeriesContent {
    /// The position of the character `id` if it has room for one more reference image.
    ///
    /// # Errors
    ///
    /// [`ReferenceError`]: no such character, or it has [`MAX_REFERENCE_IMAGES`] already.
    pub fn room_for_reference(&self, id: &str) -> Result<usize, ReferenceError> {
        let index = self
            .characters
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(|| ReferenceError::NoCharacter(id.to_owned()))?;
        if self.characters[index].reference_images.len() >= MAX_REFERENCE_IMAGES {
            return Err(ReferenceError::Full {
                character: id.to_owned(),
                index,
            });
        }
        Ok(index)
    }

    /// Adds `reference` to the character `id`'s reference images (once: an image it has
    /// already is not added again).
    ///
    /// # Errors
    ///
    /// As [`SeriesContent::room_for_reference`].
    pub fn add_reference(&mut self, id: &str, reference: BlobRef) -> Result<(), ReferenceError> {
        let index = self.room_for_reference(id)?;
        let references = &mut self.characters[index].reference_images;
        if !references.contains(&reference) {
            references.push(reference);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use showrunner_engine::ContentHash;

    use super::*;
    use crate::model::SeriesSheet;

    #[test]
    fn a_character_takes_three_reference_images_once_each() {
        let sheet: SeriesSheet =
            serde_json::from_value(serde_json::json!({"characters": [{"name": "Milo"}]})).expect("a sheet");
        let mut content = sheet.into_content().expect("content");
        let image = |n: u8| BlobRef(ContentHash::of(&[n]));
        assert_eq!(content.room_for_reference("milo"), Ok(0));
        assert_eq!(
            content.add_reference("nobody", image(1)),
            Err(ReferenceError::NoCharacter("nobody".into()))
        );
        for n in [1, 1, 2, 3] {
            content.add_reference("milo", image(n)).expect("room");
        }
        assert_eq!(
            content.characters[0].reference_images,
            vec![image(1), image(2), image(3)]
        );
        assert_eq!(
            content.add_reference("milo", image(4)),
            Err(ReferenceError::Full {
                character: "milo".into(),
                index: 0
            })
        );
    }
}
