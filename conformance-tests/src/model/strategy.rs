//! Strategies for operations: what each entity's inserts, patches, exact
//! records, listings and `q` filters look like.

use adapter_interfaces::record::Column;
use adapter_interfaces::{Capabilities, ColumnKind, EntityKind, SortOrder};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value as Json};

use super::op::{Join, KeyRef, ListSpec, Op, QSpec, QTerm, QValue, TenantRef};
use super::values::{self, Style};
use super::{columns, placeholder};

/// How a field of an insert or patch is generated.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text(usize, Style),
    OptText(usize, Style),
    Enum(&'static [&'static str]),
    Bool,
    Int,
    OptInt,
    OptTs,
    Ts,
    Obj,
    List(Style),
    Map,
    Ref(EntityKind),
    OptRef(EntityKind),
    RefList(EntityKind),
}

/// A field: name, generator, and whether patches may carry it.
type Field = (&'static str, Kind, bool);

use EntityKind as E;
use Kind::*;

const TENANT: &[Field] = &[
    ("friendly_name", Text(255, Style::Free), true),
    ("audience", OptText(2048, Style::Url), true),
    ("sender_email", OptText(320, Style::Email), true),
    ("sender_name", OptText(255, Style::Free), true),
    ("support_url", OptText(2048, Style::Url), true),
    ("session_lifetime", OptInt, true),
];

const USER: &[Field] = &[
    ("email", OptText(320, Style::Email), true),
    ("email_verified", Bool, true),
    ("username", OptText(128, Style::Short), true),
    ("phone_number", OptText(32, Style::Free), true),
    ("phone_verified", Bool, true),
    ("name", OptText(255, Style::Free), true),
    ("given_name", OptText(255, Style::Free), true),
    ("family_name", OptText(255, Style::Free), true),
    ("nickname", OptText(255, Style::Free), true),
    ("picture", OptText(2048, Style::Url), true),
    ("locale", OptText(32, Style::Short), true),
    ("connection", Text(128, Style::Short), false),
    ("is_social", Bool, false),
    ("blocked", Bool, true),
    ("linked_to", OptRef(E::User), true),
    ("last_ip", OptText(64, Style::Free), true),
    ("last_login", OptTs, true),
    ("login_count", Int, true),
    ("app_metadata", Obj, true),
    ("user_metadata", Obj, true),
];

const APPLICATION: &[Field] = &[
    ("name", Text(255, Style::Free), true),
    ("client_secret", OptText(1024, Style::Secret), true),
    ("app_type", OptText(32, Style::Short), true),
    ("callbacks", List(Style::Url), true),
    ("allowed_origins", List(Style::Url), true),
    ("web_origins", List(Style::Url), true),
    ("allowed_logout_urls", List(Style::Url), true),
    ("grant_types", List(Style::Short), true),
    ("is_first_party", Bool, true),
    ("client_metadata", Map, true),
];

const CONNECTION: &[Field] = &[
    ("name", Text(128, Style::Short), true),
    ("strategy", Text(64, Style::Short), true),
    ("display_name", OptText(255, Style::Free), true),
    ("options", Obj, true),
    ("enabled_clients", RefList(E::Application), true),
];

const SESSION: &[Field] = &[
    ("user_id", Ref(E::User), false),
    ("login_session_id", OptText(255, Style::Id), false),
    ("device", Obj, true),
    ("clients", RefList(E::Application), true),
    ("expires_at", OptTs, true),
    ("idle_expires_at", OptTs, true),
    ("authenticated_at", OptTs, false),
    ("last_interaction_at", OptTs, true),
    ("used_at", OptTs, true),
    ("revoked_at", OptTs, true),
];

const CODE_TYPES: &[&str] = &[
    "password_reset",
    "email_verification",
    "otp",
    "authorization_code",
    "oauth2_state",
    "ticket",
];

const CODE: &[Field] = &[
    ("code_type", Enum(CODE_TYPES), false),
    ("login_id", OptText(255, Style::Id), false),
    ("user_id", OptRef(E::User), false),
    ("expires_at", Ts, false),
    ("used_at", OptTs, false),
    ("redirect_uri", OptText(2048, Style::Url), false),
    ("code_challenge", OptText(255, Style::Free), false),
    ("code_challenge_method", OptText(16, Style::Short), false),
    ("state", OptText(2048, Style::Free), false),
    ("nonce", OptText(255, Style::Free), false),
];

const PASSWORD: &[Field] = &[
    ("user_id", Ref(E::User), false),
    ("password", Text(1024, Style::Secret), false),
    (
        "algorithm",
        Enum(&[
            "bcrypt", "argon2id", "argon2i", "argon2d", "pbkdf2", "scrypt", "ldap", "hmac", "md4",
            "md5", "sha1", "sha256", "sha512",
        ]),
        false,
    ),
];

const LOG: &[Field] = &[
    ("type", Text(32, Style::Short), false),
    ("description", OptText(2048, Style::Free), false),
    ("ip", OptText(64, Style::Free), false),
    ("user_agent", OptText(1024, Style::Free), false),
    ("user_id", OptRef(E::User), false),
    ("user_name", OptText(255, Style::Free), false),
    ("connection", OptText(128, Style::Short), false),
    ("client_id", OptRef(E::Application), false),
    ("client_name", OptText(255, Style::Free), false),
    ("details", Obj, false),
];

fn fields(entity: EntityKind) -> &'static [Field] {
    match entity {
        E::Tenant => TENANT,
        E::User => USER,
        E::Application => APPLICATION,
        E::Connection => CONNECTION,
        E::Session => SESSION,
        E::Code => CODE,
        E::Password => PASSWORD,
        E::Log => LOG,
    }
}

