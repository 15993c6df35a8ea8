//! H.264 encoding with OpenH264: RGB frames in, an Annex-B stream with per-frame boundaries out.
//!
//! The encoder runs single-threaded at a constant quantiser (QP 26, rate control off), with frame
//! skipping, scene-change and background detection off, at OpenH264's low-complexity (fastest)
//! setting. That makes the output a function of the frames alone: the same frames give the same
//! bytes, every frame gives exactly one access unit, and nothing depends on timing or load.
//! The stream is Constrained Baseline (OpenH264's only profile for this use), with an IDR frame
//! (carrying SPS and PPS) every two seconds, and BT.601 limited-range colour signalled in the
//! VUI, which is what OpenH264's RGB→YUV conversion produces.

use image::RgbImage;
use openh264::encoder::{
    Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode, UsageType, VuiConfig,
};
use openh264::formats::{RgbSliceU8, YUVBuffer};
use openh264::{OpenH264API, Timestamp};

use crate::error::MediaError;

/// The largest frame side OpenH264 encodes (level 5.2: 3840×2160 either way round).
const MAX_LONG_SIDE: u32 = 3840;
/// The largest short side OpenH264 encodes.
const MAX_SHORT_SIDE: u32 = 2160;
/// The highest frame rate accepted.
const MAX_FPS: u32 = 240;
/// Seconds between IDR frames (seek points).
const IDR_INTERVAL_S: u32 = 2;

/// One encoded frame (an access unit) inside [`EncodedStream::annex_b`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedFrame {
    /// Byte offset of the frame's first start code in the stream.
    pub offset: usize,
    /// Length in bytes of all the frame's NAL units, start codes included.
    pub len: usize,
    /// Whether the frame is an IDR frame (a sync sample), which also carries SPS and PPS.
    pub keyframe: bool,
}

/// An H.264 Annex-B stream with the boundaries of its frames, in display (= decode) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedStream {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// The whole stream: start-code-prefixed NAL units, frame after frame.
    pub annex_b: Vec<u8>,
    /// Where each frame lies in [`annex_b`](Self::annex_b), in order.
    pub frames: Vec<EncodedFrame>,
}

impl EncodedStream {
    /// The number of frames.
    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }

    /// The stream's length in seconds: frames / fps.
    pub fn duration_s(&self) -> f64 {
        if self.fps == 0 {
            return 0.0;
        }
        self.frames.len() as f64 / f64::from(self.fps)
    }

    /// The bytes of frame `index` (its NAL units with start codes), or `None` past the end.
    pub fn frame_bytes(&self, index: usize) -> Option<&[u8]> {
        let frame = self.frames.get(index)?;
        self.annex_b.get(frame.offset..frame.offset + frame.len)
    }

    /// Splits an existing Annex-B stream (for example a stored clip's stream, or several clips'
    /// streams concatenated) into frames, for muxing without re-encoding.
    ///
    /// Parameter sets, SEI and delimiters are attached to the frame that follows them; a slice
    /// NAL unit (type 1 or 5) whose `first_mb_in_slice` is 0 starts a new frame, so multi-slice
    /// pictures stay whole. A frame is a keyframe when it holds an IDR slice.
    ///
    /// # Errors
    ///
    /// [`MediaError::Invalid`] when the size or rate is unusable (see [`H264Encoder::new`]) or
    /// the bytes hold no slice at all.
    pub fn parse_annex_b(annex_b: Vec<u8>, width: u32, height: u32, fps: u32) -> Result<Self, MediaError> {
        check_format(width, height, fps)?;
        let mut frames: Vec<EncodedFrame> = Vec::new();
        // Start of the non-VCL units waiting for the next frame.
        let mut pending: Option<usize> = None;
        for (start, header) in nal_starts(&annex_b) {
            let nal_type = annex_b.get(header).map_or(0, |b| b & 0x1f);
            match nal_type {
                1 | 5 => {
                    let first_mb_zero = annex_b.get(header + 1).is_some_and(|b| b & 0x80 != 0);
                    match frames.last_mut() {
                        Some(frame) if !first_mb_zero && pending.is_none() => frame.keyframe |= nal_type == 5,
                        _ => {
                            let offset = pending.take().unwrap_or(start);
                            frames.push(EncodedFrame {
                                offset,
                                len: 0,
                                keyframe: nal_type == 5,
                            });
                        }
                    }
                }
                _ => {
                    if pending.is_none() {
                        pending = Some(start);
                    }
                }
            }
        }
        if frames.is_empty() {
            return Err(MediaError::Invalid("the H.264 stream holds no slice".into()));
        }
        // Each frame runs to the next frame's start; the last one to the end of the stream.
        let ends: Vec<usize> = frames.iter().skip(1).map(|f| f.offset).chain([annex_b.len()]).collect();
        for (frame, end) in frames.iter_mut().zip(ends) {
            frame.len = end - frame.offset;
        }
        Ok(Self {
            width,
            height,
            fps,
            annex_b,
            frames,
        })
    }
}

