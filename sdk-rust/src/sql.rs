//! Queries and statements on the SQL databases configured as named outgoing
//! connections (PostgreSQL, MySQL/MariaDB, SQLite).
//!
//! ```no_run
//! use zato_sdk::{Error, sql};
//!
//! let id = 42_i64;
//! let rows = sql::query("billing", "select id, name from customers where id = $1", &[&id])?;
//! for row in &rows {
//!     let id: i64 = row.get("id")?;
//!     let name: String = row.get(1)?;
//! }
//! sql::execute("billing", "update customers set name = $1 where id = $2", &[&"Ada", &id])?;
//! # Ok::<(), Error>(())
//! ```
//!
//! # Placeholders
//!
//! The SQL is sent as written, in the connection's engine's dialect, so its
//! placeholders are the engine's: `$1`, `$2`, ... on PostgreSQL, `?` on MySQL, MariaDB
//! and SQLite. Parameters are always bound to them, never pasted into the text: a
//! parameter is only ever a value, whatever it holds (`'; drop table customers; --`
//! is stored as that text). On PostgreSQL a text parameter is typed `text`: cast it
//! where a column of another type takes it (`values ($1::timestamptz)`); a null fits
//! any column.
//!
//! # Values
//!
//! Parameters are anything [`ToSql`]: integers, floats, `bool`, `&str`, `String`,
//! byte vectors and slices, and `Option`s of those (`None` is SQL `NULL`). Columns come
//! back as [`Value`]s, read with [`Row::get`] into anything [`FromSql`]. Timestamps,
//! dates, decimals, UUIDs and JSON come back as text (ISO 8601 for timestamps).
//!
//! # Limits and errors
//!
//! A query answers at most the connection's row cap (1,000 unless configured);
//! [`Rows::truncated`] says when there were more. Every call is bounded by the
//! connection's timeout and the request's deadline. A [`SqlError`] converts into the
//! service's [`Error`], so `?` works in a service: a missing connection is
//! [`Error::NotFound`], a refused argument [`Error::BadRequest`], a timeout or an
//! inactive connection [`Error::Retry`], a database error [`Error::Internal`].
//!
//! Outside a zato host (in a native unit test) no connection is configured: every call
//! fails with [`SqlError::NotFound`].

use std::fmt;
use std::rc::Rc;

use crate::Error;

/// A parameter's or a column's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// A boolean (MySQL and SQLite have none: they answer integers 0 and 1).
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text; also timestamps, dates, decimals, UUIDs and JSON.
    Text(String),
    /// Bytes (`bytea`, `BLOB`, `VARBINARY`).
    Bytes(Vec<u8>),
}

impl Value {
    /// The value as JSON: bytes become an array of numbers.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Null => serde_json::Value::Null,
            Self::Bool(b) => (*b).into(),
            Self::Int(i) => (*i).into(),
            Self::Float(f) => (*f).into(),
            Self::Text(s) => s.as_str().into(),
            Self::Bytes(b) => b.as_slice().into(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Int(_) => "an integer",
            Self::Float(_) => "a float",
            Self::Text(_) => "text",
            Self::Bytes(_) => "bytes",
        }
    }
}

/// A Rust value that can be a parameter.
pub trait ToSql {
    /// The parameter's value.
    fn to_sql(&self) -> Value;
}

impl ToSql for Value {
    fn to_sql(&self) -> Value {
        self.clone()
    }
}

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_sql(&self) -> Value {
        (**self).to_sql()
    }
}

impl<T: ToSql> ToSql for Option<T> {
    fn to_sql(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToSql::to_sql)
    }
}

macro_rules! to_sql {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl ToSql for $t {
            fn to_sql(&self) -> Value {
                let $v = self;
                $e
            }
        })*
    };
}