/// The clock-stamped fields of an entity: what `create` fills in when the
/// insert leaves them out.
pub(crate) fn stamp_fields(entity: EntityKind) -> &'static [&'static str] {
    match entity {
        E::Code => &["created_at"],
        E::Log => &["date"],
        _ => &["created_at", "updated_at"],
    }
}

fn reference(entity: EntityKind) -> BoxedStrategy<Json> {
    prop_oneof![
        12 => any::<u8>().prop_map(move |n| Json::String(placeholder(entity, n))),
        1 => Just(Json::String(match entity {
            E::User => "auth0|ghost".to_owned(),
            _ => "ghost".to_owned(),
        })),
    ]
    .boxed()
}

fn value(kind: Kind) -> BoxedStrategy<Json> {
    let nullable = |s: BoxedStrategy<Json>| prop_oneof![1 => Just(Json::Null), 2 => s].boxed();
    match kind {
        Text(max, style) => values::text(max, style).prop_map(Json::String).boxed(),
        OptText(max, style) => nullable(value(Text(max, style))),
        Enum(names) => select(names).prop_map(Json::from).boxed(),
        Bool => any::<bool>().prop_map(Json::Bool).boxed(),
        Int => values::integer().prop_map(Json::from).boxed(),
        OptInt => nullable(value(Int)),
        Ts => values::timestamp_json(),
        OptTs => nullable(values::timestamp_json()),
        Obj => values::json_object(),
        List(style) => values::string_list(style),
        Map => values::string_map(),
        Ref(entity) => reference(entity),
        OptRef(entity) => nullable(reference(entity)),
        RefList(entity) => vec(
            prop_oneof![2 => reference(entity), 1 => values::text(64, Style::Id).prop_map(Json::String)],
            0..3,
        )
        .prop_map(Json::Array)
        .boxed(),
    }
}

