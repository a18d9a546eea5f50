//! `test.sql-call`: runs the query, statement or transaction its JSON payload describes
//! through the `sql` import and answers what came back, typed values tagged
//! (`{"int": 1}`, `{"text": "a"}`, `{"bytes": [0, 255]}`, `{"null": null}`...), or the
//! error with its kind: `{"error": {"kind": "timeout", "message": "..."}}`.

use zato_sdk::prelude::*;
use zato_sdk::serde_json::{Value as Json, json};
use zato_sdk::sql::{self, SqlError, Statement, ToSql, Value};

fn param(value: &Json) -> Result<Value, Error> {
    let bad = || Error::bad_request(format!("`{value}` is not a tagged value"));
    let (tag, inner) = value
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or_else(bad)?;
    Ok(match tag.as_str() {
        "null" => Value::Null,
        "bool" => Value::Bool(inner.as_bool().ok_or_else(bad)?),
        "int" => Value::Int(inner.as_i64().ok_or_else(bad)?),
        "float" => Value::Float(inner.as_f64().ok_or_else(bad)?),
        "text" => Value::Text(inner.as_str().ok_or_else(bad)?.to_owned()),
        "bytes" => Value::Bytes(
            inner
                .as_array()
                .ok_or_else(bad)?
                .iter()
                .map(|b| b.as_u64().map(|b| b as u8))
                .collect::<Option<_>>()
                .ok_or_else(bad)?,
        ),
        _ => return Err(bad()),
    })
}

fn tagged(value: &Value) -> Json {
    match value {
        Value::Null => json!({"null": null}),
        Value::Bool(b) => json!({"bool": b}),
        Value::Int(i) => json!({"int": i}),
        Value::Float(f) => json!({"float": f}),
        Value::Text(s) => json!({"text": s}),
        Value::Bytes(b) => json!({"bytes": b}),
    }
}

fn params(payload: &Json) -> Result<Vec<Value>, Error> {
    payload["params"]
        .as_array()
        .map(|p| p.iter().map(param).collect())
        .unwrap_or(Ok(Vec::new()))
}

fn error(err: SqlError) -> Json {
    let kind = match &err {
        SqlError::NotFound(_) => "not-found",
        SqlError::Inactive(_) => "inactive",
        SqlError::Misconfigured(_) => "misconfigured",
        SqlError::BadRequest(_) => "bad-request",
        SqlError::Timeout(_) => "timeout",
        SqlError::Database(_) => "database",
    };
    json!({"error": {"kind": kind, "message": err.message()}})
}

/// Runs what the payload describes.
#[zato_sdk::service(name = "test.sql-call")]
fn call(req: Request) -> Result<Response, Error> {
    let payload: Json = req.json_value()?;
    let connection = payload["connection"].as_str().unwrap_or("db");
    let text = payload["sql"].as_str().unwrap_or_default();
    let values = params(&payload)?;
    let refs: Vec<&dyn ToSql> = values.iter().map(|v| v as &dyn ToSql).collect();
    let answer = match payload["op"].as_str().unwrap_or("query") {
        "query" => match sql::query(connection, text, &refs) {
            Ok(rows) => json!({
                "columns": rows.columns(),
                "rows": rows.iter().map(|r| r.values().iter().map(tagged).collect::<Vec<_>>()).collect::<Vec<_>>(),
                "truncated": rows.truncated(),
            }),
            Err(err) => error(err),
        },
        "execute" => match sql::execute(connection, text, &refs) {
            Ok(done) => {
                json!({"rows_affected": done.rows_affected, "last_insert_id": done.last_insert_id})
            }
            Err(err) => error(err),
        },
        "transaction" => {
            let mut statements = Vec::new();
            for s in payload["statements"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                let values = params(&s)?;
                let refs: Vec<&dyn ToSql> = values.iter().map(|v| v as &dyn ToSql).collect();
                statements.push(Statement::new(s["sql"].as_str().unwrap_or_default(), &refs));
            }
            match sql::transaction(connection, &statements) {
                Ok(done) => {
                    json!({"results": done.iter().map(|d| json!({"rows_affected": d.rows_affected})).collect::<Vec<_>>()})
                }
                Err(err) => error(err),
            }
        }
        other => return Err(Error::bad_request(format!("unknown op `{other}`"))),
    };
    Response::json(&answer)
}