to_sql! {
    bool => |v| Value::Bool(*v),
    i8 => |v| Value::Int((*v).into()),
    i16 => |v| Value::Int((*v).into()),
    i32 => |v| Value::Int((*v).into()),
    i64 => |v| Value::Int(*v),
    u8 => |v| Value::Int((*v).into()),
    u16 => |v| Value::Int((*v).into()),
    u32 => |v| Value::Int((*v).into()),
    f32 => |v| Value::Float((*v).into()),
    f64 => |v| Value::Float(*v),
    str => |v| Value::Text(v.to_owned()),
    String => |v| Value::Text(v.clone()),
    [u8] => |v| Value::Bytes(v.to_vec()),
    Vec<u8> => |v| Value::Bytes(v.clone()),
}

/// A Rust value a column's value can be read into.
pub trait FromSql: Sized {
    /// Reads `value`, or says why it cannot.
    ///
    /// # Errors
    ///
    /// A message naming what the value was, e.g. `text, not an integer`.
    fn from_sql(value: &Value) -> Result<Self, String>;
}

fn mismatch(value: &Value, wanted: &str) -> String {
    format!("{}, not {wanted}", value.kind())
}

impl FromSql for Value {
    fn from_sql(value: &Value) -> Result<Self, String> {
        Ok(value.clone())
    }
}

impl<T: FromSql> FromSql for Option<T> {
    fn from_sql(value: &Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_sql(other).map(Some),
        }
    }
}

impl FromSql for i64 {
    fn from_sql(value: &Value) -> Result<Self, String> {
        match value {
            Value::Int(i) => Ok(*i),
            other => Err(mismatch(other, "an integer")),
        }
    }
}

impl FromSql for i32 {
    fn from_sql(value: &Value) -> Result<Self, String> {
        let i = i64::from_sql(value)?;
        i32::try_from(i).map_err(|_| format!("{i} does not fit in an i32"))
    }
}

impl FromSql for f64 {
    fn from_sql(value: &Value) -> Result<Self, String> {
        match value {
            Value::Float(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            other => Err(mismatch(other, "a number")),
        }
    }
}

impl FromSql for bool {
    fn from_sql(value: &Value) -> Result<Self, String> {
        match value {
            Value::Bool(b) => Ok(*b),
            Value::Int(0) => Ok(false),
            Value::Int(1) => Ok(true),
            other => Err(mismatch(other, "a boolean")),
        }
    }
}

impl FromSql for String {
    fn from_sql(value: &Value) -> Result<Self, String> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            other => Err(mismatch(other, "text")),
        }
    }
}

impl FromSql for Vec<u8> {
    fn from_sql(value: &Value) -> Result<Self, String> {
        match value {
            Value::Bytes(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            other => Err(mismatch(other, "bytes")),
        }
    }
}

/// How a column is named in [`Row::get`]: by its name (`&str`) or its index from 0
/// (`usize`).
pub trait ColumnIndex: fmt::Display {
    /// The column's index among `columns`, if there is one.
    fn index(&self, columns: &[String]) -> Option<usize>;
}

impl ColumnIndex for &str {
    fn index(&self, columns: &[String]) -> Option<usize> {
        columns.iter().position(|c| c == self)
    }
}

impl ColumnIndex for usize {
    fn index(&self, columns: &[String]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
}

/// One row of a query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    columns: Rc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// The value of `column` (a name or an index from 0) read as `T`.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] naming the column if there is no such column or its value
    /// is not a `T` (e.g. a `NULL` read as `i64`: read an `Option<i64>`).
    pub fn get<T: FromSql>(&self, column: impl ColumnIndex) -> Result<T, Error> {
        let value = self.value(&column).ok_or_else(|| {
            Error::internal(format!(
                "no column `{column}` in the answer: the columns are {:?}",
                self.columns
            ))
        })?;
        T::from_sql(value).map_err(|why| Error::internal(format!("column `{column}`: {why}")))
    }

