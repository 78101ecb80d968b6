//! One case: a sequence run against the reference and every subject, with
//! the model state that makes answers comparable (which keys were generated,
//! which timestamps came from a clock, how each subject's generated ids map
//! to the reference's).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use adapter_interfaces::{DataAdapters, EntityKind, Timestamp, memory};
use serde_json::{Map, Value as Json};

use super::exec::{self, Answer, Call, PageAnswer};
use super::op::{Join, KeyRef, ListSpec, Op, QSpec, QTerm, QValue, TenantRef, swap_case};
use super::strategy::stamp_fields;
use super::{Instance, columns, parse_placeholder, redact};

/// A tenant id that is never created.
const NO_TENANT: &str = "no-such-tenant";

fn missing_key(entity: EntityKind) -> String {
    match entity {
        EntityKind::User => "auth0|nobody".into(),
        _ => "nobody".into(),
    }
}

fn key_of(entity: EntityKind, record: &Json) -> String {
    record
        .get(columns(entity)[0].name)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Whether `generated` looks like an id the adapter generated where the
/// reference generated `reference`: same prefix, then 32 lowercase hex digits.
fn same_shape(generated: &str, reference: &str) -> bool {
    fn split(s: &str) -> Option<(&str, &str)> {
        s.len()
            .checked_sub(32)
            .and_then(|at| s.is_char_boundary(at).then(|| s.split_at(at)))
    }
    match (split(generated), split(reference)) {
        (Some((p1, hex)), Some((p2, _))) => {
            p1 == p2
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        _ => false,
    }
}

/// What the model knows, in the reference's terms.
pub(crate) struct Model {
    /// Keys of every record ever written, per entity, as (tenant, key), in order.
    pool: BTreeMap<EntityKind, Vec<(String, String)>>,
    /// Keys the reference generated.
    generated: HashSet<String>,
    /// Fields of a record whose value came from a clock: (entity, tenant, key) → fields.
    stamped: HashMap<(EntityKind, String, String), BTreeSet<&'static str>>,
    /// When the case started: clock-stamped values must not be older.
    start: Timestamp,
}

/// What a listing's answers can be compared on.
#[derive(Debug, Default)]
pub(crate) struct ListCtx {
    /// The filter selects the same records everywhere (no range over generated ids).
    filter_exact: bool,
    /// Every adapter must return the records in the same order.
    order_exact: bool,
    /// The reference's records matching the filter, by key.
    matched: BTreeMap<String, Json>,
}

/// A resolved operation: the call in the reference's terms and what comparing needs.
pub(crate) struct Prepared {
    call: Call,
    entity: EntityKind,
    tenant: String,
    /// A create without a key: the adapter's key maps to the reference's.
    generated_key: bool,
    list: Option<ListCtx>,
    /// The current passwords before a password write (to follow demotions).
    current_before: Vec<String>,
}

impl Prepared {
    pub(crate) fn call(&self) -> &Call {
        &self.call
    }
}

impl Model {
    pub(crate) fn new() -> Self {
        Self {
            pool: BTreeMap::new(),
            generated: HashSet::new(),
            stamped: HashMap::new(),
            start: Timestamp::now(),
        }
    }

    fn remember(&mut self, entity: EntityKind, tenant: &str, key: &str) {
        let pool = self.pool.entry(entity).or_default();
        if !pool.iter().any(|(t, k)| t == tenant && k == key) {
            pool.push((tenant.to_owned(), key.to_owned()));
        }
    }

    fn tenant(&self, tenant: TenantRef) -> String {
        let pool = self
            .pool
            .get(&EntityKind::Tenant)
            .map_or(&[][..], Vec::as_slice);
        match tenant {
            TenantRef::Pool(n) if !pool.is_empty() => pool[n as usize % pool.len()].1.clone(),
            _ => NO_TENANT.to_owned(),
        }
    }

    /// The `n`-th known key of `entity`, preferring the tenant's own records.
    fn key(&self, entity: EntityKind, n: u8, tenant: &str) -> String {
        let pool = self.pool.get(&entity).map_or(&[][..], Vec::as_slice);
        let own: Vec<&String> = pool
            .iter()
            .filter(|(t, _)| entity == EntityKind::Tenant || t == tenant)
            .map(|(_, k)| k)
            .collect();
        if !own.is_empty() {
            own[n as usize % own.len()].clone()
        } else if !pool.is_empty() {
            pool[n as usize % pool.len()].1.clone()
        } else {
            missing_key(entity)
        }
    }

    fn key_ref(&self, entity: EntityKind, key: KeyRef, tenant: &str) -> String {
        match key {
            KeyRef::Pool(n) => self.key(entity, n, tenant),
            KeyRef::Missing => missing_key(entity),
        }
    }

    /// Replaces `@entity#n` placeholders with known keys.
    fn resolve(&self, value: &mut Json, tenant: &str) {
        match value {
            Json::String(s) => {
                if let Some((entity, n)) = parse_placeholder(s) {
                    *s = self.key(entity, n, tenant);
                }
            }
            Json::Array(items) => items.iter_mut().for_each(|v| self.resolve(v, tenant)),
            Json::Object(map) => map.values_mut().for_each(|v| self.resolve(v, tenant)),
            _ => {}
        }
    }

    fn resolve_map(&self, map: &Map<String, Json>, tenant: &str) -> Map<String, Json> {
        let mut value = Json::Object(map.clone());
        self.resolve(&mut value, tenant);
        match value {
            Json::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn is_stamped(&self, entity: EntityKind, tenant: &str, record: &Json, field: &str) -> bool {
        let key = key_of(entity, record);
        if field == columns(entity)[0].name {
            return self.generated.contains(&key);
        }
        self.stamped
            .get(&(entity, tenant.to_owned(), key))
            .is_some_and(|fields| fields.contains(field))
    }

    /// Renders a `q` against the reference's records; `false` when the filter
    /// compares a range against a generated id (which orders differently in
    /// every adapter).
    fn render_q(
        &self,
        q: &QSpec,
        entity: EntityKind,
        tenant: &str,
        records: &[Json],
    ) -> (String, bool) {
        let mut exact = true;
        let pick = |n: u8| (!records.is_empty()).then(|| &records[n as usize % records.len()]);
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let substring = |n: u8, start: u8, len: u8| -> String {
            let text = pick(n).and_then(|record| {
                columns(entity)
                    .iter()
                    .filter(|c| c.searchable)
                    .filter_map(|c| record.get(c.name).and_then(Json::as_str))
                    .find(|s| !s.is_empty())
            });
            let Some(text) = text else {
                return "x".to_owned();
            };
            let chars: Vec<char> = text.chars().collect();
            let from = start as usize % chars.len();
            let piece: String = chars[from..].iter().take(len as usize).collect();
            if piece.trim().is_empty() {
                "x".to_owned()
            } else {
                piece
            }
        };
        let mut term = |t: &QTerm| -> String {
            let neg = |n: bool| if n { "-" } else { "" };
            match t {
                QTerm::Field {
                    negated,
                    field,
                    op,
                    value,
                } => {
                    let swapped = matches!(
                        value,
                        QValue::SwappedFromRecord(_) | QValue::SwappedSubstring(..)
                    );
                    let text = match value {
                        QValue::Literal(s) => s.clone(),
                        QValue::Substring(n, s, l) | QValue::SwappedSubstring(n, s, l) => {
                            substring(*n, *s, *l)
                        }
                        QValue::FromRecord(n) | QValue::SwappedFromRecord(n) => {
                            match pick(*n).and_then(|r| r.get(field).map(|v| (r, v))) {
                                Some((record, _))
                                    if self.is_stamped(entity, tenant, record, field)
                                        && field != columns(entity)[0].name =>
                                {
                                    "2001-01-01".to_owned()
                                }
                                Some((_, Json::String(s))) => s.clone(),
                                Some((_, Json::Number(n))) => n.to_string(),
                                Some((_, Json::Bool(b))) => b.to_string(),
                                _ => "x".to_owned(),
                            }
                        }
                    };
                    let text = if swapped { swap_case(&text) } else { text };
                    // A range over a column of ids: generated ids order by
                    // their random digits, differently in every adapter.
                    let id_column = field == columns(entity)[0].name
                        || matches!(field.as_str(), "user_id" | "linked_to" | "client_id");
                    if !op.is_empty() && id_column && !self.generated.is_empty() {
                        exact = false;
                    }
                    format!("{}{field}:{op}{}", neg(*negated), quote(&text))
                }
                QTerm::Exists { negated, field } => format!("{}_exists_:{field}", neg(*negated)),
                QTerm::Bare { negated, value } => {
                    let text = match value {
                        QValue::Literal(s) => s.clone(),
                        QValue::Substring(n, s, l) => substring(*n, *s, *l),
                        QValue::FromRecord(n) => substring(*n, 0, 8),
                        QValue::SwappedSubstring(n, s, l) => swap_case(&substring(*n, *s, *l)),
                        QValue::SwappedFromRecord(n) => swap_case(&substring(*n, 0, 8)),
                    };
                    format!("{}{}", neg(*negated), quote(&text))
                }
                QTerm::Meta {
                    negated,
                    exists,
                    column,
                    record,
                    place,
                    literal,
                } => {
                    let places = pick(*record)
                        .and_then(|r| r.get(*column))
                        .map(metadata_places)
                        .unwrap_or_default();
                    let (path, value) = if places.is_empty() {
                        ("a".to_owned(), None)
                    } else {
                        places[*place as usize % places.len()].clone()
                    };
                    if *exists {
                        format!("{}_exists_:{column}.{path}", neg(*negated))
                    } else {
                        let text = match (literal, value) {
                            (Some(v), _) => (*v).to_owned(),
                            (None, Some(Json::String(s))) => quote(&s),
                            (None, Some(other)) => other.to_string(),
                            (None, None) => "x".to_owned(),
                        };
                        format!("{}{column}.{path}:{text}", neg(*negated))
                    }
                }
            }
        };
        let mut out = term(&q.first);
        for (join, t) in &q.rest {
            out.push_str(match join {
                Join::Space => " ",
                Join::And => " AND ",
                Join::Or => " OR ",
            });
            out.push_str(&term(t));
        }
        (out, exact)
    }

    /// Whether the order of the matched records is the same in every adapter.
    fn order_exact(
        &self,
        entity: EntityKind,
        tenant: &str,
        sort: &Option<(String, adapter_interfaces::SortOrder)>,
        matched: &BTreeMap<String, Json>,
    ) -> bool {
        let key = columns(entity)[0].name;
        let column = sort
            .as_ref()
            .map(|(f, _)| f.as_str())
            .filter(|f| columns(entity).iter().any(|c| c.sortable && c.name == *f))
            .unwrap_or(key);
        let records: Vec<&Json> = matched.values().collect();
        let stamped = records
            .iter()
            .filter(|r| self.is_stamped(entity, tenant, r, column))
            .count();
        if stamped >= 2 {
            return false;
        }
        // Ties on the sort column break on the key: two generated keys in a tie differ.
        let generated_ties = records.iter().enumerate().any(|(i, a)| {
            records[i + 1..].iter().any(|b| {
                a.get(column) == b.get(column)
                    && self.generated.contains(&key_of(entity, a))
                    && self.generated.contains(&key_of(entity, b))
            })
        });
        !generated_ties
    }

    async fn list_ctx(
        &self,
        reference: &DataAdapters,
        entity: EntityKind,
        tenant: &str,
        spec: &ListSpec,
        records: &[Json],
    ) -> (Option<String>, ListCtx) {
        let (q, filter_exact) = match &spec.q {
            Some(q) => {
                let (q, exact) = self.render_q(q, entity, tenant, records);
                (Some(q), exact)
            }
            None => (None, true),
        };
        let all = exec::list_params(0, 1000, false, &None, q.clone());
        let matched: BTreeMap<String, Json> =
            match exec::run(reference, &Call::Scan(entity, tenant.to_owned(), all)).await {
                Answer::Scan(pages) => pages
                    .into_iter()
                    .flat_map(|p| p.items)
                    .map(|r| (key_of(entity, &r), r))
                    .collect(),
                _ => BTreeMap::new(),
            };
        let order_exact = self.order_exact(entity, tenant, &spec.sort, &matched);
        (
            q,
            ListCtx {
                filter_exact,
                order_exact,
                matched,
            },
        )
    }

    /// Resolves `op` against the model and the reference's current contents.
    pub(crate) async fn prepare(&self, op: &Op, reference: &DataAdapters) -> Prepared {
        let entity = match op {
            Op::Create { entity, .. }
            | Op::Get { entity, .. }
            | Op::Update { entity, .. }
            | Op::Remove { entity, .. }
            | Op::Upsert { entity, .. }
            | Op::List { entity, .. }
            | Op::Scan { entity, .. } => *entity,
            Op::Consume { .. } | Op::Cleanup { .. } => EntityKind::Code,
            Op::GetCurrent { .. } => EntityKind::Password,
        };
        let tenant = match op {
            _ if entity == EntityKind::Tenant => String::new(),
            Op::Create { tenant, .. }
            | Op::Get { tenant, .. }
            | Op::Update { tenant, .. }
            | Op::Remove { tenant, .. }
            | Op::Upsert { tenant, .. }
            | Op::Consume { tenant, .. }
            | Op::Cleanup { tenant, .. }
            | Op::GetCurrent { tenant, .. }
            | Op::List { tenant, .. }
            | Op::Scan { tenant, .. } => self.tenant(*tenant),
        };
        let t = tenant.clone();
        let mut prepared = Prepared {
            call: Call::Get(entity, t.clone(), String::new()),
            entity,
            tenant,
            generated_key: false,
            list: None,
            current_before: Vec::new(),
        };
        prepared.call = match op {
            Op::Create { insert, .. } => {
                let insert = self.resolve_map(insert, &t);
                prepared.generated_key = !insert.contains_key(columns(entity)[0].name);
                Call::Create(entity, t.clone(), insert)
            }
            Op::Get { key, .. } => Call::Get(entity, t.clone(), self.key_ref(entity, *key, &t)),
            Op::Update { key, patch, .. } => Call::Update(
                entity,
                t.clone(),
                self.key_ref(entity, *key, &t),
                self.resolve_map(patch, &t),
            ),
            Op::Remove { key, .. } => {
                Call::Remove(entity, t.clone(), self.key_ref(entity, *key, &t))
            }
            Op::Upsert { records, .. } => Call::Upsert(
                entity,
                t.clone(),
                records.iter().map(|r| self.resolve_map(r, &t)).collect(),
            ),
            Op::Consume { key, .. } => Call::Consume(t.clone(), self.key_ref(entity, *key, &t)),
            Op::Cleanup { older_than, .. } => Call::Cleanup(t.clone(), *older_than),
            Op::GetCurrent { user, .. } => {
                Call::GetCurrent(t.clone(), self.key_ref(EntityKind::User, *user, &t))
            }
            Op::List { params, .. } | Op::Scan { params, .. } => {
                let mut records = exec::all_records(reference, entity, &t)
                    .await
                    .unwrap_or_default();
                records.sort_by_key(|r| key_of(entity, r));
                let (q, ctx) = self.list_ctx(reference, entity, &t, params, &records).await;
                prepared.list = Some(ctx);
                let list = exec::list_params(
                    params.page,
                    params.per_page,
                    params.include_totals,
                    &params.sort,
                    q,
                );
                if matches!(op, Op::Scan { .. }) {
                    Call::Scan(entity, t.clone(), list)
                } else {
                    Call::List(entity, t.clone(), list)
                }
            }
        };
        if entity == EntityKind::Password && matches!(op, Op::Create { .. } | Op::Upsert { .. }) {
            prepared.current_before = self.current_passwords(reference, &t).await;
        }
        prepared
    }

    async fn current_passwords(&self, reference: &DataAdapters, tenant: &str) -> Vec<String> {
        exec::all_records(reference, EntityKind::Password, tenant)
            .await
            .unwrap_or_default()
            .iter()
            .filter(|p| p.get("is_current") == Some(&Json::Bool(true)))
            .map(|p| key_of(EntityKind::Password, p))
            .collect()
    }

    /// Records what the reference's answer changed.
    pub(crate) async fn apply(
        &mut self,
        prepared: &Prepared,
        answer: &Answer,
        reference: &DataAdapters,
    ) {
        let (entity, tenant) = (prepared.entity, prepared.tenant.as_str());
        let mut demoter_stamped = false;
        match (&prepared.call, answer) {
            (Call::Create(_, _, insert), Answer::Record(record)) => {
                let key = key_of(entity, record);
                self.remember(entity, tenant, &key);
                if prepared.generated_key {
                    self.generated.insert(key.clone());
                }
                let has = |f: &str| insert.get(f).is_some_and(|v| !v.is_null());
                let stamped: BTreeSet<&'static str> = stamp_fields(entity)
                    .iter()
                    .copied()
                    .filter(|f| !(has(f) || (*f == "updated_at" && has("created_at"))))
                    .collect();
                demoter_stamped = stamped.contains("updated_at");
                self.stamped
                    .insert((entity, tenant.to_owned(), key), stamped);
            }
            (Call::Upsert(_, _, records), Answer::Unit) => {
                for record in records {
                    let key = record
                        .get(columns(entity)[0].name)
                        .and_then(Json::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    self.remember(entity, tenant, &key);
                    self.stamped
                        .insert((entity, tenant.to_owned(), key), BTreeSet::new());
                }
            }
            (Call::Update(..), Answer::Record(record)) => {
                let key = key_of(entity, record);
                self.stamped
                    .entry((entity, tenant.to_owned(), key))
                    .or_default()
                    .insert("updated_at");
            }
            (Call::Consume(..), Answer::Optional(Some(code))) => {
                let key = key_of(EntityKind::Code, code);
                self.stamped
                    .entry((EntityKind::Code, tenant.to_owned(), key))
                    .or_default()
                    .insert("used_at");
            }
            _ => {}
        }
        if !prepared.current_before.is_empty() && !matches!(answer, Answer::Error(_)) {
            let now_current = self.current_passwords(reference, tenant).await;
            for id in &prepared.current_before {
                if !now_current.contains(id) {
                    let fields = self
                        .stamped
                        .entry((EntityKind::Password, tenant.to_owned(), id.clone()))
                        .or_default();
                    if demoter_stamped {
                        fields.insert("updated_at");
                    } else {
                        fields.remove("updated_at");
                    }
                }
            }
        }
    }

    /// Every tenant the case knew (removed ones too).
    fn tenants(&self) -> Vec<String> {
        self.pool
            .get(&EntityKind::Tenant)
            .map(|p| p.iter().map(|(_, k)| k.clone()).collect())
            .unwrap_or_default()
    }
}

/// A subject during one case: its adapters, the map between its generated
/// ids and the reference's, and the first divergence found.
pub(crate) struct Lane<'a> {
    pub name: &'a str,
    pub instance: &'a Instance,
    to_ref: HashMap<String, String>,
    to_store: HashMap<String, String>,
    pub divergence: Option<String>,
}

fn map_strings(value: &mut Json, map: &HashMap<String, String>) {
    match value {
        Json::String(s) => {
            if let Some(mapped) = map.get(s.as_str()) {
                *s = mapped.clone();
            }
        }
        Json::Array(items) => items.iter_mut().for_each(|v| map_strings(v, map)),
        Json::Object(object) => object.values_mut().for_each(|v| map_strings(v, map)),
        _ => {}
    }
}

fn replace_all(text: &str, map: &HashMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (from, to) in map {
        if out.contains(from.as_str()) {
            out = out.replace(from.as_str(), to);
        }
    }
    out
}

/// Describes how two records differ, field by field (secrets redacted).
pub(crate) fn describe_difference(got: &Json, want: &Json) -> String {
    let (Json::Object(g), Json::Object(w)) = (got, want) else {
        return format!("got {}, want {}", redact(got), redact(want));
    };
    let fields: BTreeSet<&String> = g.keys().chain(w.keys()).collect();
    let mut parts = Vec::new();
    for field in fields {
        let (a, b) = (g.get(field), w.get(field));
        if a != b {
            let show = |v: Option<&Json>| match (field.as_str(), v) {
                ("password" | "client_secret", Some(_)) => "<secret>".to_owned(),
                (_, Some(v)) => v.to_string(),
                (_, None) => "<absent>".to_owned(),
            };
            parts.push(format!("{field}: got {}, reference {}", show(a), show(b)));
        }
    }
    format!("{} {{ {} }}", redact_key(want), parts.join("; "))
}

fn redact_key(record: &Json) -> String {
    // The first field that looks like a key, for orientation.
    for key in ["user_id", "client_id", "code_id", "log_id", "id"] {
        if let Some(v) = record.get(key).and_then(Json::as_str) {
            return format!("{key}={v:?}");
        }
    }
    String::new()
}

impl<'a> Lane<'a> {
    pub(crate) fn new(name: &'a str, instance: &'a Instance) -> Self {
        Self {
            name,
            instance,
            to_ref: HashMap::new(),
            to_store: HashMap::new(),
            divergence: None,
        }
    }

    fn adapters(&self) -> &DataAdapters {
        self.instance.store.harness()
    }

    fn store_id(&self, id: &str) -> String {
        self.to_store
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_owned())
    }

    fn translate_map(&self, map: &Map<String, Json>) -> Map<String, Json> {
        let mut value = Json::Object(map.clone());
        map_strings(&mut value, &self.to_store);
        match value {
            Json::Object(map) => map,
            _ => Map::new(),
        }
    }

    /// The call in this subject's terms.
    fn translate(&self, call: &Call) -> Call {
        let id = |s: &String| self.store_id(s);
        match call {
            Call::Create(e, t, m) => Call::Create(*e, id(t), self.translate_map(m)),
            Call::Get(e, t, k) => Call::Get(*e, id(t), id(k)),
            Call::Update(e, t, k, m) => Call::Update(*e, id(t), id(k), self.translate_map(m)),
            Call::Remove(e, t, k) => Call::Remove(*e, id(t), id(k)),
            Call::Upsert(e, t, rs) => Call::Upsert(
                *e,
                id(t),
                rs.iter().map(|m| self.translate_map(m)).collect(),
            ),
            Call::Consume(t, k) => Call::Consume(id(t), id(k)),
            Call::Cleanup(t, ts) => Call::Cleanup(id(t), *ts),
            Call::GetCurrent(t, u) => Call::GetCurrent(id(t), id(u)),
            Call::List(e, t, p) | Call::Scan(e, t, p) => {
                let mut p = p.clone();
                p.q = p.q.map(|q| replace_all(&q, &self.to_store));
                if matches!(call, Call::Scan(..)) {
                    Call::Scan(*e, id(t), p)
                } else {
                    Call::List(*e, id(t), p)
                }
            }
        }
    }

    /// Translates a record of this subject into the reference's terms and
    /// masks its clock-stamped fields (after checking they are plausible).
    fn normalize(
        &self,
        model: &Model,
        entity: EntityKind,
        tenant: &str,
        mut got: Json,
        want: &Json,
    ) -> Result<Json, String> {
        map_strings(&mut got, &self.to_ref);
        let key = key_of(entity, want);
        let fields = model.stamped.get(&(entity, tenant.to_owned(), key));
        if let (Some(fields), Json::Object(object)) = (fields, &mut got) {
            let latest = Timestamp::now().plus_millis(1000);
            let earliest = model.start.plus_millis(-1000);
            for field in fields {
                let value = object
                    .get(*field)
                    .and_then(Json::as_str)
                    .map(str::parse::<Timestamp>);
                match value {
                    Some(Ok(t)) if t >= earliest && t <= latest => {}
                    other => {
                        return Err(format!(
                            "{} {}: clock-stamped {field} is {other:?}, not a time during the run",
                            entity,
                            redact_key(want)
                        ));
                    }
                }
                if let Some(v) = want.get(*field) {
                    object.insert((*field).to_owned(), v.clone());
                }
            }
        }
        Ok(got)
    }

    fn same_record(
        &self,
        model: &Model,
        entity: EntityKind,
        tenant: &str,
        got: &Json,
        want: &Json,
    ) -> Result<(), String> {
        let got = self.normalize(model, entity, tenant, got.clone(), want)?;
        if &got == want {
            Ok(())
        } else {
            Err(describe_difference(&got, want))
        }
    }

    fn same_items(
        &self,
        model: &Model,
        prepared: &Prepared,
        ctx: &ListCtx,
        got: &[Json],
        want: &[Json],
    ) -> Result<(), String> {
        let (entity, tenant) = (prepared.entity, prepared.tenant.as_str());
        if got.len() != want.len() {
            return Err(format!(
                "{} items, the reference has {}",
                got.len(),
                want.len()
            ));
        }
        if ctx.order_exact {
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                let mut translated = g.clone();
                map_strings(&mut translated, &self.to_ref);
                if key_of(entity, &translated) != key_of(entity, w) {
                    let keys =
                        |items: &[Json], map: Option<&HashMap<String, String>>| -> Vec<String> {
                            items
                                .iter()
                                .map(|r| {
                                    let k = key_of(entity, r);
                                    map.and_then(|m| m.get(&k).cloned()).unwrap_or(k)
                                })
                                .collect()
                        };
                    return Err(format!(
                        "item {i} differs: order {:?}, the reference's {:?}",
                        keys(got, Some(&self.to_ref)),
                        keys(want, None)
                    ));
                }
                self.same_record(model, entity, tenant, g, w)
                    .map_err(|e| format!("item {i}: {e}"))?;
            }
        } else {
            let mut seen = BTreeSet::new();
            for g in got {
                let mut translated = g.clone();
                map_strings(&mut translated, &self.to_ref);
                let key = key_of(entity, &translated);
                let Some(w) = ctx.matched.get(&key) else {
                    return Err(format!("returned {key:?}, which does not match"));
                };
                if !seen.insert(key.clone()) {
                    return Err(format!("returned {key:?} twice"));
                }
                self.same_record(model, entity, tenant, g, w)?;
            }
        }
        Ok(())
    }

    fn same_page(
        &self,
        model: &Model,
        prepared: &Prepared,
        ctx: &ListCtx,
        got: &PageAnswer,
        want: &PageAnswer,
    ) -> Result<(), String> {
        if !ctx.filter_exact {
            return Ok(());
        }
        if (got.page, got.per_page, got.total, got.next.is_some())
            != (want.page, want.per_page, want.total, want.next.is_some())
        {
            return Err(format!(
                "page {} per_page {} total {:?} next {} ({} items), the reference: page {} per_page {} total {:?} next {} ({} items)",
                got.page,
                got.per_page,
                got.total,
                got.next.is_some(),
                got.items.len(),
                want.page,
                want.per_page,
                want.total,
                want.next.is_some(),
                want.items.len()
            ));
        }
        self.same_items(model, prepared, ctx, &got.items, &want.items)
    }

    /// Compares this subject's answer with the reference's.
    pub(crate) fn compare(
        &mut self,
        model: &Model,
        prepared: &Prepared,
        want: &Answer,
        got: Answer,
    ) -> Result<(), String> {
        let (entity, tenant) = (prepared.entity, prepared.tenant.as_str());
        match (got, want) {
            (Answer::Error(g), Answer::Error(w)) => {
                let g = replace_all(&g, &self.to_ref);
                if &g == w {
                    Ok(())
                } else {
                    Err(format!("error {g}, the reference's error {w}"))
                }
            }
            (Answer::Error(g), w) => Err(format!(
                "error {}, the reference answered {}",
                replace_all(&g, &self.to_ref),
                short(w)
            )),
            (g, Answer::Error(w)) => {
                Err(format!("answered {}, the reference's error {w}", short(&g)))
            }
            (Answer::Record(g), Answer::Record(w)) => {
                if prepared.generated_key {
                    let (gk, wk) = (key_of(entity, &g), key_of(entity, w));
                    if !same_shape(&gk, &wk) {
                        return Err(format!(
                            "generated key {gk:?} does not look like the reference's {wk:?}"
                        ));
                    }
                    self.to_ref.insert(gk.clone(), wk.clone());
                    self.to_store.insert(wk, gk);
                }
                self.same_record(model, entity, tenant, &g, w)
            }
            (Answer::Optional(g), Answer::Optional(w)) => match (g, w) {
                (None, None) => Ok(()),
                (Some(g), Some(w)) => self.same_record(model, entity, tenant, &g, w),
                (g, w) => Err(format!(
                    "answered {}, the reference {}",
                    if g.is_some() { "a record" } else { "none" },
                    if w.is_some() { "a record" } else { "none" }
                )),
            },
            (Answer::Page(g), Answer::Page(w)) => {
                let ctx = prepared.list.as_ref().ok_or("no listing context")?;
                self.same_page(model, prepared, ctx, &g, w)
            }
            (Answer::Scan(g), Answer::Scan(w)) => {
                let ctx = prepared.list.as_ref().ok_or("no listing context")?;
                if !ctx.filter_exact {
                    return Ok(());
                }
                let sizes =
                    |pages: &[PageAnswer]| pages.iter().map(|p| p.items.len()).collect::<Vec<_>>();
                if sizes(&g) != sizes(w) {
                    return Err(format!(
                        "keyset scan pages of {:?} items, the reference {:?}",
                        sizes(&g),
                        sizes(w)
                    ));
                }
                let all = |pages: Vec<PageAnswer>| {
                    pages.into_iter().flat_map(|p| p.items).collect::<Vec<_>>()
                };
                self.same_items(model, prepared, ctx, &all(g), &all(w.clone()))
                    .map_err(|e| format!("keyset scan: {e}"))
            }
            (g, w) if &g == w => Ok(()),
            (g, w) => Err(format!(
                "answered {}, the reference {}",
                short(&g),
                short(w)
            )),
        }
    }

    /// Runs one prepared call and compares; records the first divergence.
    pub(crate) async fn step(
        &mut self,
        model: &Model,
        prepared: &Prepared,
        want: &Answer,
        label: &str,
    ) {
        if self.divergence.is_some() {
            return;
        }
        let call = self.translate(&prepared.call);
        let got = exec::run(self.adapters(), &call).await;
        if let Err(e) = self.compare(model, prepared, want, got) {
            self.divergence = Some(format!("{label}\n      {e}"));
        }
    }

    /// Compares every record of every entity with the reference's.
    pub(crate) async fn final_contents(&mut self, model: &Model, reference: &DataAdapters) {
        if self.divergence.is_some() {
            return;
        }
        let tenants = model.tenants();
        for entity in EntityKind::ALL {
            let scopes: Vec<String> = if entity == EntityKind::Tenant {
                vec![String::new()]
            } else {
                tenants.clone()
            };
            for tenant in scopes {
                let want = exec::all_records(reference, entity, &tenant).await;
                let got = exec::all_records(self.adapters(), entity, &self.store_id(&tenant)).await;
                let result = match (got, want) {
                    (Ok(got), Ok(want)) => self.same_contents(model, entity, &tenant, got, want),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
                if let Err(e) = result {
                    self.divergence = Some(format!(
                        "final contents of {} under tenant {tenant:?}: {e}",
                        entity.table()
                    ));
                    return;
                }
            }
        }
    }

    fn same_contents(
        &self,
        model: &Model,
        entity: EntityKind,
        tenant: &str,
        got: Vec<Json>,
        want: Vec<Json>,
    ) -> Result<(), String> {
        let want: BTreeMap<String, Json> =
            want.into_iter().map(|r| (key_of(entity, &r), r)).collect();
        let mut seen = BTreeSet::new();
        for g in got {
            let mut translated = g.clone();
            map_strings(&mut translated, &self.to_ref);
            let key = key_of(entity, &translated);
            let Some(w) = want.get(&key) else {
                return Err(format!("{key:?} is not in the reference"));
            };
            seen.insert(key);
            self.same_record(model, entity, tenant, &g, w)?;
        }
        if let Some(missing) = want.keys().find(|k| !seen.contains(*k)) {
            return Err(format!("{missing:?} is missing"));
        }
        Ok(())
    }
}

fn short(answer: &Answer) -> String {
    match answer {
        Answer::Error(e) => format!("error {e}"),
        Answer::Record(_) => "a record".into(),
        Answer::Optional(Some(_)) => "a record".into(),
        Answer::Optional(None) => "none".into(),
        Answer::Flag(b) => b.to_string(),
        Answer::Count(n) => format!("count {n}"),
        Answer::Unit => "ok".into(),
        Answer::Page(p) => format!("a page of {} items", p.items.len()),
        Answer::Scan(p) => format!("a scan of {} pages", p.len()),
    }
}

/// Removes every tenant (which removes everything else) and checks that the
/// store is empty afterwards.
pub(crate) async fn reset(adapters: &DataAdapters) -> Result<(), String> {
    let tenants = exec::all_records(adapters, EntityKind::Tenant, "").await?;
    let ids: Vec<String> = tenants
        .iter()
        .map(|t| key_of(EntityKind::Tenant, t))
        .collect();
    for id in &ids {
        if let Err(e) = adapters.tenants.remove(id).await {
            return Err(format!("removing tenant {id:?} failed: {e}"));
        }
    }
    let left = exec::all_records(adapters, EntityKind::Tenant, "").await?;
    if !left.is_empty() {
        return Err(format!("{} tenants remain after removing all", left.len()));
    }
    for id in &ids {
        for entity in &EntityKind::ALL[1..] {
            let rest = exec::all_records(adapters, *entity, id).await?;
            if !rest.is_empty() {
                return Err(format!(
                    "{} {} remain after their tenant {id:?} was removed",
                    rest.len(),
                    entity.table()
                ));
            }
        }
    }
    Ok(())
}

/// A fresh reference store.
pub(crate) fn reference() -> DataAdapters {
    memory::adapters()
}

/// The places a metadata search can address in `metadata`: each path of
/// keys `q` can spell (through objects, up to 3 deep) with a scalar found
/// there (an array's scalar elements each), or no value for an object,
/// array or null (for `_exists_`).
fn metadata_places(metadata: &Json) -> Vec<(String, Option<Json>)> {
    fn walk(at: &Json, path: &str, depth: usize, out: &mut Vec<(String, Option<Json>)>) {
        let Some(object) = at.as_object() else { return };
        for (key, value) in object {
            let spellable = !key.is_empty()
                && key.len() <= 64
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !spellable {
                continue;
            }
            let here = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match value {
                Json::Array(items) => {
                    out.push((here.clone(), None));
                    for item in items.iter().filter(|i| !i.is_array() && !i.is_object()) {
                        out.push((here.clone(), Some(item.clone())));
                    }
                }
                Json::Object(_) => {
                    out.push((here.clone(), None));
                    if depth < 3 {
                        walk(value, &here, depth + 1, out);
                    }
                }
                Json::Null => out.push((here, None)),
                scalar => out.push((here, Some(scalar.clone()))),
            }
        }
    }
    let mut out = Vec::new();
    walk(metadata, "", 1, &mut out);
    out
}