fn object(pairs: Vec<(&'static str, Json)>) -> Map<String, Json> {
    pairs
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// A caller-supplied key for a new record.
fn caller_key(entity: EntityKind) -> BoxedStrategy<String> {
    match entity {
        E::Tenant => prop_oneof![
            40 => select(vec!["t1", "T1", "tenant-2", "Z_9", "x-y", "tX"]).prop_map(str::to_owned),
            4 => Just(format!("t{}", "Q".repeat(63))),
            1 => Just("bad id!".to_owned()),
        ]
        .boxed(),
        E::User => (
            select(vec!["auth0", "google-oauth2", "Auth0", "samlp"]),
            values::id_word(200),
        )
            .prop_map(|(provider, id)| format!("{provider}|{id}"))
            .boxed(),
        E::Connection => (any::<bool>(), values::id_word(200))
            .prop_map(|(prefix, id)| if prefix { format!("con_{id}") } else { id })
            .boxed(),
        _ => values::id_word(255),
    }
}

/// The key of an insert: a caller id (often colliding), generated, or an existing key.
fn insert_key(entity: EntityKind) -> BoxedStrategy<Option<Json>> {
    prop_oneof![
        6 => caller_key(entity).prop_map(|k| Some(Json::String(k))),
        3 => Just(None),
        1 => any::<u8>().prop_map(move |n| Some(Json::String(placeholder(entity, n)))),
    ]
    .boxed()
}

fn key_name(entity: EntityKind) -> &'static str {
    columns(entity)[0].name
}

/// An insert (a JSON object of the entity's insert type).
pub fn insert(entity: EntityKind) -> BoxedStrategy<Map<String, Json>> {
    let field_values: Vec<BoxedStrategy<(&'static str, Json)>> = fields(entity)
        .iter()
        .map(|&(name, kind, _)| value(kind).prop_map(move |v| (name, v)).boxed())
        .collect();
    let stamps = stamp_fields(entity);
    // Mostly exact copies (comparable to the byte); sometimes stamped by the clock.
    let stamp_values = prop_oneof![
        5 => vec(values::timestamp_json(), stamps.len()..=stamps.len()),
        1 => values::timestamp_json().prop_map(|t| vec![t]),
        2 => Just(Vec::new()),
    ];
    let is_current = prop_oneof![4 => Just(true), 1 => Just(false)];
    (insert_key(entity), stamp_values, field_values, is_current)
        .prop_map(move |(key, stamp_values, pairs, is_current)| {
            let mut map = object(pairs);
            if let Some(key) = key {
                map.insert(key_name(entity).to_owned(), key);
            }
            for (name, value) in stamps.iter().zip(stamp_values) {
                map.insert((*name).to_owned(), value);
            }
            if entity == E::Password {
                map.insert("is_current".into(), Json::Bool(is_current));
            }
            map
        })
        .boxed()
}

/// An exact record for `upsert`: a caller key (or an existing one) and every stamp given.
pub fn exact_record(entity: EntityKind) -> BoxedStrategy<Map<String, Json>> {
    let key = prop_oneof![
        3 => caller_key(entity).prop_map(Json::String),
        2 => any::<u8>().prop_map(move |n| Json::String(placeholder(entity, n))),
    ];
    let stamps = stamp_fields(entity);
    (
        insert(entity),
        key,
        vec(values::timestamp_json(), stamps.len()..=stamps.len()),
    )
        .prop_map(move |(mut map, key, stamp_values)| {
            map.insert(key_name(entity).to_owned(), key);
            for (name, value) in stamps.iter().zip(stamp_values) {
                map.insert((*name).to_owned(), value);
            }
            map
        })
        .boxed()
}

/// A patch: a few of the patchable fields, set or cleared.
pub fn patch(entity: EntityKind) -> BoxedStrategy<Map<String, Json>> {
    let parts: Vec<BoxedStrategy<Option<(&'static str, Json)>>> = fields(entity)
        .iter()
        .filter(|(_, _, patchable)| *patchable)
        .map(|&(name, kind, _)| {
            prop::option::weighted(0.3, value(kind).prop_map(move |v| (name, v))).boxed()
        })
        .collect();
    parts
        .prop_map(|parts| {
            parts
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.to_owned(), v))
                .collect()
        })
        .boxed()
}

fn tenant_ref() -> BoxedStrategy<TenantRef> {
    // Mostly the first tenants, so that records meet in listings.
    prop_oneof![
        12 => Just(TenantRef::Pool(0)),
        6 => Just(TenantRef::Pool(1)),
        3 => (2u8..6).prop_map(TenantRef::Pool),
        1 => Just(TenantRef::Missing),
    ]
    .boxed()
}

fn key_ref() -> BoxedStrategy<KeyRef> {
    prop_oneof![12 => any::<u8>().prop_map(KeyRef::Pool), 1 => Just(KeyRef::Missing)].boxed()
}

fn q_literal(column: &'static Column) -> BoxedStrategy<String> {
    match column.kind {
        ColumnKind::Text { .. } => prop_oneof![
            2 => select(values::WORDS).prop_map(str::to_owned),
            1 => select(values::ID_WORDS).prop_map(str::to_owned),
            1 => select(values::SHORT_WORDS).prop_map(str::to_owned),
            1 => select(values::EMAILS).prop_map(str::to_owned),
        ]
        .boxed(),
        ColumnKind::Int => select(vec!["0", "1", "-1", "42", "9223372036854775807", "x"])
            .prop_map(str::to_owned)
            .boxed(),
        ColumnKind::Bool => select(vec!["true", "false", "true", "false", "yes"])
            .prop_map(str::to_owned)
            .boxed(),
        ColumnKind::Timestamp => values::q_timestamp(),
        ColumnKind::Json => Just("{}".to_owned()).boxed(),
    }
}

fn q_term(entity: EntityKind, capabilities: &Capabilities) -> BoxedStrategy<QTerm> {
    let filterable: Vec<&'static Column> = columns(entity)
        .iter()
        .filter(|c| c.filterable && !c.secret && capabilities.supports_q_on(entity, c.name))
        .collect();
    let searchable = columns(entity).iter().any(|c| c.searchable);
    let negated = || prop::bool::weighted(0.2);
    let field = select(filterable.clone())
        .prop_flat_map(move |column| {
            let ops: Vec<&'static str> = match column.kind {
                ColumnKind::Bool => vec![""],
                ColumnKind::Text { .. } => vec!["", "", "", ">", "<="],
                _ => vec!["", ">", ">=", "<", "<="],
            };
            let value = prop_oneof![
                2 => q_literal(column).prop_map(QValue::Literal),
                4 => any::<u8>().prop_map(QValue::FromRecord),
                1 => any::<u8>().prop_map(QValue::SwappedFromRecord),
            ];
            (negated(), select(ops), value).prop_map(move |(negated, op, value)| QTerm::Field {
                negated,
                field: column.name.to_owned(),
                op,
                value,
            })
        })
        .boxed();
    let exists = (negated(), select(filterable))
        .prop_map(|(negated, column)| QTerm::Exists {
            negated,
            field: column.name.to_owned(),
        })
        .boxed();
    let bare = (
        negated(),
        prop_oneof![
            1 => select(values::WORDS).prop_map(|w| QValue::Literal(w.to_owned())),
            2 => (any::<u8>(), 0u8..8, 1u8..4).prop_map(|(n, s, l)| QValue::Substring(n, s, l)),
            1 => (any::<u8>(), 0u8..8, 1u8..4)
                .prop_map(|(n, s, l)| QValue::SwappedSubstring(n, s, l)),
        ],
    )
        .prop_map(|(negated, value)| QTerm::Bare { negated, value })
        .boxed();
    if !capabilities.supports_all_q(entity) {
        // Field terms on the declared fields only: no bare terms (they
        // search every field), no metadata paths, no bad fields (whose
        // answer, InvalidInput or NotSupported, the declaration leaves open).
        return prop_oneof![5 => field, 1 => exists].boxed();
    }
    let bad = select(vec!["nope", "password", "app_metadata", "client_secret"])
        .prop_map(|field| QTerm::Field {
            negated: false,
            field: field.to_owned(),
            op: "",
            value: QValue::Literal("x".into()),
        })
        .boxed();
    if entity == EntityKind::User {
        let meta = (
            negated(),
            prop::bool::weighted(0.25),
            select(vec!["user_metadata", "app_metadata"]),
            any::<u8>(),
            any::<u8>(),
            prop::option::weighted(
                0.2,
                select(vec![
                    "0", "1", "-1", "true", "false", "a", "x", "1.5", "gold*",
                ]),
            ),
        )
            .prop_map(
                |(negated, exists, column, record, place, literal)| QTerm::Meta {
                    negated,
                    exists,
                    column,
                    record,
                    place,
                    literal,
                },
            )
            .boxed();
        prop_oneof![40 => field, 8 => exists, 16 => bare, 16 => meta, 1 => bad].boxed()
    } else if searchable {
        prop_oneof![40 => field, 8 => exists, 16 => bare, 1 => bad].boxed()
    } else {
        prop_oneof![40 => field, 8 => exists, 1 => bare, 1 => bad].boxed()
    }
}

