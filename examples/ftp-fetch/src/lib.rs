//! `demo.ftp-fetch`: files on an FTP server through the outgoing FTP connection
//! `files`, one operation per HTTP method.
//!
//! - `GET /demo/ftp?path=/in/orders.csv` answers the file's content;
//! - `GET /demo/ftp?path=/in/orders.csv&summary=1` answers `{"path": ..., "bytes": 120,
//!   "lines": 3, "first_line": "id,total"}` instead;
//! - `GET /demo/ftp?dir=/in` lists a directory: `{"entries": [{"name": "orders.csv",
//!   "size": 120, "is_dir": false, "modified": "..."}]}`;
//! - `PUT /demo/ftp?path=/out/a.txt` stores the request's payload there;
//! - `POST /demo/ftp` with `{"from": "/in/a.csv", "to": "/done/a.csv"}` renames;
//! - `DELETE /demo/ftp?path=/done/a.csv` deletes.
//!
//! Every path is under the connection's base directory: one that would leave it
//! (`../etc/passwd`) is refused by the host with a 400 naming it, before anything is
//! sent. Its configuration (editable at run time) may name another connection
//! (`connection`).

use serde::Deserialize;
use zato_sdk::ftp;
use zato_sdk::prelude::*;

/// The connection used when the `connection` key is not set.
const DEFAULT_CONNECTION: &str = "files";

/// A rename as a request gives it.
#[derive(Deserialize)]
struct Rename {
    from: String,
    to: String,
}

/// Fetches, stores, lists, renames and deletes files over FTP.
#[zato_sdk::service(
    name = "demo.ftp-fetch",
    description = "Fetches a file through the outgoing FTP connection `files` (and stores, lists, renames, deletes)"
)]
fn fetch(req: Request) -> Result<Response, Error> {
    let connection = config::get_or("connection", DEFAULT_CONNECTION);
    let path = || {
        req.query("path")
            .ok_or_else(|| Error::bad_request("`path` is required, e.g. `?path=/in/orders.csv`"))
    };
    match req.method().unwrap_or("GET") {
        "GET" => {
            if let Some(dir) = req.query("dir") {
                let entries: Vec<_> = ftp::list(&connection, dir)?
                    .into_iter()
                    .map(|e| {
                        serde_json::json!({
                            "name": e.name, "size": e.size, "is_dir": e.is_dir, "modified": e.modified,
                        })
                    })
                    .collect();
                return Response::json(&serde_json::json!({ "entries": entries }));
            }
            let path = path()?;
            let data = ftp::get(&connection, path)?;
            log::info!("fetched {path} ({} bytes)", data.len());
            if req.query("summary").is_some() {
                let text = String::from_utf8_lossy(&data);
                return Response::json(&serde_json::json!({
                    "path": path,
                    "bytes": data.len(),
                    "lines": text.lines().count(),
                    "first_line": text.lines().next(),
                }));
            }
            Ok(Response::bytes(data).with_header("content-type", "application/octet-stream"))
        }
        "PUT" => {
            let path = path()?;
            ftp::put(&connection, path, req.payload())?;
            Response::json(&serde_json::json!({ "path": path, "bytes": req.payload().len() }))
        }
        "POST" => {
            let rename: Rename = req.json()?;
            ftp::rename(&connection, &rename.from, &rename.to)?;
            Response::json(&serde_json::json!({ "from": rename.from, "to": rename.to }))
        }
        "DELETE" => {
            let path = path()?;
            ftp::delete(&connection, path)?;
            Response::json(&serde_json::json!({ "path": path, "deleted": true }))
        }
        method => Err(Error::bad_request(format!(
            "`{method}` is not an operation on files: GET, PUT, POST (rename) or DELETE"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_required() {
        let err = fetch(Request::builder().build()).unwrap_err();
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn natively_there_is_no_ftp_server() {
        let req = Request::builder()
            .http("GET", "/demo/ftp")
            .query("path", "/in/a.csv")
            .build();
        let err = fetch(req).unwrap_err();
        assert_eq!(err.status(), 404);
        assert!(err.message().contains("`files`"), "{err}");
    }
}
