//! `demo.transform`: validates a customer record and reshapes it.
//!
//! Takes
//!
//! ```json
//! {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@Example.com",
//!  "orders": [{"amount": 10.5}, {"amount": 20}]}
//! ```
//!
//! and answers
//!
//! ```json
//! {"full_name": "Ada Lovelace", "email_domain": "example.com", "order_count": 2, "total": 30.5}
//! ```
//!
//! The Simple IO declaration lets the host reject a record with missing or mistyped
//! fields before the service runs; the service still checks the values themselves
//! (blank names, malformed e-mail addresses, negative amounts), because the declaration
//! cannot express them and because the service may be invoked without it being enforced.

use serde::{Deserialize, Serialize};
use zato_sdk::prelude::*;

/// The customer record the service accepts; unknown fields are ignored.
#[derive(Debug, Deserialize)]
struct Customer {
    first_name: String,
    last_name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    orders: Option<Vec<Order>>,
}

/// One order of a customer.
#[derive(Debug, Deserialize)]
struct Order {
    amount: f64,
}

/// The reshaped record.
#[derive(Debug, PartialEq, Serialize)]
struct Summary {
    full_name: String,
    email_domain: Option<String>,
    order_count: usize,
    /// The sum of the amounts, rounded to cents.
    total: f64,
}

/// Validates a customer record and summarises it.
#[zato_sdk::service(
    name = "demo.transform",
    description = "Validates a customer record and answers its full name, e-mail domain, \
                   order count and order total",
    input = "first_name: string, last_name: string, email: string?, orders: array?",
    output = "full_name: string, email_domain: string?, order_count: integer, total: number"
)]
fn transform(req: Request) -> Result<Response, Error> {
    let customer: Customer = req.json()?;
    Response::json(&summarise(customer)?)
}

fn summarise(customer: Customer) -> Result<Summary, Error> {
    let first_name = non_blank("first_name", &customer.first_name)?;
    let last_name = non_blank("last_name", &customer.last_name)?;
    let email_domain = customer.email.as_deref().map(email_domain).transpose()?;

    let orders = customer.orders.unwrap_or_default();
    let mut total = 0.0;
    for (index, order) in orders.iter().enumerate() {
        if !order.amount.is_finite() || order.amount < 0.0 {
            return Err(Error::bad_request(format!(
                "`orders[{index}].amount` must be a non-negative number, not {}",
                order.amount
            )));
        }
        total += order.amount;
    }

    Ok(Summary {
        full_name: format!("{first_name} {last_name}"),
        email_domain,
        order_count: orders.len(),
        total: (total * 100.0).round() / 100.0,
    })
}

/// `value` trimmed, or a bad request naming `field` if nothing is left.
fn non_blank<'a>(field: &str, value: &'a str) -> Result<&'a str, Error> {
    match value.trim() {
        "" => Err(Error::bad_request(format!("`{field}` must not be blank"))),
        trimmed => Ok(trimmed),
    }
}

/// The lowercased domain of an e-mail address: there must be exactly one `@`, with
/// something on both sides and a dot inside the domain.
fn email_domain(email: &str) -> Result<String, Error> {
    let invalid = || Error::bad_request(format!("`email` is not an e-mail address: {email:?}"));
    let (local, domain) = email.trim().split_once('@').ok_or_else(invalid)?;
    let well_formed = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains(char::is_whitespace);
    if well_formed {
        Ok(domain.to_ascii_lowercase())
    } else {
        Err(invalid())
    }
}

#[cfg(test)]
mod tests {
    use zato_sdk::serde_json::{Value, json};

    use super::*;

    fn run(input: Value) -> Result<Value, Error> {
        let response = transform(Request::builder().json(&input).build())?;
        response.json_body()
    }

    fn bad_request(input: Value) -> String {
        match run(input) {
            Err(Error::BadRequest(message)) => message,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn summarises_a_full_record() {
        let out = run(json!({
            "first_name": " Ada ",
            "last_name": "Lovelace",
            "email": "ada@Example.COM",
            "orders": [{"amount": 0.1}, {"amount": 0.2}, {"amount": 10}],
            "ignored": true,
        }))
        .unwrap();
        assert_eq!(
            out,
            json!({
                "full_name": "Ada Lovelace",
                "email_domain": "example.com",
                "order_count": 3,
                "total": 10.3,
            })
        );
    }

    #[test]
    fn optional_fields_may_be_missing_or_null() {
        let out = run(json!({"first_name": "Ada", "last_name": "L", "email": null})).unwrap();
        assert_eq!(
            out,
            json!({"full_name": "Ada L", "email_domain": null, "order_count": 0, "total": 0.0})
        );
    }

    #[test]
    fn rejects_missing_and_mistyped_fields() {
        assert!(bad_request(json!({"first_name": "Ada"})).contains("missing field `last_name`"));
        assert!(bad_request(json!({"first_name": 1, "last_name": "L"})).contains("invalid type"));
        assert!(
            bad_request(json!({"first_name": "A", "last_name": "L", "orders": [{}]}))
                .contains("missing field `amount`")
        );
    }

    #[test]
    fn rejects_bad_values_with_the_field_named() {
        let message = bad_request(json!({"first_name": " ", "last_name": "L"}));
        assert_eq!(message, "`first_name` must not be blank");

        for email in [
            "ada",
            "@example.com",
            "ada@",
            "a@b@c.com",
            "ada@localhost",
            "a@b .com",
        ] {
            let message = bad_request(json!({"first_name": "A", "last_name": "L", "email": email}));
            assert!(
                message.starts_with("`email` is not an e-mail address"),
                "{email}: {message}"
            );
        }

        let message = bad_request(json!({
            "first_name": "A", "last_name": "L", "orders": [{"amount": 1}, {"amount": -2}],
        }));
        assert_eq!(
            message,
            "`orders[1].amount` must be a non-negative number, not -2"
        );
    }
}
