//! Running operations against an adapter: one generic executor over the
//! eight entities, working on JSON so that answers can be translated and
//! compared field by field.

use adapter_interfaces::{
    AdapterError, Application, Code, Connection, DataAdapters, EntityKind, EntityStore, ListParams,
    Log, MutableStore, Password, Record, Session, Sort, SortOrder, Tenant, Timestamp, User,
};
use passthrough::Entity;
use serde_json::{Map, Value as Json};

/// Runs `$body` with `$R` the record type of `$kind`: for every entity, or
/// for those listed (each variant of [`EntityKind`] is named after its
/// record type), with `$other` matching the rest.
macro_rules! dispatch {
    ($kind:expr, $R:ident => $body:expr) => {
        dispatch!($kind, $R => $body;
            [Tenant, User, Application, Connection, Session, Code, Password, Log])
    };
    ($kind:expr, $R:ident => $body:expr; [$($entity:ident),*] $(, $other:ident => $rest:expr)?) => {
        match $kind {
            $(EntityKind::$entity => {
                type $R = $entity;
                $body
            })*
            $($other => $rest,)?
        }
    };
}

/// A concrete call, with every id as the adapter knows it.
#[derive(Debug, Clone)]
pub(crate) enum Call {
    Create(EntityKind, String, Map<String, Json>),
    Get(EntityKind, String, String),
    Update(EntityKind, String, String, Map<String, Json>),
    Remove(EntityKind, String, String),
    Upsert(EntityKind, String, Vec<Map<String, Json>>),
    Consume(String, String),
    Cleanup(String, Timestamp),
    GetCurrent(String, String),
    List(EntityKind, String, ListParams),
    Scan(EntityKind, String, ListParams),
}

/// One page as JSON.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PageAnswer {
    pub items: Vec<Json>,
    pub page: u32,
    pub per_page: u32,
    pub total: Option<u64>,
    pub next: Option<String>,
}

/// What a call answered, as JSON.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    /// The error's signature (variant, entity, field or id).
    Error(String),
    Record(Json),
    Optional(Option<Json>),
    Flag(bool),
    Count(u64),
    Unit,
    Page(PageAnswer),
    /// The pages of a keyset scan.
    Scan(Vec<PageAnswer>),
}

/// The most pages a scan may take before it is declared endless.
const MAX_SCAN_PAGES: usize = 2000;

/// The error's signature: what must be the same from every adapter.
pub(crate) fn signature(error: &AdapterError) -> String {
    match error {
        AdapterError::NotFound { entity, id } => format!("NotFound({entity} {id:?})"),
        AdapterError::Conflict { entity, field } => format!("Conflict({entity}.{field})"),
        AdapterError::InvalidInput { field, .. } => format!("InvalidInput({field})"),
        other => format!("{:?}: {other}", other.kind()),
    }
}

fn json<T: serde::Serialize>(value: &T) -> Json {
    serde_json::to_value(value).unwrap_or(Json::Null)
}

fn page_answer<R: Record>(page: adapter_interfaces::Page<R>) -> PageAnswer {
    PageAnswer {
        items: page.items.iter().map(json).collect(),
        page: page.page,
        per_page: page.per_page,
        total: page.total,
        next: page.next,
    }
}

fn answer<T>(result: Result<T, AdapterError>, ok: impl FnOnce(T) -> Answer) -> Answer {
    match result {
        Ok(value) => ok(value),
        Err(error) => Answer::Error(signature(&error)),
    }
}

fn harness(what: &str, error: impl std::fmt::Display) -> Answer {
    Answer::Error(format!("harness: {what}: {error}"))
}

/// The exact record an `upsert` writes: built like a create (so a user's
/// provider is filled in), then with the caller's raw values laid back over
/// it, so that the adapter's own normalisation (lowercased email) is tested.
pub(crate) fn exact_record<R: Record>(fields: &Map<String, Json>) -> Result<R, String> {
    let raw = || {
        let mut object = fields.clone();
        if R::KIND == EntityKind::User && !object.contains_key("provider") {
            let provider = object
                .get("user_id")
                .and_then(Json::as_str)
                .and_then(|id| id.split_once('|'))
                .map_or("auth0", |(p, _)| p)
                .to_owned();
            object.insert("provider".into(), Json::String(provider));
        }
        serde_json::from_value::<R>(Json::Object(object)).map_err(|e| e.to_string())
    };
    let insert: R::Insert = match serde_json::from_value(Json::Object(fields.clone())) {
        Ok(insert) => insert,
        Err(_) => return raw(),
    };
    let Ok(built) = R::from_insert(
        insert,
        Timestamp::from_millis(0).unwrap_or_else(Timestamp::now),
    ) else {
        return raw();
    };
    let mut object = match json(&built) {
        Json::Object(object) => object,
        _ => return raw(),
    };
    for (name, value) in fields {
        if object.contains_key(name) {
            object.insert(name.clone(), value.clone());
        }
    }
    serde_json::from_value(Json::Object(object)).map_err(|e| e.to_string())
}