    /// The value of `column` (a name or an index from 0), if there is such a column.
    pub fn value(&self, column: &impl ColumnIndex) -> Option<&Value> {
        column.index(&self.columns).map(|i| &self.values[i])
    }

    /// The values, one per column.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// The row as a JSON object of its columns.
    pub fn to_json(&self) -> serde_json::Value {
        self.columns
            .iter()
            .zip(&self.values)
            .map(|(c, v)| (c.clone(), v.to_json()))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

/// What a query answered: its columns and rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    columns: Rc<[String]>,
    rows: Vec<Row>,
    truncated: bool,
}

impl Rows {
    /// The columns' names, in order (also when no row came back).
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Whether the query had more rows than the connection's row cap: these are the
    /// first ones.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// How many rows came back.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row came back.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The row at `index`, from 0.
    pub fn get(&self, index: usize) -> Option<&Row> {
        self.rows.get(index)
    }

    /// The rows, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Row> {
        self.rows.iter()
    }

    /// The rows as a JSON array of objects.
    pub fn to_json(&self) -> serde_json::Value {
        self.rows.iter().map(Row::to_json).collect()
    }

    /// Builds rows from columns and values, as the host answers them (for tests).
    pub fn new(columns: Vec<String>, rows: Vec<Vec<Value>>, truncated: bool) -> Self {
        let columns: Rc<[String]> = columns.into();
        let rows = rows
            .into_iter()
            .map(|values| Row {
                columns: columns.clone(),
                values,
            })
            .collect();
        Self {
            columns,
            rows,
            truncated,
        }
    }
}

impl<'a> IntoIterator for &'a Rows {
    type Item = &'a Row;
    type IntoIter = std::slice::Iter<'a, Row>;

    fn into_iter(self) -> Self::IntoIter {
        self.rows.iter()
    }
}

impl IntoIterator for Rows {
    type Item = Row;
    type IntoIter = std::vec::IntoIter<Row>;

    fn into_iter(self) -> Self::IntoIter {
        self.rows.into_iter()
    }
}

/// What a statement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecResult {
    /// Rows inserted, updated or deleted.
    pub rows_affected: u64,
    /// The id of the last row inserted where the engine says it (MySQL, SQLite);
    /// PostgreSQL has none: use `RETURNING` with [`query`].
    pub last_insert_id: Option<i64>,
}

/// One statement of a [`transaction`].
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    sql: String,
    params: Vec<Value>,
}

impl Statement {
    /// The statement `sql` with `params` bound to its placeholders.
    pub fn new(sql: impl Into<String>, params: &[&dyn ToSql]) -> Self {
        Self {
            sql: sql.into(),
            params: params.iter().map(|p| p.to_sql()).collect(),
        }
    }
}

/// Why a call failed; converts into the service's [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlError {
    /// No SQL connection of that name is configured.
    NotFound(String),
    /// The connection is configured but inactive.
    Inactive(String),
    /// The connection's definition cannot be used: an administrator must fix it.
    Misconfigured(String),
    /// The call was refused before it reached the database (an argument too large).
    BadRequest(String),
    /// The call did not finish within the connection's timeout or the request's
    /// deadline.
    Timeout(String),
    /// The database refused the statement or could not be reached; for a
    /// transaction, the message names the statement's index.
    Database(String),
}

