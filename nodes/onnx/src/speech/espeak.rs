//! espeak-ng's C API, loaded at run time: text to IPA phonemes, one clause at a time, as Piper
//! phonemizes.
//!
//! The library comes from the registry's `espeak-ng` install (the PyPI package
//! `espeakng-loader`: `libespeak-ng.so.1.52.0` and its `espeak-ng-data`), opened with
//! `libloading`; nothing is linked at build time and no system espeak-ng is needed.
//!
//! espeak-ng keeps its state in globals (the data folder, the voice, the clause reader): a
//! process has one, initialised once, and every call goes through one mutex. The library is
//! never unloaded (it lives in a `static`), so the function pointers taken from it stay valid.
//!
//! `espeak_TextToPhonemes` returns the phonemes of one clause and moves the text pointer past
//! it, without saying which punctuation ended the clause (Piper's own build of espeak-ng has a
//! `WithTerminator` variant for that; the stock library has not). [`Clause::text`] keeps the
//! text each call consumed, and [`super::phonemes`] reads the terminator from it.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use libloading::Library;

use super::SpeechError;
use showrunner_models::{Registry, Role};

/// The registry's name for espeak-ng.
pub const ESPEAK_MODEL: &str = "espeak-ng";

/// `espeakCHARS_UTF8`: the text is UTF-8.
const CHARS_UTF8: c_int = 1;
/// `espeakPHONEMES_IPA`: phonemes as IPA characters (UTF-8).
const PHONEMES_IPA: c_int = 0x02;
/// `ENOUTPUT_MODE_SYNCHRONOUS`: no audio device, no thread.
const OUTPUT_SYNCHRONOUS: c_int = 0x0001;
/// `ENS_OK`.
const STATUS_OK: u32 = 0;

/// `espeak_ng_STATUS` (a C enum: an `int`-sized code, `ENS_OK` = 0).
type Status = u32;

/// The functions used, taken from the library once.
struct Api {
    initialize_path: unsafe extern "C" fn(*const c_char),
    initialize: unsafe extern "C" fn(*mut *mut c_void) -> Status,
    initialize_output: unsafe extern "C" fn(c_int, c_int, *const c_char) -> Status,
    set_voice_by_name: unsafe extern "C" fn(*const c_char) -> Status,
    text_to_phonemes: unsafe extern "C" fn(*mut *const c_void, c_int, c_int) -> *const c_char,
    status_message: unsafe extern "C" fn(Status, *mut c_char, usize),
    clear_error_context: unsafe extern "C" fn(*mut *mut c_void),
}

/// The library's mutable state: the voice set last.
struct State {
    api: Api,
    voice: Option<String>,
}

/// One clause as espeak-ng read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// Its phonemes, IPA, words separated by spaces (stress marks included).
    pub phonemes: String,
    /// The text the call consumed: the clause, its punctuation, and the first character or so of
    /// the next clause (espeak-ng reads ahead to decide where a clause ends).
    pub text: String,
}

/// espeak-ng, loaded and initialised: the process's one instance.
pub struct Espeak {
    state: Mutex<State>,
    library: PathBuf,
    data: PathBuf,
    /// Keeps the code the function pointers point into; never dropped (the value lives in a
    /// `static`).
    _library: Library,
}

impl std::fmt::Debug for Espeak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Espeak")
            .field("library", &self.library)
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

static ESPEAK: OnceLock<Espeak> = OnceLock::new();
static LOADING: Mutex<()> = Mutex::new(());

