//! `fuzz.imports`: calls zato's host imports with the arguments its payload holds.
//!
//! The fuzz targets `host_imports` and `http_request` send it fuzzed payloads, so the
//! fuzzer chooses which imports it calls and with what. The host must answer each call
//! or trap this guest; it must never fail itself. The payload is a script:
//!
//! ```text
//! script = op*            an op is an opcode byte (taken modulo 24) and its arguments
//! bytes  = len:u8 data    len 255: a u16 (little endian) length follows; cut at the end
//! text   = bytes          as UTF-8, invalid sequences replaced
//! ```
//!
//! | opcode | call |
//! |---|---|
//! | 0-3 | `request`: `cid`, `channel-name`, `method`, `path` |
//! | 4-13 | `request`: `header text`, `headers`, `query text`, `query-pairs`, `path-param text`, `path-params`, `detail text`, `details`, `param text`, `params` |
//! | 14 | `log level:u8 text` |
//! | 15, 16 | `config`: `get text`, `get-all` |
//! | 17 | `invoke service:text payload:bytes format:u8` (`fuzz.imports` runs the payload as a script) |
//! | 18 | a large argument: `which:u8 size:u8 fill:u8`, `size` x 4 KiB of `fill` to one import |
//! | 19 | a raw call with canonical ABI arguments (pointers, lengths, enum values) from the script |
//! | 20 | answer `status:u16 count:u8 (name:text value:text)* payload:bytes` |
//! | 21 | fail with the error case `case:u8` and the message `text` |
//! | 22, 23 | nothing |
//!
//! A missing byte reads as 0; a script that runs out answers 200 with the number of
//! bytes the host returned.

/// The bindings of `wit/service.wit`, generated.
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "zato-service",
    });
}

use bindings::exports::zato::service::service::Guest;
use bindings::zato::service::types::{
    DataFormat, Error, Field, FieldType, Request, Response, ServiceInfo,
};
use bindings::zato::service::{config, invoke, log, request};

/// The service name, which `invoke` ops name to run a nested script.
const NAME: &str = "fuzz.imports";

struct Imports;

bindings::export!(Imports with_types_in bindings);

impl Guest for Imports {
    fn handle(request: Request) -> Result<Response, Error> {
        let mut script = Script(&request.payload);
        let mut returned = 0;
        while !script.0.is_empty() {
            match step(&mut script) {
                Step::Read(bytes) => returned += bytes,
                Step::Answer(answer) => return answer,
            }
        }
        Ok(Response {
            status: 200,
            headers: Vec::new(),
            payload: returned.to_string().into_bytes(),
        })
    }

    fn info() -> ServiceInfo {
        ServiceInfo {
            name: NAME.into(),
            description: "Calls zato's host imports with arguments read from its payload".into(),
            // One optional field: a JSON request is validated (it must be an object),
            // a raw one runs as a script.
            input: vec![Field {
                name: "n".into(),
                type_: FieldType::Integer,
                required: false,
            }],
            output: Vec::new(),
            slow_threshold_ms: 0,
        }
    }
}

/// What one op did: bytes the host returned, or the answer of the whole call.
enum Step {
    Read(usize),
    Answer(Result<Response, Error>),
}

fn step(s: &mut Script) -> Step {
    let read = match s.byte() % 24 {
        0 => request::cid().len(),
        1 => request::channel_name().len(),
        2 => size(request::method()),
        3 => size(request::path()),
        4 => size(request::header(&s.text())),
        5 => pairs(request::headers()),
        6 => size(request::query(&s.text())),
        7 => pairs(request::query_pairs()),
        8 => size(request::path_param(&s.text())),
        9 => pairs(request::path_params()),
        10 => size(request::detail(&s.text())),
        11 => pairs(request::details()),
        12 => size(request::param(&s.text())),
        13 => pairs(request::params()),
        14 => {
            let level = level(s.byte());
            log::log(level, &s.text());
            0
        }
        15 => size(config::get(&s.text())),
        16 => pairs(config::get_all()),
        17 => {
            let service = s.text();
            let payload = s.bytes();
            answered(invoke::invoke(&service, payload, format(s.byte())))
        }
        18 => large(s),
        19 => raw::call(s),
        20 => return Step::Answer(Ok(respond(s))),
        21 => return Step::Answer(Err(error(s))),
        _ => 0,
    };
    Step::Read(read)
}

/// One import called with an argument of up to 1 MiB, past every limit the host sets
/// on names and messages.
fn large(s: &mut Script) -> usize {
    let which = s.byte();
    let len = usize::from(s.byte()) * 4096 + 1;
    let fill = s.byte();
    let text = char::from(fill & 0x7f).to_string().repeat(len);
    match which % 8 {
        0 => size(request::header(&text)),
        1 => size(request::query(&text)),
        2 => size(request::detail(&text)),
        3 => size(request::param(&text)),
        4 => {
            log::log(level(fill), &text);
            0
        }
        5 => size(config::get(&text)),
        6 => answered(invoke::invoke(&text, b"", DataFormat::Raw)),
        _ => answered(invoke::invoke(NAME, text.as_bytes(), format(fill))),
    }
}

