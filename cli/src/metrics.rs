//! The Prometheus endpoint of long-running commands (`relay`, `traffic`):
//! `--metrics-addr 127.0.0.1:9464` serves `GET /metrics` with every figure
//! the passthrough records through the `metrics` facade
//! (`switchyard_passthrough_*`; see `docs/grafana/passthrough.json`).
//!
//! Crates: `metrics-exporter-prometheus` renders the exposition format (its
//! own HTTP listener is left out, minimal features); `axum`, already in the
//! tree, serves it. An application does the same in one line with the
//! exporter's `http-listener` feature (see the README).

use std::net::SocketAddr;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: from a cached read to a slow copy.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// How often the recorder's upkeep (draining histograms) runs.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The recorder could not be built or installed (another is installed).
    #[error("cannot install the Prometheus recorder: {0}")]
    Recorder(#[from] metrics_exporter_prometheus::BuildError),
    /// The address is taken or not ours.
    #[error("cannot serve metrics on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Installs the Prometheus recorder as the process's `metrics` recorder and
/// serves `GET /metrics` on `addr` until the process ends. Returns the bound
/// address (port 0 picks a free one).
pub async fn serve(addr: SocketAddr) -> Result<SocketAddr, MetricsError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &LATENCY_BUCKETS)?
        .install_recorder()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| MetricsError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| MetricsError::Bind { addr, source })?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || render(handle.clone())),
    );
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the metrics endpoint stopped");
        }
    });
    tracing::info!(%bound, "serving Prometheus metrics on /metrics");
    Ok(bound)
}

async fn render(handle: PrometheusHandle) -> String {
    handle.render()
}