fn q_spec(entity: EntityKind, capabilities: &Capabilities) -> BoxedStrategy<QSpec> {
    let join = select(vec![Join::Space, Join::Space, Join::And, Join::Or]);
    (
        q_term(entity, capabilities),
        vec((join, q_term(entity, capabilities)), 0..3),
    )
        .prop_map(|(first, rest)| QSpec { first, rest })
        .boxed()
}

/// Whether the model may list `entity` with any `q` at all.
fn any_q(entity: EntityKind, capabilities: &Capabilities) -> bool {
    columns(entity)
        .iter()
        .any(|c| c.filterable && !c.secret && capabilities.supports_q_on(entity, c.name))
}

/// A `q` or none, `weights` (none, some) apart; always none where the
/// capabilities allow no `q` on the entity.
fn maybe_q(
    entity: EntityKind,
    capabilities: &Capabilities,
    weights: (u32, u32),
) -> BoxedStrategy<Option<QSpec>> {
    if !any_q(entity, capabilities) {
        return Just(None).boxed();
    }
    prop_oneof![
        weights.0 => Just(None),
        weights.1 => q_spec(entity, capabilities).prop_map(Some),
    ]
    .boxed()
}

fn sort(entity: EntityKind) -> BoxedStrategy<Option<(String, SortOrder)>> {
    let sortable: Vec<&'static str> = columns(entity)
        .iter()
        .filter(|c| c.sortable)
        .map(|c| c.name)
        .collect();
    let order = select(vec![SortOrder::Asc, SortOrder::Desc]);
    prop_oneof![
        8 => Just(None),
        24 => (select(sortable), order).prop_map(|(f, o)| Some((f.to_owned(), o))),
        1 => Just(Some(("nope".to_owned(), SortOrder::Asc))),
    ]
    .boxed()
}