fn respond(s: &mut Script) -> Response {
    let status = s.u16();
    let headers = (0..s.byte() % 8).map(|_| (s.text(), s.text())).collect();
    Response {
        status,
        headers,
        payload: s.bytes().to_vec(),
    }
}

fn error(s: &mut Script) -> Error {
    let case = s.byte();
    let message = s.text();
    match case % 7 {
        0 => Error::BadRequest(message),
        1 => Error::Unauthorized(message),
        2 => Error::Forbidden(message),
        3 => Error::NotFound(message),
        4 => Error::Conflict(message),
        5 => Error::Retry(message),
        _ => Error::Internal(message),
    }
}

fn level(byte: u8) -> log::Level {
    match byte % 5 {
        0 => log::Level::Trace,
        1 => log::Level::Debug,
        2 => log::Level::Info,
        3 => log::Level::Warn,
        _ => log::Level::Error,
    }
}

fn format(byte: u8) -> DataFormat {
    match byte % 3 {
        0 => DataFormat::Json,
        1 => DataFormat::Xml,
        _ => DataFormat::Raw,
    }
}

fn size(value: Option<String>) -> usize {
    value.map_or(0, |v| v.len())
}

fn pairs(pairs: Vec<(String, String)>) -> usize {
    pairs.iter().map(|(k, v)| k.len() + v.len()).sum()
}

fn answered(result: Result<Response, Error>) -> usize {
    match result {
        Ok(response) => response.payload.len() + pairs(response.headers),
        Err(_) => 1,
    }
}

/// The rest of a payload, read front to back; a missing byte reads as 0.
struct Script<'a>(&'a [u8]);

impl<'a> Script<'a> {
    fn byte(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        *first
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn bytes(&mut self) -> &'a [u8] {
        let len = match self.byte() {
            255 => usize::from(self.u16()),
            len => usize::from(len),
        };
        let (taken, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        taken
    }

    fn text(&mut self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }
}

/// Imports called below the bindings, with canonical ABI arguments from the script:
/// pointers and lengths anywhere (or a valid pointer to bytes that are not UTF-8),
/// enum values out of range, a return area anywhere. The host must trap on each of
/// them rather than read, write or trust what it was handed.
#[allow(unsafe_code)]
mod raw {
    use super::Script;

    #[link(wasm_import_module = "zato:service/request@0.2.1")]
    unsafe extern "C" {
        #[link_name = "header"]
        fn header(name: *mut u8, name_len: usize, ret: *mut u8);
    }

    #[link(wasm_import_module = "zato:service/log@0.2.1")]
    unsafe extern "C" {
        #[link_name = "log"]
        fn log(level: i32, message: *mut u8, message_len: usize);
    }

    #[link(wasm_import_module = "zato:service/config@0.2.1")]
    unsafe extern "C" {
        #[link_name = "get"]
        fn get(key: *mut u8, key_len: usize, ret: *mut u8);
    }

    #[link(wasm_import_module = "zato:service/invoke@0.2.1")]
    unsafe extern "C" {
        #[link_name = "invoke"]
        fn invoke(
            service: *mut u8,
            service_len: usize,
            payload: *mut u8,
            payload_len: usize,
            format: i32,
            ret: *mut u8,
        );
    }

    /// Room for any of these imports' results (`result<response, error>` is the largest).
    #[repr(align(8))]
    struct RetArea([u8; 64]);

    pub(super) fn call(s: &mut Script) -> usize {
        let which = s.byte();
        let mut data = s.bytes().to_vec();
        let mut ret = RetArea([0; 64]);
        let (ptr, len) = pointer(s, &mut data);
        let ret = match s.byte() % 2 {
            0 => ret.0.as_mut_ptr(),
            _ => address(s.u32()),
        };
        // SAFETY: the host checks every pointer and value it is handed, which is what
        // this exercises. A wrong return area it writes to may break this guest, which
        // then traps or answers garbage: either is fine for a fuzzing guest.
        unsafe {
            match which % 4 {
                0 => header(ptr, len, ret),
                1 => log(i32::from(s.byte()), ptr, len),
                2 => get(ptr, len, ret),
                _ => {
                    let (payload, payload_len) = pointer(s, &mut data);
                    invoke(ptr, len, payload, payload_len, i32::from(s.byte()), ret);
                }
            }
        }
        0
    }

    /// The script's bytes as they are (not necessarily UTF-8), or an address and a
    /// length from the script.
    fn pointer(s: &mut Script, data: &mut [u8]) -> (*mut u8, usize) {
        match s.byte() % 2 {
            0 => (data.as_mut_ptr(), data.len()),
            _ => (address(s.u32()), s.u32() as usize),
        }
    }

    fn address(address: u32) -> *mut u8 {
        std::ptr::without_provenance_mut(address as usize)
    }
}