async fn run_entity<R: Entity>(adapters: &DataAdapters, call: &Call) -> Answer {
    let store = R::store(adapters);
    match call {
        Call::Create(_, tenant, insert) => {
            match serde_json::from_value::<R::Insert>(Json::Object(insert.clone())) {
                Ok(insert) => answer(store.create(tenant, insert).await, |r| {
                    Answer::Record(json(&r))
                }),
                Err(e) => harness("insert does not deserialise", e),
            }
        }
        Call::Get(_, tenant, key) => answer(store.get(tenant, key).await, |r| {
            Answer::Optional(r.as_ref().map(json))
        }),
        Call::Remove(_, tenant, key) => answer(R::remove(&store, tenant, key).await, Answer::Flag),
        Call::Upsert(_, tenant, records) => {
            let mut built = Vec::with_capacity(records.len());
            for fields in records {
                match exact_record::<R>(fields) {
                    Ok(record) => built.push(record),
                    Err(e) => return harness("record does not deserialise", e),
                }
            }
            let result = if built.len() == 1 {
                let record = built.pop().expect("one record");
                store.upsert(tenant, record).await
            } else {
                store.upsert_many(tenant, built).await
            };
            answer(result, |()| Answer::Unit)
        }
        Call::List(_, tenant, params) => answer(store.list(tenant, params).await, |p| {
            Answer::Page(page_answer(p))
        }),
        Call::Scan(_, tenant, params) => {
            let mut pages = Vec::new();
            let mut params = params.clone();
            loop {
                let page = match store.list(tenant, &params).await {
                    Ok(page) => page_answer(page),
                    Err(error) => return Answer::Error(signature(&error)),
                };
                let next = page.next.clone();
                pages.push(page);
                match next {
                    Some(cursor) if pages.len() < MAX_SCAN_PAGES => params.from = Some(cursor),
                    Some(_) => return Answer::Error("scan: endless cursor chain".into()),
                    None => return Answer::Scan(pages),
                }
            }
        }
        Call::Update(..) | Call::Consume(..) | Call::Cleanup(..) | Call::GetCurrent(..) => {
            harness("not a generic call", format!("{call:?}"))
        }
    }
}

async fn update<R: Entity>(
    adapters: &DataAdapters,
    tenant: &str,
    key: &str,
    patch: &Map<String, Json>,
) -> Answer
where
    R::Store: MutableStore<R>,
{
    let store = R::store(adapters);
    match serde_json::from_value::<R::Patch>(Json::Object(patch.clone())) {
        Ok(patch) => answer(store.update(tenant, key, patch).await, |r| {
            Answer::Record(json(&r))
        }),
        Err(e) => harness("patch does not deserialise", e),
    }
}

/// Runs one call.
pub(crate) async fn run(adapters: &DataAdapters, call: &Call) -> Answer {
    match call {
        Call::Update(entity, tenant, key, patch) => dispatch!(
            *entity, R => update::<R>(adapters, tenant, key, patch).await;
            [Tenant, User, Application, Connection, Session],
            other => harness("no update for", other)
        ),
        Call::Consume(tenant, key) => answer(adapters.codes.consume(tenant, key).await, |c| {
            Answer::Optional(c.as_ref().map(json))
        }),
        Call::Cleanup(tenant, older_than) => answer(
            adapters.codes.cleanup(tenant, *older_than).await,
            Answer::Count,
        ),
        Call::GetCurrent(tenant, user) => {
            answer(adapters.passwords.get_current(tenant, user).await, |p| {
                Answer::Optional(p.as_ref().map(json))
            })
        }
        Call::Create(entity, ..)
        | Call::Get(entity, ..)
        | Call::Remove(entity, ..)
        | Call::Upsert(entity, ..)
        | Call::List(entity, ..)
        | Call::Scan(entity, ..) => dispatch!(*entity, R => run_entity::<R>(adapters, call).await),
    }
}

/// Every record of one entity under one tenant (`""` for tenants), by keyset scan.
pub(crate) async fn all_records(
    adapters: &DataAdapters,
    entity: EntityKind,
    tenant: &str,
) -> Result<Vec<Json>, String> {
    let params = ListParams::default().with_per_page(500);
    match run(adapters, &Call::Scan(entity, tenant.to_owned(), params)).await {
        Answer::Scan(pages) => Ok(pages.into_iter().flat_map(|p| p.items).collect()),
        Answer::Error(e) => Err(format!("listing {} failed: {e}", entity.table())),
        other => Err(format!("unexpected answer {other:?}")),
    }
}

/// Builds the [`ListParams`] of a generated listing (the `q` already rendered).
pub(crate) fn list_params(
    page: u32,
    per_page: u32,
    include_totals: bool,
    sort: &Option<(String, SortOrder)>,
    q: Option<String>,
) -> ListParams {
    ListParams {
        page,
        per_page,
        include_totals,
        sort: sort.as_ref().map(|(field, order)| Sort {
            field: field.clone(),
            order: *order,
        }),
        q,
        from: None,
    }
}