fn list_spec(entity: EntityKind, capabilities: &Capabilities) -> BoxedStrategy<ListSpec> {
    let page = prop_oneof![12 => Just(0u32), 3 => 1u32..3, 1 => Just(200_000)];
    let per_page = prop_oneof![
        30 => 1u32..=6,
        3 => Just(50u32),
        3 => Just(1000u32),
        1 => Just(0u32),
        1 => Just(1001u32),
    ];
    let q = maybe_q(entity, capabilities, (3, 2));
    (page, per_page, any::<bool>(), sort(entity), q)
        .prop_map(|(page, per_page, include_totals, sort, q)| ListSpec {
            page,
            per_page,
            include_totals,
            sort,
            q,
        })
        .boxed()
}

fn scan_spec(entity: EntityKind, capabilities: &Capabilities) -> BoxedStrategy<ListSpec> {
    let q = maybe_q(entity, capabilities, (1, 1));
    (1u32..=4, sort(entity), q)
        .prop_map(|(per_page, sort, q)| ListSpec {
            page: 0,
            per_page,
            include_totals: false,
            sort,
            q,
        })
        .boxed()
}

/// How often each entity is picked, per kind of operation; 0 where the
/// entity has no such operation.
struct Weights {
    entity: EntityKind,
    create: u32,
    /// Gets, upserts, lists and scans.
    read_write: u32,
    update: u32,
    remove: u32,
}

const fn weights(
    entity: EntityKind,
    create: u32,
    read_write: u32,
    update: u32,
    remove: u32,
) -> Weights {
    Weights {
        entity,
        create,
        read_write,
        update,
        remove,
    }
}

const WEIGHTS: &[Weights] = &[
    weights(E::Tenant, 1, 1, 1, 1),
    weights(E::User, 4, 2, 3, 2),
    weights(E::Application, 2, 1, 2, 1),
    weights(E::Connection, 2, 1, 2, 1),
    weights(E::Session, 3, 1, 2, 1),
    weights(E::Code, 3, 1, 0, 1),
    weights(E::Password, 3, 1, 0, 1),
    weights(E::Log, 2, 1, 0, 1),
];

