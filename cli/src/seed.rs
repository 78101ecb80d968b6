//! Seed: realistic generated data for every entity, the same for the same arguments.
//!
//! Every value comes from a ChaCha8 generator seeded with `--seed` (one
//! stream per tenant), and every timestamp is an offset from a fixed base
//! date, never the clock: two runs with the same arguments write identical
//! records. Users are generated and written a batch at a time, each batch
//! followed by its users' passwords, sessions, codes and logs, so memory
//! stays bounded whatever the number of users.

use std::collections::BTreeMap;
use std::time::Instant;

use adapter_interfaces::{
    AdapterError, Application, Code, CodeType, Connection, DataAdapters, EntityKind, JsonObject,
    Log, Password, PasswordAlgorithm, Secret, Session, Tenant, Timestamp, User,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::json;

use adapter_interfaces::EntityStore;

use crate::entity::{Entity, GLOBAL};
use crate::progress::Progress;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// Number of tenants.
    pub tenants: u32,
    /// Users in each tenant.
    pub users_per_tenant: u32,
    /// The random seed.
    pub seed: u64,
    /// Records per write.
    pub batch_size: usize,
}

impl Default for SeedOptions {
    fn default() -> Self {
        Self {
            tenants: 3,
            users_per_tenant: 100,
            seed: 42,
            batch_size: 500,
        }
    }
}

/// What a seed wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SeedReport {
    /// Records written per entity.
    pub counts: BTreeMap<EntityKind, u64>,
    /// Seconds taken.
    pub seconds: f64,
}

impl std::fmt::Display for SeedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .counts
            .iter()
            .map(|(kind, n)| format!("{n} {}", kind.table()))
            .collect();
        let total: u64 = self.counts.values().sum();
        write!(
            f,
            "seeded {} in {:.1}s ({:.0} rows/s)",
            parts.join(", "),
            self.seconds,
            if self.seconds > 0.0 {
                total as f64 / self.seconds
            } else {
                0.0
            }
        )
    }
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
#[error("writing seeded {entity} records failed: {source}")]
pub struct SeedError {
    /// The entity.
    pub entity: EntityKind,
    /// The adapter's error.
    pub source: AdapterError,
}

/// 2024-01-01T00:00:00.000Z, the base of every generated timestamp.
const BASE_MILLIS: i64 = 1_704_067_200_000;
const DAY: i64 = 86_400_000;

const COMPANIES: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Tyrell",
    "Wonka",
    "Cyberdyne",
];
const FIRST: &[&str] = &[
    "ada",
    "alan",
    "grace",
    "linus",
    "margaret",
    "dennis",
    "barbara",
    "ken",
    "frances",
    "edsger",
    "radia",
    "donald",
    "sophie",
    "tim",
    "hedy",
    "john",
    "katherine",
    "guido",
    "anita",
    "bjarne",
];
const LAST: &[&str] = &[
    "lovelace",
    "turing",
    "hopper",
    "torvalds",
    "hamilton",
    "ritchie",
    "liskov",
    "thompson",
    "allen",
    "dijkstra",
    "perlman",
    "knuth",
    "wilson",
    "berners-lee",
    "lamarr",
    "mccarthy",
    "johnson",
    "van-rossum",
    "borg",
    "stroustrup",
];
const LOCALES: &[&str] = &[
    "en-US", "en-GB", "fr-FR", "de-DE", "es-ES", "ja-JP", "pt-BR",
];
const DOMAINS: &[&str] = &["example.com", "example.org", "mail.example", "corp.example"];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Mobile/15E148",
];
const DB_CONNECTION: &str = "Username-Password-Authentication";

fn at(millis: i64) -> Timestamp {
    Timestamp::from_millis(millis)
        .unwrap_or_else(|| Timestamp::from_millis(BASE_MILLIS).unwrap_or_else(Timestamp::now))
}