impl Espeak {
    /// espeak-ng from the registry's verified `espeak-ng` install: the library is its main file,
    /// the data folder the one holding its `phontab`.
    pub fn from_registry(registry: &Registry) -> Result<&'static Espeak, SpeechError> {
        if let Some(espeak) = ESPEAK.get() {
            return Ok(espeak);
        }
        let model = registry.require(ESPEAK_MODEL, Role::Phonemizer)?;
        let phontab = model.file("phontab")?;
        let data = phontab.parent().unwrap_or(Path::new("."));
        Espeak::load(&model.main_file()?, data)
    }

    /// Loads the library at `library` and initialises it with the data folder `data` (the one
    /// holding `phontab`, `phondata`, the `*_dict` files and `lang/`), once: a later call gets
    /// the instance already loaded, whatever paths it names (a process holds one espeak-ng).
    pub fn load(library: &Path, data: &Path) -> Result<&'static Espeak, SpeechError> {
        if let Some(espeak) = ESPEAK.get() {
            return Ok(espeak);
        }
        let _guard = LOADING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(espeak) = ESPEAK.get() {
            return Ok(espeak);
        }
        let failed = |message: String| SpeechError::Espeak {
            library: library.to_owned(),
            message,
        };
        // SAFETY: loading a library runs its initialisers; libespeak-ng's are the C++ runtime's
        // static constructors, which have no preconditions on the caller.
        let lib = unsafe { Library::new(library) }.map_err(|e| failed(e.to_string()))?;
        let api = Api::take(&lib).map_err(|e| failed(format!("not espeak-ng: {e}")))?;
        let data_c = CString::new(data.as_os_str().as_encoded_bytes())
            .map_err(|_| failed(format!("the data path {} holds a NUL byte", data.display())))?;
        // SAFETY: the path is a NUL-terminated string that espeak-ng copies; the output mode
        // needs no device name (null) in synchronous mode. Nothing else runs espeak-ng now (we
        // hold LOADING and ESPEAK is unset).
        unsafe {
            (api.initialize_path)(data_c.as_ptr());
            let mut context: *mut c_void = std::ptr::null_mut();
            let status = (api.initialize)(&mut context);
            (api.clear_error_context)(&mut context);
            if status != STATUS_OK {
                return Err(failed(format!(
                    "initialising with the data in {}: {}",
                    data.display(),
                    api.message(status)
                )));
            }
            let status = (api.initialize_output)(OUTPUT_SYNCHRONOUS, 0, std::ptr::null());
            if status != STATUS_OK {
                return Err(failed(format!("initialising its output: {}", api.message(status))));
            }
        }
        let espeak = Espeak {
            state: Mutex::new(State { api, voice: None }),
            library: library.to_owned(),
            data: data.to_owned(),
            _library: lib,
        };
        Ok(ESPEAK.get_or_init(|| espeak))
    }

    /// The library file it was loaded from.
    pub fn library(&self) -> &Path {
        &self.library
    }

    /// The clauses of `text` in the espeak-ng voice `voice` (`en-us`), each with its IPA
    /// phonemes and the text it consumed. NUL characters in the text are read as spaces.
    pub fn clauses(&self, text: &str, voice: &str) -> Result<Vec<Clause>, SpeechError> {
        let failed = |message: String| SpeechError::Espeak {
            library: self.library.clone(),
            message,
        };
        let text = CString::new(text.replace('\0', " ")).map_err(|_| failed("the text holds a NUL byte".into()))?;
        let bytes = text.as_bytes();
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.voice.as_deref() != Some(voice) {
            let name = CString::new(voice).map_err(|_| failed(format!("bad voice name {voice:?}")))?;
            // SAFETY: a NUL-terminated name; the state lock serialises every espeak-ng call.
            let status = unsafe { (state.api.set_voice_by_name)(name.as_ptr()) };
            if status != STATUS_OK {
                state.voice = None;
                return Err(failed(format!("no voice {voice:?}: {}", state.api.message(status))));
            }
            state.voice = Some(voice.to_owned());
        }
        let base = text.as_ptr();
        let mut cursor: *const c_void = base.cast();
        let mut clauses = Vec::new();
        while !cursor.is_null() {
            let start = (cursor as usize).wrapping_sub(base as usize);
            // SAFETY: `cursor` points into `text` (NUL-terminated, alive until the end of this
            // function): at its start, or where the previous call left it (checked below to lie
            // inside the text). The returned string is espeak-ng's own buffer, copied out before
            // the next call; the state lock serialises every espeak-ng call.
            let phonemes = unsafe {
                let out = (state.api.text_to_phonemes)(&mut cursor, CHARS_UTF8, PHONEMES_IPA);
                if out.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(out).to_string_lossy().into_owned()
                }
            };
            let end = if cursor.is_null() {
                bytes.len()
            } else {
                (cursor as usize).wrapping_sub(base as usize)
            };
            if end <= start && !cursor.is_null() || end > bytes.len() {
                return Err(failed(format!(
                    "espeak_TextToPhonemes moved from byte {start} to {end} of {}",
                    bytes.len()
                )));
            }
            let consumed = bytes.get(start..end).unwrap_or_default();
            clauses.push(Clause {
                phonemes,
                text: String::from_utf8_lossy(consumed).into_owned(),
            });
        }
        Ok(clauses)
    }
}

impl Api {
    /// Takes every function from `lib`.
    fn take(lib: &Library) -> Result<Api, libloading::Error> {
        // SAFETY: each symbol is looked up by its exported name and given the signature of its
        // declaration in espeak-ng's `speak_lib.h` / `espeak_ng.h` (1.52): enums are `int`-sized,
        // `espeak_ng_ERROR_CONTEXT` is a pointer. The pointers are used only while `lib` lives.
        unsafe {
            Ok(Api {
                initialize_path: *lib.get(b"espeak_ng_InitializePath\0")?,
                initialize: *lib.get(b"espeak_ng_Initialize\0")?,
                initialize_output: *lib.get(b"espeak_ng_InitializeOutput\0")?,
                set_voice_by_name: *lib.get(b"espeak_ng_SetVoiceByName\0")?,
                text_to_phonemes: *lib.get(b"espeak_TextToPhonemes\0")?,
                status_message: *lib.get(b"espeak_ng_GetStatusCodeMessage\0")?,
                clear_error_context: *lib.get(b"espeak_ng_ClearErrorContext\0")?,
            })
        }
    }

    /// espeak-ng's message for a status code.
    fn message(&self, status: Status) -> String {
        let mut buffer = [0 as c_char; 512];
        // SAFETY: espeak-ng writes at most `buffer.len()` bytes into the buffer.
        unsafe { (self.status_message)(status, buffer.as_mut_ptr(), buffer.len()) };
        let bytes = buffer.map(|c| c as u8);
        let text = CStr::from_bytes_until_nul(&bytes).map_or_else(
            |_| String::from_utf8_lossy(&bytes).into_owned(),
            |text| text.to_string_lossy().into_owned(),
        );
        format!("{text} (status {status:#x})")
    }
}
