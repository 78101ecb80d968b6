//! Serves a migration passthrough's status over HTTP, as the seed's
//! `/migration-status` endpoint does, plus a stage switch.
//!
//! ```text
//! cargo run -p switchyard-identity-passthrough --example status_server            # serves on 127.0.0.1:3000
//! curl -s localhost:3000/migration-status
//! curl -s -X POST localhost:3000/stage/live                   # switch-over (roll-back: /stage/dual-write)
//! cargo run -p switchyard-identity-passthrough --example status_server -- --once  # one request to itself, printed, then exit
//! ```

use std::sync::Arc;

use adapter_interfaces::{TenantInsert, UserInsert, memory};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use passthrough::{MigrationController, Passthrough, Stage, StageChange, StatusReport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone)]
struct App {
    passthrough: Passthrough,
    controller: Arc<MigrationController>,
}

async fn status(State(app): State<App>) -> Json<StatusReport> {
    Json(app.passthrough.status().await)
}

async fn set_stage(
    State(app): State<App>,
    Path(stage): Path<String>,
) -> Result<Json<StageChange>, (StatusCode, String)> {
    // `live`, `dual-write`, `dual_write`, ...
    let stage: Stage = stage
        .parse()
        .map_err(|e: passthrough::UnknownStage| (StatusCode::BAD_REQUEST, e.to_string()))?;
    app.controller
        .set_stage(stage)
        .await
        .map(Json)
        .map_err(|e| (StatusCode::CONFLICT, e.to_string()))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let once = std::env::args().any(|a| a == "--once");
    let controller = MigrationController::new(Stage::DualWrite);
    let passthrough =
        Passthrough::migration(memory::adapters(), memory::adapters(), controller.clone())
            .build()?;

    // Some traffic, so the report has something to say.
    let db = passthrough.adapters();
    let tenant = db
        .tenants
        .create(TenantInsert {
            friendly_name: "Acme".into(),
            ..Default::default()
        })
        .await?;
    for n in 0..3 {
        let email = format!("user{n}@example.com");
        db.users
            .create(
                &tenant.id,
                UserInsert {
                    email: Some(email),
                    connection: "db".into(),
                    ..Default::default()
                },
            )
            .await?;
    }
    passthrough.flush().await?;

    let app = Router::new()
        .route("/migration-status", get(status))
        .route("/stage/{stage}", post(set_stage))
        .with_state(App {
            passthrough,
            controller,
        });
    let listener = tokio::net::TcpListener::bind(if once {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:3000"
    })
    .await?;
    let address = listener.local_addr()?;
    if !once {
        println!("serving http://{address}/migration-status");
        axum::serve(listener, app).await?;
        return Ok(());
    }
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream
        .write_all(
            b"GET /migration-status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let report: serde_json::Value = serde_json::from_str(body)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if report["status"] != "healthy" {
        return Err("the status is not healthy".into());
    }
    Ok(())
}
