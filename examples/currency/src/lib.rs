//! `demo.currency`: a currency code as the CRM writes it and as the accounting system
//! does, translated through the cluster's data dictionary.
//!
//! ```json
//! {"currency": "USD"}                       -> {"crm": "USD", "accounting": "840"}
//! {"currency": "840", "from": "accounting"} -> {"crm": "USD", "accounting": "840"}
//! {"currency": "XYZ"}                       -> 400: no translation of crm/currency/XYZ into accounting/currency
//! ```
//!
//! The translations are the administrator's, not the service's: imported from a CSV
//! (`zato dictionary import currencies.csv`) with lines such as
//! `crm,currency,USD,accounting,currency,840`, and changed at run time without a
//! redeploy. A translation reads both ways, so one line serves both directions.

use serde::{Deserialize, Serialize};
use zato_sdk::dictionary;
use zato_sdk::prelude::*;

/// The dictionary's key both systems write currencies under.
const KEY: &str = "currency";
const CRM: &str = "crm";
const ACCOUNTING: &str = "accounting";

/// What the caller asks.
#[derive(Debug, Deserialize)]
struct Ask {
    currency: String,
    /// The system `currency` is written for: `crm` (the default) or `accounting`.
    #[serde(default)]
    from: Option<String>,
}

/// The code in both systems.
#[derive(Debug, Serialize, PartialEq, Eq)]
struct Codes {
    crm: String,
    accounting: String,
}

/// Translates a currency code between the CRM and the accounting system.
#[zato_sdk::service(
    name = "demo.currency",
    description = "Translates currency codes between the CRM and the accounting system",
    input = "currency: string",
    output = "crm: string, accounting: string"
)]
fn currency(req: Request) -> Result<Response, Error> {
    let ask: Ask = req.json()?;
    let codes = match ask.from.as_deref().unwrap_or(CRM) {
        CRM => Codes {
            accounting: dictionary::translate_required(CRM, KEY, &ask.currency, ACCOUNTING, KEY)?,
            crm: ask.currency,
        },
        ACCOUNTING => Codes {
            crm: dictionary::translate_required(ACCOUNTING, KEY, &ask.currency, CRM, KEY)?,
            accounting: ask.currency,
        },
        other => {
            return Err(Error::BadRequest(format!(
                "`from` is `{CRM}` or `{ACCOUNTING}`, not `{other}`"
            )));
        }
    };
    Response::json(&codes)
}

// The dictionary's stand-in (`set_native`) exists only outside a zato host.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use zato_sdk::serde_json::{self, Value, json};

    fn ask(body: &str) -> Result<Value, Error> {
        let input: Value = serde_json::from_str(body).unwrap();
        let response = currency(Request::builder().json(&input).build())?;
        Ok(serde_json::from_slice(response.payload()).unwrap())
    }

    #[test]
    fn translates_both_ways_and_names_what_is_missing() {
        dictionary::set_native("crm", "currency", "USD", "accounting", "currency", "840");
        let both = json!({"crm": "USD", "accounting": "840"});
        assert_eq!(ask(r#"{"currency": "USD"}"#).unwrap(), both);
        assert_eq!(
            ask(r#"{"currency": "840", "from": "accounting"}"#).unwrap(),
            both
        );
        let missing = ask(r#"{"currency": "XYZ"}"#).unwrap_err();
        assert_eq!(missing.status(), 400);
        assert!(
            missing.to_string().contains("crm/currency/XYZ"),
            "{missing}"
        );
        assert_eq!(
            ask(r#"{"currency": "USD", "from": "erp"}"#)
                .unwrap_err()
                .status(),
            400
        );
    }
}
