//! PNG encoding and decoding for the image stages, with fixed settings so the same image always
//! gives the same bytes (content-addressed blobs then deduplicate).

use image::codecs::png::{CompressionType, FilterType, PngDecoder, PngEncoder};
use image::{DynamicImage, ImageEncoder, RgbImage};

use crate::error::MediaError;

/// Encodes an RGB image as PNG: 8-bit RGB, fixed compression and filter, no metadata, so the
/// bytes depend on the pixels alone.
pub fn encode_png(image: &RgbImage) -> Result<Vec<u8>, MediaError> {
    let mut bytes = Vec::new();
    PngEncoder::new_with_quality(&mut bytes, CompressionType::Fast, FilterType::Adaptive)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| MediaError::Failed(format!("png encode: {e}")))?;
    Ok(bytes)
}

/// Decodes a PNG (any colour type) into an 8-bit RGB image. Bytes that are not a valid PNG are
/// an invalid request.
pub fn decode_png(bytes: &[u8]) -> Result<RgbImage, MediaError> {
    let decoder =
        PngDecoder::new(std::io::Cursor::new(bytes)).map_err(|e| MediaError::Invalid(format!("png decode: {e}")))?;
    let image = DynamicImage::from_decoder(decoder).map_err(|e| MediaError::Invalid(format!("png decode: {e}")))?;
    Ok(image.into_rgb8())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RgbImage {
        RgbImage::from_fn(33, 17, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 13) as u8, ((x + y) * 3) as u8])
        })
    }

    #[test]
    fn round_trip_is_lossless_and_deterministic() -> Result<(), MediaError> {
        let img = sample();
        let a = encode_png(&img)?;
        let b = encode_png(&img)?;
        assert_eq!(a, b);
        assert_eq!(&a[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(decode_png(&a)?, img);
        Ok(())
    }

    #[test]
    fn garbage_is_invalid() {
        assert!(matches!(decode_png(b"not a png"), Err(MediaError::Invalid(_))));
    }
}
