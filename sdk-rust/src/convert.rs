//! Conversions between the SDK's types and the `wit-bindgen` ones, all in one place so
//! that the rest of the SDK never sees a generated type.

use crate::bindings::zato::service::{log as wit_log, types as wit};
use crate::log::Level;
use crate::metadata::{Field, FieldType, ServiceInfo};
use crate::{ChannelKind, DataFormat, Error, Request, Response};

impl From<wit::Request> for Request {
    fn from(request: wit::Request) -> Self {
        Self::from_host(
            request.channel.into(),
            request.payload,
            request.data_format.into(),
        )
    }
}

impl From<Response> for wit::Response {
    fn from(response: Response) -> Self {
        Self {
            status: response.status,
            headers: response.headers,
            payload: response.payload,
        }
    }
}

impl From<wit::Response> for Response {
    fn from(response: wit::Response) -> Self {
        Self {
            status: response.status,
            headers: response.headers,
            payload: response.payload,
        }
    }
}

impl From<Error> for wit::Error {
    fn from(err: Error) -> Self {
        match err {
            Error::BadRequest(message) => Self::BadRequest(message),
            Error::Unauthorized(message) => Self::Unauthorized(message),
            Error::Forbidden(message) => Self::Forbidden(message),
            Error::NotFound(message) => Self::NotFound(message),
            Error::Conflict(message) => Self::Conflict(message),
            Error::Retry(message) => Self::Retry(message),
            Error::Internal(message) => Self::Internal(message),
        }
    }
}

impl From<wit::Error> for Error {
    fn from(err: wit::Error) -> Self {
        match err {
            wit::Error::BadRequest(message) => Self::BadRequest(message),
            wit::Error::Unauthorized(message) => Self::Unauthorized(message),
            wit::Error::Forbidden(message) => Self::Forbidden(message),
            wit::Error::NotFound(message) => Self::NotFound(message),
            wit::Error::Conflict(message) => Self::Conflict(message),
            wit::Error::Retry(message) => Self::Retry(message),
            wit::Error::Internal(message) => Self::Internal(message),
        }
    }
}

impl From<wit::ChannelKind> for ChannelKind {
    fn from(kind: wit::ChannelKind) -> Self {
        match kind {
            wit::ChannelKind::Http => Self::Http,
            wit::ChannelKind::Invoke => Self::Invoke,
            wit::ChannelKind::Admin => Self::Admin,
            wit::ChannelKind::Scheduler => Self::Scheduler,
            wit::ChannelKind::Amqp => Self::Amqp,
            wit::ChannelKind::Zeromq => Self::Zeromq,
            wit::ChannelKind::Soap => Self::Soap,
        }
    }
}

impl From<wit::DataFormat> for DataFormat {
    fn from(format: wit::DataFormat) -> Self {
        match format {
            wit::DataFormat::Json => Self::Json,
            wit::DataFormat::Xml => Self::Xml,
            wit::DataFormat::Raw => Self::Raw,
        }
    }
}

impl From<DataFormat> for wit::DataFormat {
    fn from(format: DataFormat) -> Self {
        match format {
            DataFormat::Json => Self::Json,
            DataFormat::Xml => Self::Xml,
            DataFormat::Raw => Self::Raw,
        }
    }
}

impl From<Level> for wit_log::Level {
    fn from(level: Level) -> Self {
        match level {
            Level::Trace => Self::Trace,
            Level::Debug => Self::Debug,
            Level::Info => Self::Info,
            Level::Warn => Self::Warn,
            Level::Error => Self::Error,
        }
    }
}

impl From<FieldType> for wit::FieldType {
    fn from(ty: FieldType) -> Self {
        match ty {
            FieldType::Any => Self::Any,
            FieldType::String => Self::String,
            FieldType::Integer => Self::Integer,
            FieldType::Number => Self::Number,
            FieldType::Boolean => Self::Boolean,
            FieldType::Object => Self::Object,
            FieldType::Array => Self::Array,
        }
    }
}

impl From<&Field> for wit::Field {
    fn from(field: &Field) -> Self {
        Self {
            name: field.name.to_owned(),
            type_: field.ty.into(),
            required: field.required,
        }
    }
}

impl From<&ServiceInfo> for wit::ServiceInfo {
    fn from(info: &ServiceInfo) -> Self {
        Self {
            name: info.name.to_owned(),
            description: info.description.to_owned(),
            input: info.input.iter().map(Into::into).collect(),
            output: info.output.iter().map(Into::into).collect(),
            slow_threshold_ms: info.slow_threshold_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_round_trip_through_the_wit_variant() {
        let errors = [
            Error::bad_request("a"),
            Error::unauthorized("b"),
            Error::forbidden("c"),
            Error::not_found("d"),
            Error::conflict("e"),
            Error::retry("f"),
            Error::internal("g"),
        ];
        for err in errors {
            let wit: wit::Error = err.clone().into();
            assert_eq!(Error::from(wit), err);
        }
    }

    #[test]
    fn request_keeps_what_the_host_passed() {
        let request = Request::from(wit::Request {
            channel: wit::ChannelKind::Soap,
            payload: b"<a/>".to_vec(),
            data_format: wit::DataFormat::Xml,
        });
        assert_eq!(request.channel_kind(), ChannelKind::Soap);
        assert_eq!(request.payload(), b"<a/>");
        assert_eq!(request.data_format(), DataFormat::Xml);
    }

    #[test]
    fn service_info_keeps_fields_in_order() {
        static INPUT: [Field; 2] = [
            Field {
                name: "first_name",
                ty: FieldType::String,
                required: true,
            },
            Field {
                name: "orders",
                ty: FieldType::Array,
                required: false,
            },
        ];
        let info = wit::ServiceInfo::from(&ServiceInfo {
            name: "demo.transform",
            description: "Transforms",
            input: &INPUT,
            output: &[],
            slow_threshold_ms: 250,
        });
        assert_eq!(info.name, "demo.transform");
        assert_eq!(info.description, "Transforms");
        assert_eq!(info.slow_threshold_ms, 250);
        assert!(info.output.is_empty());
        let input: Vec<_> = info
            .input
            .iter()
            .map(|field| (field.name.as_str(), field.type_, field.required))
            .collect();
        assert_eq!(
            input,
            [
                ("first_name", wit::FieldType::String, true),
                ("orders", wit::FieldType::Array, false)
            ]
        );
    }
}