/// Writes generated data for `options.tenants` tenants into `db`.
pub async fn seed(
    db: &DataAdapters,
    options: &SeedOptions,
    progress: &dyn Progress,
) -> Result<SeedReport, SeedError> {
    let started = Instant::now();
    let mut writer = Writer {
        db,
        batch: options.batch_size.clamp(1, 1000),
        counts: BTreeMap::new(),
    };
    let total_users = u64::from(options.tenants) * u64::from(options.users_per_tenant);
    progress.begin(EntityKind::User, Some(total_users), 0);
    for index in 0..options.tenants {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        rng.set_stream(u64::from(index));
        let mut tenant_gen = TenantGen::new(rng, index);
        writer
            .write(GLOBAL, vec![tenant_gen.tenant.clone()])
            .await?;
        let tenant_id = tenant_gen.tenant.id.clone();
        let connections = tenant_gen.connections();
        writer.write(&tenant_id, connections).await?;
        let applications = tenant_gen.applications();
        writer.write(&tenant_id, applications).await?;
        let mut done = 0;
        while done < options.users_per_tenant {
            let n = (options.users_per_tenant - done).min(writer.batch as u32);
            let mut children = Children::default();
            let users: Vec<User> = (done..done + n)
                .map(|i| tenant_gen.user(i, &mut children))
                .collect();
            writer.write(&tenant_id, users).await?;
            writer.write(&tenant_id, children.passwords).await?;
            writer.write(&tenant_id, children.sessions).await?;
            writer.write(&tenant_id, children.codes).await?;
            writer.write(&tenant_id, children.logs).await?;
            done += n;
            progress.advance(EntityKind::User, u64::from(n));
        }
    }
    let report = SeedReport {
        counts: writer.counts,
        seconds: started.elapsed().as_secs_f64(),
    };
    progress.end(EntityKind::User, &report.to_string());
    Ok(report)
}

struct Writer<'a> {
    db: &'a DataAdapters,
    batch: usize,
    counts: BTreeMap<EntityKind, u64>,
}