/// `(start code offset, NAL header offset)` of every NAL unit in an Annex-B stream.
fn nal_starts(data: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 2 < data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            let start = if i > 0 && data[i - 1] == 0 { i - 1 } else { i };
            out.push((start, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    out
}

/// Checks that a frame format can be encoded: even, non-zero sides within OpenH264's limits,
/// and a frame rate in `1..=240`.
pub fn check_format(width: u32, height: u32, fps: u32) -> Result<(), MediaError> {
    if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
        return Err(MediaError::Invalid(format!(
            "H.264 (4:2:0) needs even, non-zero frame sides; got {width}×{height}"
        )));
    }
    if width.max(height) > MAX_LONG_SIDE || width.min(height) > MAX_SHORT_SIDE {
        return Err(MediaError::Invalid(format!(
            "frame size {width}×{height} is over OpenH264's limit of 3840×2160"
        )));
    }
    if fps == 0 || fps > MAX_FPS {
        return Err(MediaError::Invalid(format!(
            "frame rate {fps} is outside 1..={MAX_FPS} fps"
        )));
    }
    Ok(())
}

/// An OpenH264 encoder for one stream of RGB frames of a fixed size and rate.
///
/// Feed frames with [`push`](Self::push) (they may be generated one at a time, so a long video
/// need not be held in memory as RGB) and take the stream with [`finish`](Self::finish).
pub struct H264Encoder {
    encoder: Encoder,
    yuv: YUVBuffer,
    stream: EncodedStream,
}

impl std::fmt::Debug for H264Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Encoder")
            .field("width", &self.stream.width)
            .field("height", &self.stream.height)
            .field("fps", &self.stream.fps)
            .field("frames", &self.stream.frames.len())
            .finish_non_exhaustive()
    }
}

impl H264Encoder {
    /// An encoder for `width`×`height` frames at `fps` frames per second.
    ///
    /// # Errors
    ///
    /// [`MediaError::Invalid`] for odd or zero sides, sizes over 3840×2160, or a frame rate
    /// outside `1..=240`; [`MediaError::Failed`] when OpenH264 cannot start.
    pub fn new(width: u32, height: u32, fps: u32) -> Result<Self, MediaError> {
        check_format(width, height, fps)?;
        let config = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Off)
            .skip_frames(false)
            .max_frame_rate(FrameRate::from_hz(fps as f32))
            .complexity(Complexity::Low)
            .scene_change_detect(false)
            .background_detection(false)
            .adaptive_quantization(false)
            .intra_frame_period(IntraFramePeriod::from_num_frames(fps * IDR_INTERVAL_S))
            .num_threads(1)
            .vui(VuiConfig::bt601());
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| MediaError::Failed(format!("cannot start the H.264 encoder: {e}")))?;
        Ok(Self {
            encoder,
            yuv: YUVBuffer::new(width as usize, height as usize),
            stream: EncodedStream {
                width,
                height,
                fps,
                annex_b: Vec::new(),
                frames: Vec::new(),
            },
        })
    }

    /// Encodes the next frame and appends it to the stream.
    ///
    /// # Errors
    ///
    /// [`MediaError::Invalid`] when the frame's size is not the encoder's;
    /// [`MediaError::Failed`] when OpenH264 fails or gives no output for the frame.
    pub fn push(&mut self, frame: &RgbImage) -> Result<(), MediaError> {
        let (width, height) = (self.stream.width, self.stream.height);
        if frame.dimensions() != (width, height) {
            return Err(MediaError::Invalid(format!(
                "frame {} is {}×{}, the stream is {width}×{height}",
                self.stream.frames.len(),
                frame.width(),
                frame.height()
            )));
        }
        self.yuv
            .read_rgb8(RgbSliceU8::new(frame.as_raw(), (width as usize, height as usize)));
        let index = self.stream.frames.len() as u64;
        let millis = index * 1000 / u64::from(self.stream.fps);
        let encoded = self
            .encoder
            .encode_at(&self.yuv, Timestamp::from_millis(millis))
            .map_err(|e| MediaError::Failed(format!("H.264 encoding failed at frame {index}: {e}")))?;
        let keyframe = encoded.frame_type() == FrameType::IDR;
        let offset = self.stream.annex_b.len();
        encoded.write_vec(&mut self.stream.annex_b);
        let len = self.stream.annex_b.len() - offset;
        if len == 0 {
            return Err(MediaError::Failed(format!(
                "the H.264 encoder gave no output for frame {index}"
            )));
        }
        self.stream.frames.push(EncodedFrame { offset, len, keyframe });
        Ok(())
    }

    /// The frames encoded so far.
    pub fn frame_count(&self) -> usize {
        self.stream.frames.len()
    }

    /// Ends the stream and returns it.
    pub fn finish(self) -> EncodedStream {
        self.stream
    }
}