impl SqlError {
    /// The message the error carries.
    pub fn message(&self) -> &str {
        match self {
            Self::NotFound(m)
            | Self::Inactive(m)
            | Self::Misconfigured(m)
            | Self::BadRequest(m)
            | Self::Timeout(m)
            | Self::Database(m) => m,
        }
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for SqlError {}

impl From<SqlError> for Error {
    fn from(err: SqlError) -> Self {
        match err {
            SqlError::NotFound(m) => Error::NotFound(m),
            SqlError::BadRequest(m) => Error::BadRequest(m),
            SqlError::Inactive(m) | SqlError::Timeout(m) => Error::Retry(m),
            SqlError::Misconfigured(m) | SqlError::Database(m) => Error::Internal(m),
        }
    }
}

/// Runs the query `sql` on the connection `connection` with `params` bound to its
/// placeholders (`$1`... on PostgreSQL, `?` on MySQL and SQLite).
///
/// # Errors
///
/// See [`SqlError`].
pub fn query(connection: &str, sql: &str, params: &[&dyn ToSql]) -> Result<Rows, SqlError> {
    let params: Vec<Value> = params.iter().map(|p| p.to_sql()).collect();
    host::query(connection, sql, params)
}

/// Runs the statement `sql` (an insert, update, delete or DDL) on the connection
/// `connection` with `params` bound to its placeholders.
///
/// # Errors
///
/// See [`SqlError`].
pub fn execute(connection: &str, sql: &str, params: &[&dyn ToSql]) -> Result<ExecResult, SqlError> {
    let params: Vec<Value> = params.iter().map(|p| p.to_sql()).collect();
    host::execute(connection, sql, params)
}

/// Runs `statements` in one transaction on the connection `connection`: all of them,
/// or, at the first that fails, none. Answers what each did.
///
/// ```no_run
/// use zato_sdk::sql::{self, Statement};
///
/// sql::transaction("billing", &[
///     Statement::new("update accounts set balance = balance - $1 where id = $2", &[&10, &1]),
///     Statement::new("update accounts set balance = balance + $1 where id = $2", &[&10, &2]),
/// ])?;
/// # Ok::<(), zato_sdk::Error>(())
/// ```
///
/// # Errors
///
/// See [`SqlError`]; [`SqlError::Database`] names the index (from 0) of the statement
/// that failed.
pub fn transaction(
    connection: &str,
    statements: &[Statement],
) -> Result<Vec<ExecResult>, SqlError> {
    host::transaction(connection, statements)
}

#[cfg(target_arch = "wasm32")]
mod host {
    use super::*;
    use crate::bindings::zato::service::sql as wit;

    fn to_wit(value: Value) -> wit::SqlValue {
        match value {
            Value::Null => wit::SqlValue::Null,
            Value::Bool(b) => wit::SqlValue::Boolean(b),
            Value::Int(i) => wit::SqlValue::Integer(i),
            Value::Float(f) => wit::SqlValue::Float(f),
            Value::Text(s) => wit::SqlValue::Text(s),
            Value::Bytes(b) => wit::SqlValue::Bytes(b),
        }
    }

    fn from_wit(value: wit::SqlValue) -> Value {
        match value {
            wit::SqlValue::Null => Value::Null,
            wit::SqlValue::Boolean(b) => Value::Bool(b),
            wit::SqlValue::Integer(i) => Value::Int(i),
            wit::SqlValue::Float(f) => Value::Float(f),
            wit::SqlValue::Text(s) => Value::Text(s),
            wit::SqlValue::Bytes(b) => Value::Bytes(b),
        }
    }

    fn error(err: wit::SqlError) -> SqlError {
        match err {
            wit::SqlError::NotFound(m) => SqlError::NotFound(m),
            wit::SqlError::Inactive(m) => SqlError::Inactive(m),
            wit::SqlError::Misconfigured(m) => SqlError::Misconfigured(m),
            wit::SqlError::BadRequest(m) => SqlError::BadRequest(m),
            wit::SqlError::Timeout(m) => SqlError::Timeout(m),
            wit::SqlError::Database(m) => SqlError::Database(m),
        }
    }

    fn exec(done: wit::ExecResult) -> ExecResult {
        ExecResult {
            rows_affected: done.rows_affected,
            last_insert_id: done.last_insert_id,
        }
    }

    pub(super) fn query(connection: &str, sql: &str, params: Vec<Value>) -> Result<Rows, SqlError> {
        let params: Vec<_> = params.into_iter().map(to_wit).collect();
        let rows = crate::import(|| wit::query(connection, sql, &params)).map_err(error)?;
        Ok(Rows::new(
            rows.columns,
            rows.rows
                .into_iter()
                .map(|row| row.into_iter().map(from_wit).collect())
                .collect(),
            rows.truncated,
        ))
    }

    pub(super) fn execute(
        connection: &str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<ExecResult, SqlError> {
        let params: Vec<_> = params.into_iter().map(to_wit).collect();
        crate::import(|| wit::execute(connection, sql, &params))
            .map(exec)
            .map_err(error)
    }

    pub(super) fn transaction(
        connection: &str,
        statements: &[Statement],
    ) -> Result<Vec<ExecResult>, SqlError> {
        let statements: Vec<_> = statements
            .iter()
            .map(|s| wit::Statement {
                sql: s.sql.clone(),
                params: s.params.iter().cloned().map(to_wit).collect(),
            })
            .collect();
        crate::import(|| wit::transaction(connection, &statements))
            .map(|done| done.into_iter().map(exec).collect())
            .map_err(error)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod host {
    use super::*;

    fn none(connection: &str) -> SqlError {
        SqlError::NotFound(format!(
            "no sql connection named `{connection}` is configured: sql needs a zato host"
        ))
    }

    pub(super) fn query(connection: &str, _: &str, _: Vec<Value>) -> Result<Rows, SqlError> {
        Err(none(connection))
    }

    pub(super) fn execute(
        connection: &str,
        _: &str,
        _: Vec<Value>,
    ) -> Result<ExecResult, SqlError> {
        Err(none(connection))
    }

    pub(super) fn transaction(
        connection: &str,
        _: &[Statement],
    ) -> Result<Vec<ExecResult>, SqlError> {
        Err(none(connection))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_convert_from_rust_values() {
        let id = 42_i64;
        let name: Option<&str> = None;
        let values: Vec<Value> = [
            &id as &dyn ToSql,
            &"Ada",
            &name,
            &true,
            &1.5,
            &vec![1_u8, 2],
        ]
        .iter()
        .map(|p| p.to_sql())
        .collect();
        assert_eq!(
            values,
            [
                Value::Int(42),
                Value::Text("Ada".into()),
                Value::Null,
                Value::Bool(true),
                Value::Float(1.5),
                Value::Bytes(vec![1, 2]),
            ]
        );
    }

    #[test]
    fn a_row_reads_by_name_or_index_and_names_what_is_wrong() {
        let rows = Rows::new(
            vec!["id".into(), "name".into(), "active".into()],
            vec![vec![Value::Int(7), Value::Null, Value::Int(1)]],
            false,
        );
        let row = rows.get(0).unwrap();
        assert_eq!(row.get::<i64>("id").unwrap(), 7);
        assert_eq!(row.get::<i32>(0).unwrap(), 7);
        assert_eq!(row.get::<Option<String>>("name").unwrap(), None);
        assert!(row.get::<bool>("active").unwrap());
        let err = row.get::<String>("name").unwrap_err();
        assert!(err.message().contains("`name`: null, not text"), "{err}");
        let err = row.get::<i64>("email").unwrap_err();
        assert!(err.message().contains("no column `email`"), "{err}");
        assert!(row.get::<i64>(3).is_err());
        assert_eq!(
            rows.to_json(),
            serde_json::json!([{"id": 7, "name": null, "active": 1}])
        );
    }

    #[test]
    fn natively_no_connection_is_configured() {
        let err = query("billing", "select 1", &[]).unwrap_err();
        assert!(matches!(&err, SqlError::NotFound(m) if m.contains("`billing`")));
        assert_eq!(Error::from(err).status(), 404);
        assert_eq!(Error::from(SqlError::Timeout("t".into())).status(), 503);
        assert_eq!(Error::from(SqlError::Database("d".into())).status(), 500);
    }
}
