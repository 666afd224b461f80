//! Logs and traces: `tracing` with JSON lines on stderr, spans exported over OTLP/gRPC when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and W3C `traceparent` for HTTP and Kafka headers.
//!
//! Spans always carry OpenTelemetry trace ids, exported or not, so a trace id written
//! into a Kafka header by one service can be picked up by the consumer that continues it.

use std::collections::HashMap;

use opentelemetry::{
    propagation::TextMapPropagator,
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider, Resource};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

use crate::config::{LogFormat, Settings};

/// Telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built.
    #[error("OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry::trace::TraceError),
    /// A global subscriber was already installed.
    #[error("tracing subscriber: {0}")]
    Subscriber(#[from] tracing_subscriber::util::TryInitError),
    /// The log filter does not parse.
    #[error("log filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
}

/// Keeps the tracer provider alive; [`Telemetry::shutdown`] flushes unexported spans.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Flushes and stops span export. Call once, last thing before exit.
    pub fn shutdown(self) {
        if let Err(err) = self.provider.shutdown() {
            eprintln!("telemetry shutdown: {err}");
        }
    }
}

/// Installs the global subscriber for a process named `service`.
pub fn init(settings: &Settings, service: &str) -> Result<Telemetry, TelemetryError> {
    let provider = tracer_provider(settings, service)?;
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("bazaar"));
    let filter = EnvFilter::try_new(&settings.log_filter)?;
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    match settings.log_format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .with_writer(std::io::stderr)
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init()?,
        LogFormat::Pretty => registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .try_init()?,
    }
    Ok(Telemetry { provider })
}

fn tracer_provider(
    settings: &Settings,
    service: &str,
) -> Result<SdkTracerProvider, TelemetryError> {
    let mut builder = SdkTracerProvider::builder().with_resource(
        Resource::builder()
            .with_service_name(service.to_owned())
            .build(),
    );
    if let Some(endpoint) = &settings.otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    Ok(builder.build())
}

/// The W3C `traceparent` of `span`, for an outgoing HTTP request or Kafka message.
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    carrier.remove("traceparent")
}

/// A span for handing an event to Kafka, a child of the span that wrote it (its
/// `traceparent`), named and described as OpenTelemetry's messaging conventions say.
pub fn publish_span(topic: &str, event_type: &str, traceparent: Option<&str>) -> tracing::Span {
    let span = tracing::info_span!(
        "publish",
        otel.name = format!("publish {topic}"),
        otel.kind = "producer",
        messaging.system = "kafka",
        messaging.operation.type = "send",
        messaging.destination.name = topic,
        event_type,
    );
    if let Some(traceparent) = traceparent {
        set_parent_from_traceparent(&span, traceparent);
    }
    span
}

/// A span for a consumer applying an event, a child of the span that wrote it (its
/// `traceparent`): one checkout is one trace, across HTTP and every consumer.
pub fn process_span(
    consumer: &str,
    topic: &str,
    event_type: &str,
    traceparent: Option<&str>,
) -> tracing::Span {
    let span = tracing::info_span!(
        "process",
        otel.name = format!("process {event_type}"),
        otel.kind = "consumer",
        messaging.system = "kafka",
        messaging.operation.type = "process",
        messaging.destination.name = topic,
        messaging.consumer.group.name = consumer,
        event_type,
    );
    if let Some(traceparent) = traceparent {
        set_parent_from_traceparent(&span, traceparent);
    }
    span
}

/// Makes `span` a child of the remote span named by a `traceparent` header. A malformed
/// value is ignored: a bad header must not fail the request or the message.
pub fn set_parent_from_traceparent(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    if context.span().span_context().is_valid() {
        span.set_parent(context);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_tracing(test: impl FnOnce()) {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, test);
    }

    #[test]
    fn a_span_continues_the_trace_named_by_traceparent() {
        with_tracing(|| {
            let remote = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
            let span = tracing::info_span!("consume");
            set_parent_from_traceparent(&span, remote);
            let outgoing = traceparent(&span).expect("a traceparent");
            let parts: Vec<&str> = outgoing.split('-').collect();
            assert_eq!(parts[0], "00");
            assert_eq!(parts[1], "4bf92f3577b34da6a3ce929d0e0e4736", "same trace");
            assert_ne!(parts[2], "00f067aa0ba902b7", "a new span of its own");
            assert_eq!(parts[3], "01", "still sampled");
        });
    }

    #[test]
    fn a_malformed_traceparent_starts_a_new_trace() {
        with_tracing(|| {
            let span = tracing::info_span!("consume");
            set_parent_from_traceparent(&span, "not-a-traceparent");
            let outgoing = traceparent(&span).expect("a traceparent");
            assert_eq!(outgoing.len(), 55);
        });
    }
}