/// Encodes `frames` (all of one even size) at `fps` into an Annex-B stream.
///
/// # Errors
///
/// [`MediaError::Invalid`] for no frames, frames of different or odd sizes, or a bad frame
/// rate; [`MediaError::Failed`] when OpenH264 fails.
pub fn encode_frames(frames: &[RgbImage], fps: u32) -> Result<EncodedStream, MediaError> {
    let Some(first) = frames.first() else {
        return Err(MediaError::Invalid("no frames to encode".into()));
    };
    let mut encoder = H264Encoder::new(first.width(), first.height(), fps)?;
    for frame in frames {
        encoder.push(frame)?;
    }
    Ok(encoder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(width: u32, height: u32, t: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x + t) as u8, (y * 2) as u8, ((x + y) / 2) as u8])
        })
    }

    #[test]
    fn odd_and_empty_sizes_are_refused_with_a_clear_error() {
        for (w, h) in [(321, 240), (320, 241), (0, 240), (4000, 2000)] {
            match H264Encoder::new(w, h, 24) {
                Err(MediaError::Invalid(msg)) => assert!(msg.contains(&format!("{w}×{h}")), "{msg}"),
                other => panic!("{w}×{h}: expected Invalid, got {other:?}"),
            }
        }
        assert!(matches!(H264Encoder::new(320, 240, 0), Err(MediaError::Invalid(_))));
        let odd = vec![RgbImage::new(33, 32)];
        assert!(matches!(encode_frames(&odd, 24), Err(MediaError::Invalid(_))));
        assert!(matches!(encode_frames(&[], 24), Err(MediaError::Invalid(_))));
    }

    #[test]
    fn a_frame_of_the_wrong_size_is_refused() -> Result<(), MediaError> {
        let mut encoder = H264Encoder::new(64, 48, 24)?;
        encoder.push(&frame(64, 48, 0))?;
        assert!(matches!(encoder.push(&frame(48, 64, 1)), Err(MediaError::Invalid(_))));
        assert_eq!(encoder.frame_count(), 1);
        Ok(())
    }

    #[test]
    fn output_is_deterministic_with_one_access_unit_per_frame() -> Result<(), MediaError> {
        let frames: Vec<RgbImage> = (0..30).map(|t| frame(96, 64, t)).collect();
        let a = encode_frames(&frames, 12)?;
        let b = encode_frames(&frames, 12)?;
        assert_eq!(a, b);
        assert_eq!(a.frame_count(), 30);
        // IDR every two seconds: frames 0 and 24.
        let keyframes: Vec<usize> = a
            .frames
            .iter()
            .enumerate()
            .filter(|(_, f)| f.keyframe)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(keyframes, vec![0, 24]);
        // Frames tile the stream exactly.
        let mut end = 0;
        for f in &a.frames {
            assert_eq!(f.offset, end);
            end += f.len;
        }
        assert_eq!(end, a.annex_b.len());
        assert!((a.duration_s() - 2.5).abs() < 1e-9);
        Ok(())
    }

    #[test]
    fn parsing_the_annex_b_stream_finds_the_same_frames() -> Result<(), MediaError> {
        let frames: Vec<RgbImage> = (0..30).map(|t| frame(96, 64, t)).collect();
        let encoded = encode_frames(&frames, 12)?;
        let parsed = EncodedStream::parse_annex_b(encoded.annex_b.clone(), 96, 64, 12)?;
        assert_eq!(parsed, encoded);
        // Two streams back to back parse as one.
        let mut joined = encoded.annex_b.clone();
        joined.extend_from_slice(&encoded.annex_b);
        let parsed = EncodedStream::parse_annex_b(joined, 96, 64, 12)?;
        assert_eq!(parsed.frame_count(), 60);
        assert_eq!(parsed.frames.iter().filter(|f| f.keyframe).count(), 4);
        assert!(matches!(
            EncodedStream::parse_annex_b(vec![0, 0, 1, 0x67], 96, 64, 12),
            Err(MediaError::Invalid(_))
        ));
        Ok(())
    }
}
