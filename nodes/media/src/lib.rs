//! Showrunner's media formats: what the stages read and write, with no model and no story in
//! them.
//!
//! - [`video`]: H.264 encode and decode (OpenH264), MP4 mux, demux and info (muxide and a box
//!   reader), Opus (ropus), joins and dissolves.
//! - [`png`]: PNG encode and decode; [`audio`]: resampling, mixing, fades and WAV;
//!   [`subtitles`]: cue layout, WebVTT and SRT.
//!
//! Every failure is a [`MediaError`]: bad input apart from a codec failure, as the backends'
//! errors are, so a stage can say which.

pub mod audio;
mod error;
pub mod png;
pub mod subtitles;
pub mod video;

pub use error::{MediaError, MediaResult};
