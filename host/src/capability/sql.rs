//! `zato:service/sql`: queries, statements and transactions on the SQL databases an
//! administrator configured as named connections (`crate::outconn::sql`).
//!
//! This module checks the guest's arguments (sizes and counts first, before anything
//! is converted or sent) and translates between the WIT values and the connection's;
//! binding, the pool, the row cap and the time limits are `outconn::sql`'s. A hostile
//! argument is an error value for the guest, never a trap or a panic.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{HasData, Linker};

use crate::outconn::sql::{self as out, SqlConn};
use crate::outconn::{OutconnError, Outconns};
use crate::wit::zato::service::sql::{self, ExecResult, Host, Rows, SqlError, SqlValue, Statement};

/// Longest connection name accepted: a longer one cannot be configured.
pub const MAX_NAME_BYTES: usize = crate::api::MAX_SERVICE_NAME;
/// Longest SQL text accepted.
pub const MAX_SQL_BYTES: usize = 1 << 20;
/// Most parameters of one statement.
pub const MAX_PARAMS: usize = 1_000;
/// Largest text or bytes parameter.
pub const MAX_PARAM_BYTES: usize = 16 << 20;
/// Most bytes of all the parameters of a call together.
pub const MAX_PARAMS_TOTAL_BYTES: usize = 32 << 20;
/// Most statements of one transaction.
pub const MAX_STATEMENTS: usize = 100;

/// What the `sql` import reaches of a call: the server's connections and the deadline
/// of the request being handled.
pub struct SqlView {
    /// `None` only while the server shuts down.
    pub outconns: Option<Arc<Outconns>>,
    pub deadline: Instant,
}

struct Sql;

impl HasData for Sql {
    type Data<'a> = SqlView;
}

/// Links `sql`, building each call's [`SqlView`] with `get`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> SqlView,
) -> wasmtime::Result<()> {
    sql::add_to_linker::<T, Sql>(linker, get)
}

impl From<OutconnError> for SqlError {
    fn from(err: OutconnError) -> Self {
        let message = err.to_string();
        match err {
            OutconnError::NotFound(..) => Self::NotFound(message),
            OutconnError::Inactive(..) => Self::Inactive(message),
            OutconnError::Misconfigured(..) => Self::Misconfigured(message),
            OutconnError::BadRequest(_) => Self::BadRequest(message),
            OutconnError::Timeout(_) => Self::Timeout(message),
            OutconnError::Remote(_) => Self::Database(message),
        }
    }
}

impl SqlView {
    /// The connection `name`, once its name's size is checked.
    fn conn(&self, name: &str) -> Result<Arc<SqlConn>, SqlError> {
        if name.is_empty() || name.len() > MAX_NAME_BYTES {
            return Err(SqlError::BadRequest(format!(
                "invalid connection name ({} bytes): must be 1 to {MAX_NAME_BYTES} bytes",
                name.len()
            )));
        }
        let outconns = self
            .outconns
            .as_ref()
            .ok_or_else(|| SqlError::Database("the server is shutting down".into()))?;
        Ok(outconns.sql(name)?)
    }
}

/// Checks one statement's SQL and parameters, adding the parameters' bytes to `total`;
/// `what` names the statement in the message (`the query`, `statement 3`).
fn check(what: &str, sql: &str, params: &[SqlValue], total: &mut usize) -> Result<(), String> {
    if sql.trim().is_empty() {
        return Err(format!("{what} has no SQL"));
    }
    if sql.len() > MAX_SQL_BYTES {
        return Err(format!(
            "{what}: SQL of {} bytes refused: at most {MAX_SQL_BYTES}",
            sql.len()
        ));
    }
    if params.len() > MAX_PARAMS {
        return Err(format!(
            "{what}: {} parameters refused: at most {MAX_PARAMS}",
            params.len()
        ));
    }
    for (i, param) in params.iter().enumerate() {
        let size = match param {
            SqlValue::Text(text) => text.len(),
            SqlValue::Bytes(bytes) => bytes.len(),
            _ => 8,
        };
        if size > MAX_PARAM_BYTES {
            return Err(format!(
                "{what}: parameter {} of {size} bytes refused: at most {MAX_PARAM_BYTES}",
                i + 1
            ));
        }
        *total += size;
        if *total > MAX_PARAMS_TOTAL_BYTES {
            return Err(format!(
                "the parameters of the call pass {MAX_PARAMS_TOTAL_BYTES} bytes (at parameter {} \
                 of {what})",
                i + 1
            ));
        }
    }
    Ok(())
}

fn to_host(value: SqlValue) -> out::SqlValue {
    match value {
        SqlValue::Null => out::SqlValue::Null,
        SqlValue::Boolean(b) => out::SqlValue::Bool(b),
        SqlValue::Integer(i) => out::SqlValue::Int(i),
        SqlValue::Float(f) => out::SqlValue::Float(f),
        SqlValue::Text(s) => out::SqlValue::Text(s),
        SqlValue::Bytes(b) => out::SqlValue::Bytes(b),
    }
}