/// Picks an entity of `focus` (weighted by `weight`, never one weighted 0,
/// nor one `allowed` refuses), generates a tenant and `part(entity)`, and
/// makes them an operation; `None` when no entity qualifies.
fn per_entity<T: std::fmt::Debug + 'static>(
    focus: &[EntityKind],
    weight: fn(&Weights) -> u32,
    allowed: impl Fn(EntityKind) -> bool,
    part: impl Fn(EntityKind) -> BoxedStrategy<T>,
    op: fn(EntityKind, TenantRef, T) -> Op,
) -> Option<BoxedStrategy<Op>> {
    let weighted: Vec<(u32, BoxedStrategy<Op>)> = WEIGHTS
        .iter()
        .filter(|w| weight(w) > 0 && focus.contains(&w.entity) && allowed(w.entity))
        .map(|w| {
            let entity = w.entity;
            let op = (tenant_ref(), part(entity))
                .prop_map(move |(tenant, part)| op(entity, tenant, part))
                .boxed();
            (weight(w), op)
        })
        .collect();
    if weighted.is_empty() {
        return None;
    }
    Some(proptest::strategy::Union::new_weighted(weighted).boxed())
}

/// [`per_entity`] for `Op::$variant { entity, tenant, $field }`, with
/// `$field` generated by `$part`.
macro_rules! per_entity_op {
    ($focus:expr, $weight:ident, $allowed:expr, $part:expr, $variant:ident { $field:ident }) => {
        per_entity(
            $focus,
            |w| w.$weight,
            $allowed,
            $part,
            |entity, tenant, $field| Op::$variant {
                entity,
                tenant,
                $field,
            },
        )
    };
}

/// The records of an upsert: mostly one (`upsert`), sometimes a few
/// (`upsert_many`, only where it is atomic: the reference's is).
fn upsert_records(
    entity: EntityKind,
    capabilities: &Capabilities,
) -> BoxedStrategy<Vec<Map<String, Json>>> {
    if !capabilities.has_atomic_batches(entity) {
        return vec(exact_record(entity), 1..=1).boxed();
    }
    prop_oneof![3 => vec(exact_record(entity), 1..=1), 1 => vec(exact_record(entity), 2..=3)]
        .boxed()
}

/// One operation of any kind, on one of the `focus` entities (which must
/// include tenants and users).
pub fn op(focus: &[EntityKind]) -> BoxedStrategy<Op> {
    op_for(focus, &Capabilities::default())
}

/// [`op`], generating only what `capabilities` support: no write of a
/// read-only entity, no `q` where it is not supported (or only on the
/// declared fields), no `upsert_many` of several records where it is not
/// atomic.
pub fn op_for(focus: &[EntityKind], capabilities: &Capabilities) -> BoxedStrategy<Op> {
    let caps = capabilities.clone();
    let writable = move |entity| caps.is_writable(entity);
    let always = |_| true;
    let (list_caps, scan_caps, upsert_caps) = (
        capabilities.clone(),
        capabilities.clone(),
        capabilities.clone(),
    );
    let create = per_entity_op!(focus, create, writable.clone(), insert, Create { insert });
    let get = per_entity_op!(focus, read_write, always, |_| key_ref(), Get { key });
    let remove = per_entity_op!(
        focus,
        remove,
        writable.clone(),
        |_| key_ref(),
        Remove { key }
    );
    let upsert = per_entity_op!(
        focus,
        read_write,
        writable.clone(),
        move |entity| upsert_records(entity, &upsert_caps),
        Upsert { records }
    );
    let list = per_entity_op!(
        focus,
        read_write,
        always,
        move |entity| list_spec(entity, &list_caps),
        List { params }
    );
    let scan = per_entity_op!(
        focus,
        read_write,
        always,
        move |entity| scan_spec(entity, &scan_caps),
        Scan { params }
    );
    let update = per_entity(
        focus,
        |w| w.update,
        writable.clone(),
        |entity| (key_ref(), patch(entity)).boxed(),
        |entity, tenant, (key, patch)| Op::Update {
            entity,
            tenant,
            key,
            patch,
        },
    );
    let consume = (tenant_ref(), key_ref())
        .prop_map(|(tenant, key)| Op::Consume { tenant, key })
        .boxed();
    let cleanup = (tenant_ref(), values::exact_timestamp())
        .prop_map(|(tenant, older_than)| Op::Cleanup { tenant, older_than })
        .boxed();
    let current = (tenant_ref(), key_ref())
        .prop_map(|(tenant, user)| Op::GetCurrent { tenant, user })
        .boxed();
    if let (
        Some(create),
        Some(get),
        Some(update),
        Some(remove),
        Some(upsert),
        Some(list),
        Some(scan),
    ) = (&create, &get, &update, &remove, &upsert, &list, &scan)
        && capabilities.is_complete()
    {
        // Exactly the union of before capabilities existed, so that a seed
        // replays the same sequences against complete adapters.
        return prop_oneof![
            45 => create.clone(),
            8 => get.clone(),
            12 => update.clone(),
            5 => remove.clone(),
            8 => upsert.clone(),
            4 => consume,
            2 => cleanup,
            3 => current,
            14 => list.clone(),
            6 => scan.clone(),
        ]
        .boxed();
    }
    let codes = capabilities.is_writable(E::Code);
    let arms: Vec<(u32, Option<BoxedStrategy<Op>>)> = vec![
        (45, create),
        (8, get),
        (12, update),
        (5, remove),
        (8, upsert),
        (4, codes.then_some(consume)),
        (2, codes.then_some(cleanup)),
        (3, Some(current)),
        (14, list),
        (6, scan),
    ];
    let arms: Vec<(u32, BoxedStrategy<Op>)> = arms
        .into_iter()
        .filter_map(|(weight, arm)| Some((weight, arm?)))
        .collect();
    proptest::strategy::Union::new_weighted(arms).boxed()
}