impl Writer<'_> {
    async fn write<R: Entity>(&mut self, scope: &str, records: Vec<R>) -> Result<(), SeedError> {
        let store = R::store(self.db);
        let mut records = records.into_iter().peekable();
        while records.peek().is_some() {
            let chunk: Vec<R> = records.by_ref().take(self.batch).collect();
            let n = chunk.len() as u64;
            store
                .upsert_many(scope, chunk)
                .await
                .map_err(|source| SeedError {
                    entity: R::KIND,
                    source,
                })?;
            *self.counts.entry(R::KIND).or_default() += n;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Children {
    passwords: Vec<Password>,
    sessions: Vec<Session>,
    codes: Vec<Code>,
    logs: Vec<Log>,
}

struct TenantGen {
    rng: ChaCha8Rng,
    tenant: Tenant,
    client_ids: Vec<(String, String)>,
}

impl TenantGen {
    fn new(mut rng: ChaCha8Rng, index: u32) -> Self {
        let company = COMPANIES[index as usize % COMPANIES.len()];
        let created = BASE_MILLIS + rng.random_range(0..30 * DAY);
        let slug = company.to_ascii_lowercase();
        let tenant = Tenant {
            id: format!("tenant-{:03}", index + 1),
            friendly_name: if index as usize >= COMPANIES.len() {
                format!("{company} {}", index + 1)
            } else {
                format!("{company} Inc.")
            },
            audience: Some(format!("https://api.{slug}.example/")),
            sender_email: Some(format!("no-reply@{slug}.example")),
            sender_name: Some(company.to_owned()),
            support_url: rng
                .random_bool(0.7)
                .then(|| format!("https://support.{slug}.example")),
            session_lifetime: Some([3_600, 86_400, 604_800][rng.random_range(0..3)]),
            created_at: at(created),
            updated_at: at(created + rng.random_range(0..DAY)),
        };
        Self {
            rng,
            tenant,
            client_ids: Vec::new(),
        }
    }

    fn hex(&mut self, n: usize) -> String {
        const HEX: &[u8] = b"0123456789abcdef";
        (0..n)
            .map(|_| HEX[self.rng.random_range(0..16)] as char)
            .collect()
    }

    fn alnum(&mut self, n: usize) -> String {
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| CHARS[self.rng.random_range(0..CHARS.len())] as char)
            .collect()
    }

    fn pick<'s>(&mut self, items: &'s [&'s str]) -> &'s str {
        items[self.rng.random_range(0..items.len())]
    }

    fn after(&mut self, millis: i64, max: i64) -> i64 {
        millis + self.rng.random_range(0..max.max(1))
    }

    fn ip(&mut self) -> String {
        format!(
            "203.0.113.{}",
            self.rng.random_range(1..255) // TEST-NET-3: documentation addresses
        )
    }

    fn connections(&mut self) -> Vec<Connection> {
        let created = self.tenant.created_at.as_millis();
        let specs = [
            (DB_CONNECTION, "auth0", "Email and password"),
            ("google-oauth2", "google-oauth2", "Google"),
            ("email", "email", "Passwordless email"),
        ];
        specs
            .into_iter()
            .map(|(name, strategy, display)| {
                let options = match strategy {
                    "auth0" => json!({
                        "passwordPolicy": "good",
                        "brute_force_protection": true,
                        "password_complexity_options": {"min_length": 10}
                    }),
                    "google-oauth2" => json!({"client_id": format!("{}.apps.example", self.hex(12)), "scope": ["email", "profile"]}),
                    _ => json!({"otp_length": 6, "otp_expiry_seconds": 300}),
                };
                let c = self.after(created, DAY);
                Connection {
                    id: format!("con_{}", self.alnum(16)),
                    name: name.to_owned(),
                    strategy: strategy.to_owned(),
                    display_name: Some(display.to_owned()),
                    options: as_object(options),
                    enabled_clients: Vec::new(),
                    created_at: at(c),
                    updated_at: at(self.after(c, DAY)),
                }
            })
            .collect()
    }

    fn applications(&mut self) -> Vec<Application> {
        let created = self.tenant.created_at.as_millis();
        let slug = self.tenant.id.clone();
        let specs = [
            ("Web Dashboard", "regular_web", true),
            ("Mobile App", "native", false),
            ("Billing Service", "non_interactive", true),
            ("Storefront", "spa", false),
        ];
        let apps: Vec<Application> = specs
            .into_iter()
            .map(|(name, app_type, confidential)| {
                let c = self.after(created, 2 * DAY);
                let base = format!(
                    "https://{}.{slug}.example",
                    name.to_ascii_lowercase().replace(' ', "-")
                );
                let interactive = app_type != "non_interactive";
                let mut metadata = BTreeMap::new();
                metadata.insert(
                    "team".to_owned(),
                    self.pick(&["identity", "growth", "payments"]).to_owned(),
                );
                if self.rng.random_bool(0.5) {
                    metadata.insert("tier".to_owned(), "gold".to_owned());
                }
                Application {
                    client_id: self.alnum(32),
                    name: name.to_owned(),
                    client_secret: confidential.then(|| Secret::new(self.alnum(64))),
                    app_type: Some(app_type.to_owned()),
                    callbacks: if interactive {
                        vec![format!("{base}/callback"), format!("{base}/login/callback")]
                    } else {
                        Vec::new()
                    },
                    allowed_origins: if interactive {
                        vec![base.clone()]
                    } else {
                        Vec::new()
                    },
                    web_origins: if app_type == "spa" {
                        vec![base.clone()]
                    } else {
                        Vec::new()
                    },
                    allowed_logout_urls: if interactive {
                        vec![format!("{base}/")]
                    } else {
                        Vec::new()
                    },
                    grant_types: match app_type {
                        "non_interactive" => vec!["client_credentials".to_owned()],
                        "spa" => vec!["authorization_code".to_owned(), "refresh_token".to_owned()],
                        _ => vec![
                            "authorization_code".to_owned(),
                            "refresh_token".to_owned(),
                            "password".to_owned(),
                        ],
                    },
                    is_first_party: true,
                    client_metadata: metadata,
                    created_at: at(c),
                    updated_at: at(self.after(c, 3 * DAY)),
                }
            })
            .collect();
        self.client_ids = apps
            .iter()
            .map(|a| (a.client_id.clone(), a.name.clone()))
            .collect();
        apps
    }

    /// User number `n` of the tenant, and its passwords, sessions, codes and logs.
    fn user(&mut self, n: u32, children: &mut Children) -> User {
        let first = self.pick(FIRST);
        let last = self.pick(LAST);
        let domain = self.pick(DOMAINS);
        let roll = self.rng.random_range(0..100);
        let (provider, connection, user_id) = if roll < 70 {
            ("auth0", DB_CONNECTION, format!("auth0|{}", self.hex(24)))
        } else if roll < 95 {
            let id: String = (0..21)
                .map(|_| char::from(b'0' + self.rng.random_range(0..10u8)))
                .collect();
            (
                "google-oauth2",
                "google-oauth2",
                format!("google-oauth2|{id}"),
            )
        } else {
            ("email", "email", format!("email|{}", self.hex(24)))
        };
        let created = self.after(self.tenant.created_at.as_millis() + DAY, 300 * DAY);
        let logins = self.rng.random_range(0..200i64);
        let last_login = (logins > 0).then(|| self.after(created, 60 * DAY));
        let updated = last_login
            .unwrap_or(created)
            .max(self.after(created, 10 * DAY));
        let mut app_metadata = JsonObject::new();
        app_metadata.insert(
            "plan".into(),
            json!(self.pick(&["free", "pro", "enterprise"])),
        );
        if self.rng.random_bool(0.3) {
            app_metadata.insert("roles".into(), json!(["admin", "billing"]));
        }
        let mut user_metadata = JsonObject::new();
        if self.rng.random_bool(0.6) {
            user_metadata.insert("theme".into(), json!(self.pick(&["light", "dark"])));
            user_metadata.insert("newsletter".into(), json!(self.rng.random_bool(0.5)));
        }
        let user = User {
            user_id: user_id.clone(),
            email: Some(format!("{first}.{last}.{n}@{domain}")),
            email_verified: provider != "auth0" || self.rng.random_bool(0.8),
            username: (connection == DB_CONNECTION && self.rng.random_bool(0.5))
                .then(|| format!("{first}{n}")),
            phone_number: self
                .rng
                .random_bool(0.3)
                .then(|| format!("+1555{:07}", self.rng.random_range(0..10_000_000))),
            phone_verified: self.rng.random_bool(0.2),
            name: Some(format!("{} {}", capitalize(first), capitalize(last))),
            given_name: Some(capitalize(first)),
            family_name: Some(capitalize(last)),
            nickname: Some(first.to_owned()),
            picture: Some(format!("https://avatars.example/{}.png", self.hex(16))),
            locale: Some(self.pick(LOCALES).to_owned()),
            provider: provider.to_owned(),
            connection: connection.to_owned(),
            is_social: provider == "google-oauth2",
            blocked: self.rng.random_bool(0.02),
            linked_to: None,
            last_ip: last_login.map(|_| self.ip()),
            last_login: last_login.map(at),
            login_count: logins,
            app_metadata,
            user_metadata,
            created_at: at(created),
            updated_at: at(updated),
        };
        if connection == DB_CONNECTION {
            self.passwords(&user_id, created, children);
        }
        if let Some(login) = last_login {
            if self.rng.random_bool(0.6) {
                children.sessions.push(self.session(&user_id, login));
            }
            let count = self.rng.random_range(1..3);
            for _ in 0..count {
                children.logs.push(self.log(&user, login));
            }
        } else {
            children.logs.push(self.log(&user, created));
        }
        if self.rng.random_bool(0.25) {
            children.codes.push(self.code(&user_id, created));
        }
        user
    }

    fn passwords(&mut self, user_id: &str, created: i64, children: &mut Children) {
        let algorithm = if self.rng.random_bool(0.7) {
            PasswordAlgorithm::Bcrypt
        } else {
            PasswordAlgorithm::Argon2id
        };
        let hash = |this: &mut Self| match algorithm {
            PasswordAlgorithm::Bcrypt => format!("$2b$10${}", this.alnum(53)),
            // Seeds draw bcrypt or Argon2id only.
            _ => format!(
                "$argon2id$v=19$m=19456,t=2,p=1${}${}",
                this.alnum(22),
                this.alnum(43)
            ),
        };
        let mut current_created = created;
        if self.rng.random_bool(0.2) {
            // A rotated password: demoted when the current one was set, at that instant.
            let rotated = self.after(created, 90 * DAY) + 1;
            children.passwords.push(Password {
                id: self.hex(24),
                user_id: user_id.to_owned(),
                password: Secret::new(hash(self)),
                algorithm,
                is_current: false,
                created_at: at(created),
                updated_at: at(rotated),
            });
            current_created = rotated;
        }
        children.passwords.push(Password {
            id: self.hex(24),
            user_id: user_id.to_owned(),
            password: Secret::new(hash(self)),
            algorithm,
            is_current: true,
            created_at: at(current_created),
            updated_at: at(current_created),
        });
    }

    fn session(&mut self, user_id: &str, login: i64) -> Session {
        let clients: Vec<String> = self
            .client_ids
            .iter()
            .filter(|_| self.rng.random_bool(0.5))
            .map(|(id, _)| id.clone())
            .collect();
        let last = self.after(login, DAY);
        let revoked = self.rng.random_bool(0.1).then(|| at(self.after(last, DAY)));
        let mut device = JsonObject::new();
        device.insert("last_ip".into(), json!(self.ip()));
        device.insert("last_user_agent".into(), json!(self.pick(AGENTS)));
        Session {
            id: self.hex(32),
            user_id: user_id.to_owned(),
            login_session_id: Some(self.hex(20)),
            device,
            clients,
            expires_at: Some(at(login + 30 * DAY)),
            idle_expires_at: Some(at(last + 3 * DAY)),
            authenticated_at: Some(at(login)),
            last_interaction_at: Some(at(last)),
            used_at: Some(at(last)),
            revoked_at: revoked,
            created_at: at(login),
            updated_at: at(last),
        }
    }

    fn code(&mut self, user_id: &str, created: i64) -> Code {
        let code_type = [
            CodeType::PasswordReset,
            CodeType::EmailVerification,
            CodeType::Otp,
            CodeType::AuthorizationCode,
            CodeType::Oauth2State,
            CodeType::Ticket,
        ][self.rng.random_range(0..6)];
        let issued = self.after(created, 30 * DAY);
        let pkce = code_type == CodeType::AuthorizationCode;
        Code {
            code_id: self.hex(32),
            code_type,
            login_id: Some(self.hex(20)),
            user_id: Some(user_id.to_owned()),
            expires_at: at(issued + 600_000),
            used_at: self
                .rng
                .random_bool(0.4)
                .then(|| at(self.after(issued, 600_000))),
            redirect_uri: pkce.then(|| format!("https://app.{}.example/callback", self.tenant.id)),
            code_challenge: pkce.then(|| self.alnum(43)),
            code_challenge_method: pkce.then(|| "S256".to_owned()),
            state: pkce.then(|| self.alnum(24)),
            nonce: pkce.then(|| self.alnum(16)),
            created_at: at(issued),
        }
    }

    fn log(&mut self, user: &User, when: i64) -> Log {
        let (log_type, description) = match self.rng.random_range(0..10) {
            0 => ("f", "Wrong email or password."),
            1 => ("ss", "Successful signup"),
            2 => ("slo", "User successfully logged out"),
            3 => ("fp", "Wrong password"),
            _ => ("s", "Successful login"),
        };
        let client = (!self.client_ids.is_empty())
            .then(|| self.client_ids[self.rng.random_range(0..self.client_ids.len())].clone());
        let mut details = JsonObject::new();
        details.insert(
            "prompts".into(),
            json!([{"name": "login", "elapsedTime": self.rng.random_range(20..2000)}]),
        );
        Log {
            log_id: format!("{:013}{}", when, self.hex(11)),
            log_type: log_type.to_owned(),
            date: at(self.after(when, 1000)),
            description: Some(description.to_owned()),
            ip: Some(self.ip()),
            user_agent: Some(self.pick(AGENTS).to_owned()),
            user_id: Some(user.user_id.clone()),
            user_name: user.email.clone(),
            connection: Some(user.connection.clone()),
            client_id: client.as_ref().map(|(id, _)| id.clone()),
            client_name: client.map(|(_, name)| name),
            details,
        }
    }
}

fn as_object(value: serde_json::Value) -> JsonObject {
    match value {
        serde_json::Value::Object(map) => map,
        _ => JsonObject::new(),
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Silent;
    use crate::verify::{VerifyOptions, verify};
    use adapter_interfaces::{ListParams, memory};

    #[tokio::test]
    async fn the_same_seed_gives_the_same_data_and_every_entity_gets_some() {
        let options = SeedOptions {
            tenants: 2,
            users_per_tenant: 40,
            seed: 11,
            batch_size: 7,
        };
        let a = memory::adapters();
        let b = memory::adapters();
        let report = seed(&a, &options, &Silent).await.unwrap();
        seed(
            &b,
            &SeedOptions {
                batch_size: 100,
                ..options.clone()
            },
            &Silent,
        )
        .await
        .unwrap();
        for kind in EntityKind::ALL {
            assert!(
                report.counts.get(&kind).copied().unwrap_or(0) > 0,
                "no {kind}"
            );
        }
        assert_eq!(report.counts[&EntityKind::User], 80);
        let same = verify(&a, &b, &VerifyOptions::default(), &Silent)
            .await
            .unwrap();
        assert!(same.identical, "{same}");
        let c = memory::adapters();
        seed(
            &c,
            &SeedOptions {
                seed: 12,
                ..options
            },
            &Silent,
        )
        .await
        .unwrap();
        let other = verify(&a, &c, &VerifyOptions::default(), &Silent)
            .await
            .unwrap();
        assert!(!other.identical);
        // Exactly one current password per database user.
        let tenant = "tenant-001";
        let passwords = a
            .passwords
            .list(tenant, &ListParams::default().with_per_page(1000))
            .await
            .unwrap()
            .items;
        let mut current = std::collections::HashMap::new();
        for p in &passwords {
            *current.entry(p.user_id.clone()).or_insert(0) += u32::from(p.is_current);
        }
        assert!(current.values().all(|n| *n == 1), "{current:?}");
    }
}
