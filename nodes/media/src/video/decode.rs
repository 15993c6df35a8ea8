//! H.264 decoding with OpenH264: an Annex-B stream (one clip, or several clips' streams
//! concatenated) back to RGB frames, in order.

use image::RgbImage;
use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig};
use openh264::formats::YUVSource;
use openh264::{OpenH264API, nal_units};

use crate::error::MediaError;

fn to_rgb(yuv: &DecodedYUV<'_>) -> Result<RgbImage, MediaError> {
    let (width, height) = yuv.dimensions();
    let mut rgb = vec![0; width * height * 3];
    yuv.write_rgb8(&mut rgb);
    let width = u32::try_from(width).map_err(|_| MediaError::Failed("decoded frame too wide".into()))?;
    let height = u32::try_from(height).map_err(|_| MediaError::Failed("decoded frame too tall".into()))?;
    RgbImage::from_raw(width, height, rgb).ok_or_else(|| MediaError::Failed("decoded frame has the wrong size".into()))
}

/// Decodes an Annex-B stream frame by frame, handing each frame to `each` as it comes, so a
/// long stream need not be held in memory as RGB. Returns the number of frames decoded.
///
/// Streams may be concatenated: each clip's stream starts with its own SPS, PPS and IDR frame.
///
/// # Errors
///
/// [`MediaError::Invalid`] when the bytes are not a decodable H.264 stream; any error `each`
/// returns, which stops decoding.
pub fn decode_stream_each(
    annex_b: &[u8],
    mut each: impl FnMut(RgbImage) -> Result<(), MediaError>,
) -> Result<u32, MediaError> {
    let mut decoder = Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new())
        .map_err(|e| MediaError::Failed(format!("cannot start the H.264 decoder: {e}")))?;
    let mut count = 0u32;
    for (index, nal) in nal_units(annex_b).enumerate() {
        let decoded = decoder
            .decode(nal)
            .map_err(|e| MediaError::Invalid(format!("H.264 decoding failed at NAL unit {index}: {e}")))?;
        if let Some(yuv) = decoded {
            each(to_rgb(&yuv)?)?;
            count += 1;
        }
    }
    let remaining = decoder
        .flush_remaining()
        .map_err(|e| MediaError::Invalid(format!("H.264 decoding failed at the end of the stream: {e}")))?;
    for yuv in &remaining {
        each(to_rgb(yuv)?)?;
        count += 1;
    }
    Ok(count)
}

/// Decodes an Annex-B stream into its RGB frames, in order.
///
/// # Errors
///
/// [`MediaError::Invalid`] when the bytes are not a decodable H.264 stream.
pub fn decode_stream(annex_b: &[u8]) -> Result<Vec<RgbImage>, MediaError> {
    let mut frames = Vec::new();
    decode_stream_each(annex_b, |frame| {
        frames.push(frame);
        Ok(())
    })?;
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::super::encode::encode_frames;
    use super::*;

    fn frames(n: u32, w: u32, h: u32) -> Vec<RgbImage> {
        (0..n)
            .map(|t| RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 2 + t * 3) as u8, (y * 3) as u8, 120])))
            .collect()
    }

    #[test]
    fn concatenated_streams_decode_as_one() -> Result<(), MediaError> {
        let a = encode_frames(&frames(5, 64, 48), 24)?;
        let b = encode_frames(&frames(7, 64, 48), 24)?;
        let mut joined = a.annex_b.clone();
        joined.extend_from_slice(&b.annex_b);
        let decoded = decode_stream(&joined)?;
        assert_eq!(decoded.len(), 12);
        assert!(decoded.iter().all(|f| f.dimensions() == (64, 48)));
        Ok(())
    }

    #[test]
    fn sizes_that_are_not_macroblock_multiples_come_back_cropped() -> Result<(), MediaError> {
        let decoded = decode_stream(&encode_frames(&frames(3, 70, 38), 24)?.annex_b)?;
        assert_eq!(decoded.len(), 3);
        assert!(decoded.iter().all(|f| f.dimensions() == (70, 38)));
        Ok(())
    }

    #[test]
    fn an_error_from_the_callback_stops_decoding() -> Result<(), MediaError> {
        let stream = encode_frames(&frames(4, 32, 32), 24)?;
        let mut seen = 0;
        let result = decode_stream_each(&stream.annex_b, |_| {
            seen += 1;
            Err(MediaError::Failed("stop".into()))
        });
        assert!(matches!(result, Err(MediaError::Failed(_))));
        assert_eq!(seen, 1);
        Ok(())
    }

    #[test]
    fn empty_input_decodes_to_nothing() -> Result<(), MediaError> {
        assert!(decode_stream(&[])?.is_empty());
        Ok(())
    }
}
