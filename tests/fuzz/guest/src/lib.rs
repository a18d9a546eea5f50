//! `fuzz.imports`: calls zato's host imports with the arguments its payload holds.
//!
//! The fuzz targets `host_imports` and `http_request` send it fuzzed payloads, so the
//! fuzzer chooses which imports it calls and with what. The host must answer each call
//! or trap this guest; it must never fail itself. The payload is a script:
//!
//! ```text
//! script = op*            an op is an opcode byte (taken modulo 32) and its arguments
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
//! | 18 | a large argument: `which:u8 size:u8 fill:u8`, `size` x 4 KiB of `fill` to one import (the outgoing connections' too) |
//! | 19 | a raw call with canonical ABI arguments (pointers, lengths, enum values) from the script |
//! | 20 | answer `status:u16 count:u8 (name:text value:text)* payload:bytes` |
//! | 21 | fail with the error case `case:u8` and the message `text` |
//! | 22, 23 | nothing |
//! | 24 | `outgoing-http send conn method:text path:text count:u8 (name:text value:text)* body:bytes` |
//! | 25 | `outgoing-soap call conn action:text body:text` |
//! | 26 | `sql which:u8 conn`, then `sql:text params` (`query`, `execute`) or `count:u8 (sql:text params)*` (`transaction`) |
//! | 27 | `ftp which:u8 conn path:text`, then `data:bytes` (`put`) or `target:text` (`rename`) |
//! | 28-31 | nothing |
//!
//! ```text
//! conn   = text           the connection's name; empty: the fuzz target's connection
//!                         of that type (`http`, `soap`, `sql`, `ftp`)
//! params = count:u8 value*        at most 7
//! value  = kind:u8 ...    null, bool:u8, integer:u64, float:u64 (its bits), text, bytes
//! ```
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
use bindings::zato::service::outgoing_http::HttpRequest;
use bindings::zato::service::sql::{SqlValue, Statement};
use bindings::zato::service::types::{
    DataFormat, Error, Field, FieldType, Request, Response, ServiceInfo,
};
use bindings::zato::service::{
    config, ftp, invoke, log, outgoing_http, outgoing_soap, request, sql,
};

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
    let read = match s.byte() % 32 {
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
        24 => http(s),
        25 => soap(s),
        26 => query(s),
        27 => files(s),
        _ => 0,
    };
    Step::Read(read)
}

/// The connection of an op: the script's name for it, or the fuzz target's connection
/// of that type when the name is empty.
fn connection(s: &mut Script, configured: &str) -> String {
    match s.text() {
        name if name.is_empty() => configured.into(),
        name => name,
    }
}

fn http(s: &mut Script) -> usize {
    let connection = connection(s, "http");
    let request = HttpRequest {
        method: s.text(),
        path: s.text(),
        headers: (0..s.byte()).map(|_| (s.text(), s.text())).collect(),
        body: s.bytes().to_vec(),
    };
    match outgoing_http::send(&connection, &request) {
        Ok(answer) => answer.body.len() + pairs(answer.headers),
        Err(_) => 1,
    }
}

fn soap(s: &mut Script) -> usize {
    let connection = connection(s, "soap");
    let action = s.text();
    let body = s.text();
    outgoing_soap::call(&connection, &action, &body).map_or(1, |answer| answer.len())
}

fn query(s: &mut Script) -> usize {
    let which = s.byte();
    let connection = connection(s, "sql");
    match which % 3 {
        0 => {
            let (statement, params) = (s.text(), params(s));
            match sql::query(&connection, &statement, &params) {
                Ok(rows) => {
                    let values: usize = rows
                        .rows
                        .iter()
                        .map(|row| row.iter().map(value_size).sum::<usize>())
                        .sum();
                    values + rows.columns.iter().map(String::len).sum::<usize>()
                }
                Err(_) => 1,
            }
        }
        1 => {
            let (statement, params) = (s.text(), params(s));
            sql::execute(&connection, &statement, &params)
                .map_or(1, |done| done.rows_affected as usize)
        }
        _ => {
            let statements: Vec<Statement> = (0..s.byte() % 8)
                .map(|_| Statement {
                    sql: s.text(),
                    params: params(s),
                })
                .collect();
            sql::transaction(&connection, &statements).map_or(1, |done| done.len())
        }
    }
}

fn params(s: &mut Script) -> Vec<SqlValue> {
    (0..s.byte() % 8)
        .map(|_| match s.byte() % 6 {
            0 => SqlValue::Null,
            1 => SqlValue::Boolean(s.byte() % 2 == 1),
            2 => SqlValue::Integer(s.u64() as i64),
            3 => SqlValue::Float(f64::from_bits(s.u64())),
            4 => SqlValue::Text(s.text()),
            _ => SqlValue::Bytes(s.bytes().to_vec()),
        })
        .collect()
}

fn value_size(value: &SqlValue) -> usize {
    match value {
        SqlValue::Text(text) => text.len(),
        SqlValue::Bytes(bytes) => bytes.len(),
        _ => 1,
    }
}

fn files(s: &mut Script) -> usize {
    let which = s.byte();
    let connection = connection(s, "ftp");
    let path = s.text();
    match which % 5 {
        0 => ftp::list(&connection, &path).map_or(1, |entries| entries.len()),
        1 => ftp::get(&connection, &path).map_or(1, |data| data.len()),
        2 => ftp::put(&connection, &path, s.bytes()).map_or(1, |()| 0),
        3 => ftp::delete(&connection, &path).map_or(1, |()| 0),
        _ => ftp::rename(&connection, &path, &s.text()).map_or(1, |()| 0),
    }
}