/// What every sequence starts with: two tenants whose ids differ only in
/// case, and a user in the first.
pub fn prelude() -> Vec<Op> {
    prelude_for(&Capabilities::default())
}

/// [`prelude`] without the creates of entities `capabilities` make read-only.
pub fn prelude_for(capabilities: &Capabilities) -> Vec<Op> {
    let tenant = |id: &str, stamped: bool| {
        let mut insert = Map::new();
        insert.insert("id".into(), Json::from(id));
        insert.insert("friendly_name".into(), Json::from(format!("Tenant {id}")));
        if stamped {
            insert.insert("created_at".into(), Json::from("2001-02-03T04:05:06.789Z"));
        }
        Op::Create {
            entity: E::Tenant,
            tenant: TenantRef::Pool(0),
            insert,
        }
    };
    let mut user = Map::new();
    for (field, value) in [
        ("user_id", "auth0|gAda"),
        ("email", "Ada@Example.com"),
        ("connection", "db"),
        ("name", "Ada"),
        ("created_at", "1999-12-31T23:59:59.999Z"),
        ("updated_at", "2000-01-01T00:00:00.000Z"),
    ] {
        user.insert(field.into(), Json::from(value));
    }
    vec![
        tenant("t1", true),
        tenant("T1", false),
        Op::Create {
            entity: E::User,
            tenant: TenantRef::Pool(0),
            insert: user,
        },
    ]
    .into_iter()
    .filter(|op| match op {
        Op::Create { entity, .. } => capabilities.is_writable(*entity),
        _ => true,
    })
    .collect()
}

/// A sequence: the prelude, then 1 to `max_ops` generated operations on
/// tenants, users and one or two other entities (so that each listing
/// meets several records).
pub fn sequence(max_ops: usize) -> BoxedStrategy<Vec<Op>> {
    sequence_for(max_ops, &Capabilities::default())
}

/// [`sequence`] of operations `capabilities` support (see [`op_for`]).
pub fn sequence_for(max_ops: usize, capabilities: &Capabilities) -> BoxedStrategy<Vec<Op>> {
    let capabilities = capabilities.clone();
    let prelude = prelude_for(&capabilities);
    let others = vec![
        E::Application,
        E::Connection,
        E::Session,
        E::Code,
        E::Password,
        E::Log,
    ];
    proptest::sample::subsequence(others, 1..=2)
        .prop_flat_map(move |mut focus| {
            focus.extend([E::Tenant, E::User]);
            vec(op_for(&focus, &capabilities), 1..=max_ops.max(1))
        })
        .prop_map(move |ops| {
            let mut all = prelude.clone();
            all.extend(ops);
            all
        })
        .boxed()
}