fn to_guest(value: out::SqlValue) -> SqlValue {
    match value {
        out::SqlValue::Null => SqlValue::Null,
        out::SqlValue::Bool(b) => SqlValue::Boolean(b),
        out::SqlValue::Int(i) => SqlValue::Integer(i),
        out::SqlValue::Float(f) => SqlValue::Float(f),
        out::SqlValue::Text(s) => SqlValue::Text(s),
        out::SqlValue::Bytes(b) => SqlValue::Bytes(b),
    }
}

fn exec_result(done: out::ExecResult) -> ExecResult {
    ExecResult {
        rows_affected: done.rows_affected,
        last_insert_id: done.last_insert_id,
    }
}

impl Host for SqlView {
    async fn query(
        &mut self,
        connection: String,
        sql: String,
        params: Vec<SqlValue>,
    ) -> wasmtime::Result<Result<Rows, SqlError>> {
        let conn = match self.conn(&connection) {
            Ok(conn) => conn,
            Err(err) => return Ok(Err(err)),
        };
        if let Err(why) = check("the query", &sql, &params, &mut 0) {
            return Ok(Err(SqlError::BadRequest(why)));
        }
        let params: Vec<_> = params.into_iter().map(to_host).collect();
        Ok(match conn.query(&sql, &params, self.deadline).await {
            Ok(rows) => Ok(Rows {
                columns: rows.columns,
                rows: rows
                    .rows
                    .into_iter()
                    .map(|row| row.into_iter().map(to_guest).collect())
                    .collect(),
                truncated: rows.truncated,
            }),
            Err(err) => Err(err.into()),
        })
    }

    async fn execute(
        &mut self,
        connection: String,
        sql: String,
        params: Vec<SqlValue>,
    ) -> wasmtime::Result<Result<ExecResult, SqlError>> {
        let conn = match self.conn(&connection) {
            Ok(conn) => conn,
            Err(err) => return Ok(Err(err)),
        };
        if let Err(why) = check("the statement", &sql, &params, &mut 0) {
            return Ok(Err(SqlError::BadRequest(why)));
        }
        let params: Vec<_> = params.into_iter().map(to_host).collect();
        Ok(conn
            .execute(&sql, &params, self.deadline)
            .await
            .map(exec_result)
            .map_err(SqlError::from))
    }

    async fn transaction(
        &mut self,
        connection: String,
        statements: Vec<Statement>,
    ) -> wasmtime::Result<Result<Vec<ExecResult>, SqlError>> {
        let conn = match self.conn(&connection) {
            Ok(conn) => conn,
            Err(err) => return Ok(Err(err)),
        };
        if statements.is_empty() || statements.len() > MAX_STATEMENTS {
            return Ok(Err(SqlError::BadRequest(format!(
                "a transaction of {} statements refused: 1 to {MAX_STATEMENTS}",
                statements.len()
            ))));
        }
        let mut total = 0;
        for (i, statement) in statements.iter().enumerate() {
            let what = format!("statement {i}");
            if let Err(why) = check(&what, &statement.sql, &statement.params, &mut total) {
                return Ok(Err(SqlError::BadRequest(why)));
            }
        }
        let statements: Vec<_> = statements
            .into_iter()
            .map(|s| out::Statement {
                sql: s.sql,
                params: s.params.into_iter().map(to_host).collect(),
            })
            .collect();
        Ok(conn
            .transaction(&statements, self.deadline)
            .await
            .map(|done| done.into_iter().map(exec_result).collect())
            .map_err(SqlError::from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_arguments_are_refused_naming_what() {
        let err = check("the query", " ", &[], &mut 0).unwrap_err();
        assert!(err.contains("no SQL"), "{err}");
        let long = "x".repeat(MAX_SQL_BYTES + 1);
        assert!(
            check("the query", &long, &[], &mut 0)
                .unwrap_err()
                .contains("SQL of")
        );
        let many = vec![SqlValue::Null; MAX_PARAMS + 1];
        let err = check("statement 2", "select 1", &many, &mut 0).unwrap_err();
        assert!(err.starts_with("statement 2: 1001 parameters"), "{err}");
        let big = vec![
            SqlValue::Null,
            SqlValue::Bytes(vec![0; MAX_PARAM_BYTES + 1]),
        ];
        let err = check("the query", "select 1", &big, &mut 0).unwrap_err();
        assert!(err.contains("parameter 2 of"), "{err}");
        let mut total = MAX_PARAMS_TOTAL_BYTES - 4;
        let err = check(
            "statement 7",
            "select 1",
            &[SqlValue::Text("12345".into())],
            &mut total,
        )
        .unwrap_err();
        assert!(err.contains("statement 7"), "{err}");
        assert!(check("the query", "select $1", &[SqlValue::Integer(1)], &mut 0).is_ok());
    }

    #[test]
    fn values_convert_both_ways_unchanged() {
        let values = [
            SqlValue::Null,
            SqlValue::Boolean(true),
            SqlValue::Integer(i64::MIN),
            SqlValue::Float(-0.5),
            SqlValue::Text("é'; --".into()),
            SqlValue::Bytes(vec![0, 1, 255]),
        ];
        for value in values {
            let back = to_guest(to_host(value.clone()));
            assert_eq!(format!("{back:?}"), format!("{value:?}"));
        }
    }
}