/// One import called with an argument of up to 1 MiB, past every limit the host sets
/// on names and messages.
fn large(s: &mut Script) -> usize {
    let which = s.byte();
    let len = usize::from(s.byte()) * 4096 + 1;
    let fill = s.byte();
    let text = char::from(fill & 0x7f).to_string().repeat(len);
    match which % 16 {
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
        8 => {
            let request = HttpRequest {
                method: "GET".into(),
                path: format!("/{text}"),
                headers: vec![("x-large".into(), text)],
                body: Vec::new(),
            };
            outgoing_http::send("http", &request).map_or(1, |answer| answer.body.len())
        }
        9 => outgoing_soap::call("soap", &text, "<a/>").map_or(1, |answer| answer.len()),
        10 => outgoing_soap::call("soap", "", &format!("<a>{text}</a>"))
            .map_or(1, |answer| answer.len()),
        11 => sql::query("sql", &text, &[SqlValue::Text(text.clone())])
            .map_or(1, |rows| rows.rows.len()),
        12 => ftp::get("ftp", &text).map_or(1, |data| data.len()),
        13 => outgoing_http::send(
            &text,
            &HttpRequest {
                method: "GET".into(),
                path: "/".into(),
                headers: Vec::new(),
                body: Vec::new(),
            },
        )
        .map_or(1, |answer| answer.body.len()),
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

    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
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

    #[link(wasm_import_module = "zato:service/request@0.2.2")]
    unsafe extern "C" {
        #[link_name = "header"]
        fn header(name: *mut u8, name_len: usize, ret: *mut u8);
    }

    #[link(wasm_import_module = "zato:service/log@0.2.2")]
    unsafe extern "C" {
        #[link_name = "log"]
        fn log(level: i32, message: *mut u8, message_len: usize);
    }

    #[link(wasm_import_module = "zato:service/config@0.2.2")]
    unsafe extern "C" {
        #[link_name = "get"]
        fn get(key: *mut u8, key_len: usize, ret: *mut u8);
    }

    #[link(wasm_import_module = "zato:service/invoke@0.2.2")]
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

    #[link(wasm_import_module = "zato:service/outgoing-http@0.2.2")]
    unsafe extern "C" {
        #[link_name = "send"]
        fn send(
            connection: *mut u8,
            connection_len: usize,
            method: *mut u8,
            method_len: usize,
            path: *mut u8,
            path_len: usize,
            headers: *mut u8,
            headers_len: usize,
            body: *mut u8,
            body_len: usize,
            ret: *mut u8,
        );
    }

    #[link(wasm_import_module = "zato:service/outgoing-soap@0.2.2")]
    unsafe extern "C" {
        #[link_name = "call"]
        fn soap_call(
            connection: *mut u8,
            connection_len: usize,
            action: *mut u8,
            action_len: usize,
            body: *mut u8,
            body_len: usize,
            ret: *mut u8,
        );
    }

    #[link(wasm_import_module = "zato:service/sql@0.2.2")]
    unsafe extern "C" {
        #[link_name = "query"]
        fn query(
            connection: *mut u8,
            connection_len: usize,
            sql: *mut u8,
            sql_len: usize,
            params: *mut u8,
            params_len: usize,
            ret: *mut u8,
        );
    }

    #[link(wasm_import_module = "zato:service/ftp@0.2.2")]
    unsafe extern "C" {
        #[link_name = "get"]
        fn ftp_get(
            connection: *mut u8,
            connection_len: usize,
            path: *mut u8,
            path_len: usize,
            ret: *mut u8,
        );
    }

    /// Room for any of these imports' results (`result<string, soap-error>` is the largest).
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
            match which % 8 {
                0 => header(ptr, len, ret),
                1 => log(i32::from(s.byte()), ptr, len),
                2 => get(ptr, len, ret),
                3 => {
                    let (payload, payload_len) = pointer(s, &mut data);
                    invoke(ptr, len, payload, payload_len, i32::from(s.byte()), ret);
                }
                // The lists (headers, SQL parameters) are read element by element from
                // where they point: records of pointers and variant cases from the
                // script.
                4 => {
                    let (method, method_len) = pointer(s, &mut data);
                    let (path, path_len) = pointer(s, &mut data);
                    let (headers, headers_len) = pointer(s, &mut data);
                    let (body, body_len) = pointer(s, &mut data);
                    send(
                        ptr,
                        len,
                        method,
                        method_len,
                        path,
                        path_len,
                        headers,
                        headers_len,
                        body,
                        body_len,
                        ret,
                    );
                }
                5 => {
                    let (action, action_len) = pointer(s, &mut data);
                    let (body, body_len) = pointer(s, &mut data);
                    soap_call(ptr, len, action, action_len, body, body_len, ret);
                }
                6 => {
                    let (sql, sql_len) = pointer(s, &mut data);
                    let (params, params_len) = pointer(s, &mut data);
                    query(ptr, len, sql, sql_len, params, params_len, ret);
                }
                _ => {
                    let (path, path_len) = pointer(s, &mut data);
                    ftp_get(ptr, len, path, path_len, ret);
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
