//! `demo.sql-table`: reads and writes a `customers` table through the outgoing SQL
//! connection `customers`, one operation per HTTP method.
//!
//! - `GET /demo/customers` lists the customers (at most the connection's row cap, with
//!   `truncated` saying whether there were more);
//! - `GET /demo/customers/{id}` answers one, or 404;
//! - `POST /demo/customers` with `{"name": "Ada", "email": "ada@example.com"}` creates
//!   one and answers its `id` (201);
//! - `PUT /demo/customers/{id}` with the same fields changes one, or 404;
//! - `DELETE /demo/customers/{id}` deletes one, or 404.
//!
//! The table (the example does not create it):
//!
//! ```sql
//! -- PostgreSQL
//! create table customers (id bigserial primary key, name text not null, email text);
//! -- MySQL/MariaDB
//! create table customers (id bigint auto_increment primary key, name text not null, email text);
//! -- SQLite
//! create table customers (id integer primary key autoincrement, name text not null, email text);
//! ```
//!
//! Its configuration (editable at run time) may name another connection
//! (`connection`) and says the connection's engine (`engine`: `postgres`, the default,
//! `mysql` or `sqlite`): the SQL is sent in the engine's dialect, so the placeholders
//! are `$1`, `$2` on PostgreSQL and `?` on the others. Values are always bound, never
//! pasted: a name of `'; drop table customers; --` is stored as that text.

use serde::Deserialize;
use zato_sdk::prelude::*;
use zato_sdk::sql::{self, Row, ToSql};

/// The connection used when the `connection` key is not set.
const DEFAULT_CONNECTION: &str = "customers";

/// A customer as a request gives it.
#[derive(Deserialize)]
struct NewCustomer {
    name: String,
    #[serde(default)]
    email: Option<String>,
}

/// The connection's engine, for its placeholders and how a new row's id comes back.
#[derive(Clone, Copy, PartialEq)]
enum Engine {
    Postgres,
    MySql,
    Sqlite,
}

impl Engine {
    fn configured() -> Result<Self, Error> {
        match config::get_or("engine", "postgres").as_str() {
            "postgres" | "postgresql" => Ok(Self::Postgres),
            "mysql" | "mariadb" => Ok(Self::MySql),
            "sqlite" => Ok(Self::Sqlite),
            other => Err(Error::internal(format!(
                "the `engine` key is `{other}`: one of postgres, mysql, sqlite"
            ))),
        }
    }

    /// `sql` written with `?` placeholders, in this engine's dialect.
    fn sql(self, sql: &str) -> String {
        if self != Self::Postgres {
            return sql.to_owned();
        }
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(c);
            }
        }
        out
    }
}

/// A customer as the service answers it.
fn customer(row: &Row) -> Result<serde_json::Value, Error> {
    Ok(serde_json::json!({
        "id": row.get::<i64>("id")?,
        "name": row.get::<String>("name")?,
        "email": row.get::<Option<String>>("email")?,
    }))
}

/// Reads and writes the `customers` table.
#[zato_sdk::service(
    name = "demo.sql-table",
    description = "Reads and writes a customers table through the outgoing SQL connection `customers`"
)]
fn customers(req: Request) -> Result<Response, Error> {
    let connection = config::get_or("connection", DEFAULT_CONNECTION);
    let engine = Engine::configured()?;
    let id = match req.param("id") {
        None => None,
        Some(id) => Some(
            id.parse::<i64>()
                .map_err(|_| Error::bad_request(format!("`{id}` is not a customer id")))?,
        ),
    };
    let query =
        |text: &str, params: &[&dyn ToSql]| sql::query(&connection, &engine.sql(text), params);
    let execute =
        |text: &str, params: &[&dyn ToSql]| sql::execute(&connection, &engine.sql(text), params);
    let not_found = |id: i64| Error::not_found(format!("no customer {id}"));
    match (req.method().unwrap_or("GET"), id) {
        ("GET", None) => {
            let rows = query("select id, name, email from customers order by id", &[])?;
            let list = rows.iter().map(customer).collect::<Result<Vec<_>, _>>()?;
            Response::json(&serde_json::json!({ "customers": list, "truncated": rows.truncated() }))
        }
        ("GET", Some(id)) => {
            let rows = query("select id, name, email from customers where id = ?", &[&id])?;
            let row = rows.get(0).ok_or_else(|| not_found(id))?;
            Response::json(&customer(row)?)
        }
        ("POST", None) => {
            let new: NewCustomer = req.json()?;
            let id = if engine == Engine::Postgres {
                let rows = query(
                    "insert into customers (name, email) values (?, ?) returning id",
                    &[&new.name, &new.email],
                )?;
                rows.get(0)
                    .ok_or_else(|| Error::internal("no id came back"))?
                    .get("id")?
            } else {
                execute(
                    "insert into customers (name, email) values (?, ?)",
                    &[&new.name, &new.email],
                )?
                .last_insert_id
                .ok_or_else(|| Error::internal("no id came back"))?
            };
            log::info!("created customer {id}");
            Ok(Response::json(&serde_json::json!({ "id": id }))?.with_status(201))
        }
        ("PUT", Some(id)) => {
            let new: NewCustomer = req.json()?;
            let done = execute(
                "update customers set name = ?, email = ? where id = ?",
                &[&new.name, &new.email, &id],
            )?;
            if done.rows_affected == 0 {
                return Err(not_found(id));
            }
            Response::json(&serde_json::json!({ "id": id, "updated": true }))
        }
        ("DELETE", Some(id)) => {
            if execute("delete from customers where id = ?", &[&id])?.rows_affected == 0 {
                return Err(not_found(id));
            }
            Response::json(&serde_json::json!({ "id": id, "deleted": true }))
        }
        (method, _) => Err(Error::bad_request(format!(
            "`{method}` is not an operation on customers: GET, POST (no id), PUT or DELETE (with an id)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_gets_numbered_placeholders() {
        let sql = "update customers set name = ?, email = ? where id = ?";
        assert_eq!(
            Engine::Postgres.sql(sql),
            "update customers set name = $1, email = $2 where id = $3"
        );
        assert_eq!(Engine::Sqlite.sql(sql), sql);
    }

    #[test]
    fn natively_there_is_no_database() {
        // Natively there is no host, so no connection: a clear 404 naming it.
        let err = customers(Request::builder().build()).unwrap_err();
        assert_eq!(err.status(), 404);
        assert!(err.message().contains("`customers`"), "{err}");
    }
}
