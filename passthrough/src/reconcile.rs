//! Reconciliation with the source: what a retry (from the second attempt
//! on) and a dead-letter replay apply instead of the original write.
//!
//! The rule: never re-apply a snapshot; bring each key the write touched to
//! the source's *current* state (upsert the source's record, or settle the
//! key as absent). A retry runs at the head of its queue, with the writes
//! the primary made since still queued behind it; a replay runs after them.
//! Both are correct when the target ends up with the source's current state
//! of every key the original write changed, including what it changed as a
//! side effect (a cascade, a demotion, an expiry cleanup): a write queued
//! later is an exact copy of a later primary state, so copying the current
//! state early is never undone by anything older. Hence:
//!
//! - an upsert or a removal of a leaf record: resync that key;
//! - a removal of a tenant or a user, which cascades: remove it on the
//!   target, then copy the source's current record (if it was re-created)
//!   with everything under it, because the target may hold children of the
//!   old record that no per-key look-up of the source would find;
//! - a write of a password, which demotes the user's other current
//!   passwords: reconcile all of that user's passwords;
//! - `codes.cleanup`: reconcile, key by key, the target's codes that expire
//!   before the cut-off (a blind cleanup would delete a code the primary
//!   wrote again, with an old expiry, after its own cleanup).

use adapter_interfaces::{
    AdapterError, Application, Code, Connection, DataAdapters, EntityKind, EntityStore, ListParams,
    Log, Password, Result, Session, Tenant, Timestamp, User, Value, query::MAX_Q_BYTES,
    record::column_value,
};

use crate::entity::{Entity, TenantStore};

/// Page size of the scans that list what to reconcile.
const PAGE: u32 = 500;

/// A keyset scan of one entity's records under one tenant.
struct Scan<'a, R: Entity> {
    store: &'a R::Store,
    tenant_id: &'a str,
    q: Option<String>,
    from: Option<String>,
    done: bool,
}

impl<'a, R: Entity> Scan<'a, R> {
    /// Scans the records `q` selects. A `q` longer than the query language
    /// allows (a long id quoted) scans everything instead: callers filter
    /// every page themselves anyway, so the answer is the same.
    fn new(store: &'a R::Store, tenant_id: &'a str, q: Option<String>) -> Self {
        Self {
            store,
            tenant_id,
            q: q.filter(|q| q.len() <= MAX_Q_BYTES),
            from: None,
            done: false,
        }
    }

    /// The next page, or `None` after the last.
    async fn next(&mut self) -> Result<Option<Vec<R>>> {
        if self.done {
            return Ok(None);
        }
        let mut params = ListParams::default().with_per_page(PAGE);
        if let Some(q) = &self.q {
            params = params.with_q(q.clone());
        }
        if let Some(from) = self.from.take() {
            params = params.with_from(from);
        }
        let page = self.store.list(self.tenant_id, &params).await?;
        self.from = page.next;
        self.done = self.from.is_none();
        Ok(Some(page.items))
    }
}

/// A value quoted for `q` (`"` and `\` escaped), so any id is one term.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The two whole stores a reconciliation reads and writes: a write of one
/// entity may need another's records (a cascade's children, a missing parent).
#[derive(Clone, Copy)]
pub(crate) struct Pair<'a> {
    /// Where the write goes (the secondary).
    pub target: &'a DataAdapters,
    /// Whose current state it copies (the primary).
    pub source: &'a DataAdapters,
}

/// Brings one key of the target to the source's current state.
pub(crate) async fn resync_key<R: Entity>(
    pair: Pair<'_>,
    (target, source): (&R::Store, &R::Store),
    tenant_id: &str,
    key: &str,
) -> Result<()> {
    match source.get(tenant_id, key).await? {
        Some(record) => upsert_with_parents(pair, target, tenant_id, record).await,
        None => R::remove_absent(target, tenant_id, key).await,
    }
}

/// Upserts the source's current `record`; if the target lacks its tenant or
/// its parent user, copies their current state first and tries again.
///
/// A current record may be newer than the write being reconciled and need
/// a parent created after that write: the parent's own replicated write is
/// then queued behind (a retry) or parked later in the dead-letter list (a
/// replay). Copying the parent's current state ahead is safe for the same
/// reason as copying the record's (every later write of it follows, exact).
pub(crate) async fn upsert_with_parents<R: Entity>(
    pair: Pair<'_>,
    target: &R::Store,
    tenant_id: &str,
    record: R,
) -> Result<()> {
    // A tenant, then a user: at most one copy of each before giving up.
    let mut copied = Vec::new();
    loop {
        let error = match target.upsert(tenant_id, record.clone()).await {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        let AdapterError::NotFound { entity, .. } = &error else {
            return Err(error);
        };
        let entity = *entity;
        if copied.contains(&entity) || !copy_parent(pair, tenant_id, &record, entity).await? {
            return Err(error);
        }
        copied.push(entity);
    }
}

/// Copies `record`'s missing `parent` (its tenant, or its user) from the
/// source; `false` when that is not a parent of the record or the source
/// does not have it either (then the record's write fails as it should).
async fn copy_parent<R: Entity>(
    pair: Pair<'_>,
    tenant_id: &str,
    record: &R,
    parent: EntityKind,
) -> Result<bool> {
    match parent {
        EntityKind::Tenant if R::KIND != EntityKind::Tenant => {
            let Some(tenant) = pair.source.tenants.get(tenant_id).await? else {
                return Ok(false);
            };
            pair.target.tenants.upsert(tenant).await?;
            Ok(true)
        }
        EntityKind::User if R::PARENT.is_some_and(|p| p.parent == EntityKind::User) => {
            let column = R::PARENT.map_or("", |p| p.column);
            let Value::Text(user_id) = column_value(record, column) else {
                return Ok(false);
            };
            let Some(user) = pair.source.users.get(tenant_id, &user_id).await? else {
                return Ok(false);
            };
            if let Err(error) = pair.target.users.upsert(tenant_id, user.clone()).await {
                // The user's own tenant may be missing too.
                let tenant_missing = matches!(
                    &error,
                    AdapterError::NotFound {
                        entity: EntityKind::Tenant,
                        ..
                    }
                );
                if !tenant_missing
                    || !Box::pin(copy_parent(pair, tenant_id, &user, EntityKind::Tenant)).await?
                {
                    return Err(error);
                }
                pair.target.users.upsert(tenant_id, user).await?;
            }
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Reconciles the removal of a tenant: the target removes it (and, by
/// cascade, everything it owns); if the source has a tenant of that id
/// again, its current record and everything under it are copied.
pub(crate) async fn tenant_removal(pair: Pair<'_>, tenant_id: &str) -> Result<()> {
    let (target, source) = (pair.target, pair.source);
    let target_tenants = TenantStore(target.tenants.clone());
    <Tenant as Entity>::remove_absent(&target_tenants, "", tenant_id).await?;
    let Some(tenant) = source.tenants.get(tenant_id).await? else {
        return Ok(());
    };
    target.tenants.upsert(tenant).await?;
    // Parents before children (sessions and passwords need their user).
    copy_all::<User>(&*source.users, &*target.users, tenant_id).await?;
    copy_all::<Application>(&*source.applications, &*target.applications, tenant_id).await?;
    copy_all::<Connection>(&*source.connections, &*target.connections, tenant_id).await?;
    copy_all::<Session>(&*source.sessions, &*target.sessions, tenant_id).await?;
    copy_passwords(pair, tenant_id, None).await?;
    copy_all::<Code>(&*source.codes, &*target.codes, tenant_id).await?;
    copy_all::<Log>(&*source.logs, &*target.logs, tenant_id).await
}

/// Reconciles the removal of a user: the target removes it (and, by
/// cascade, its sessions and passwords); if the source has a user of that
/// id again, its current record, sessions and passwords are copied.
pub(crate) async fn user_removal(pair: Pair<'_>, tenant_id: &str, user_id: &str) -> Result<()> {
    let (target, source) = (pair.target, pair.source);
    <User as Entity>::remove_absent(&*target.users, tenant_id, user_id).await?;
    let Some(user) = source.users.get(tenant_id, user_id).await? else {
        return Ok(());
    };
    upsert_with_parents(pair, &*target.users, tenant_id, user).await?;
    let q = format!("user_id:{}", quoted(user_id));
    let sessions = Scan::<Session>::new(&*source.sessions, tenant_id, Some(q));
    copy_scan(sessions, &*target.sessions, tenant_id, |s| {
        s.user_id == user_id
    })
    .await?;
    copy_passwords(pair, tenant_id, Some(user_id)).await?;
    Ok(())
}

/// Reconciles every password of `user_id`: the source's are copied (the
/// current one first, since writing a current password demotes the user's
/// others on the target; the exact copies written after it then restore
/// their fields), and the target's that the source no longer has are removed.
pub(crate) async fn user_passwords(pair: Pair<'_>, tenant_id: &str, user_id: &str) -> Result<()> {
    let target = &*pair.target.passwords;
    let wanted = copy_passwords(pair, tenant_id, Some(user_id)).await?;
    let extra = user_password_set(target, tenant_id, user_id)
        .await?
        .into_iter()
        .filter(|p| !wanted.contains(&p.id))
        .map(|p| p.id);
    for id in extra {
        <Password as Entity>::remove_absent(target, tenant_id, &id).await?;
    }
    Ok(())
}

/// Every password of `user_id` in `store`, in id order: what a copy of the
/// user's passwords must make equal on both sides.
pub(crate) async fn user_password_set(
    store: &<Password as Entity>::Store,
    tenant_id: &str,
    user_id: &str,
) -> Result<Vec<Password>> {
    let q = format!("user_id:{}", quoted(user_id));
    let mut scan = Scan::<Password>::new(store, tenant_id, Some(q));
    let mut set = Vec::new();
    while let Some(page) = scan.next().await? {
        set.extend(page.into_iter().filter(|p| p.user_id == user_id));
    }
    set.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(set)
}

/// Reconciles a `codes.cleanup(older_than)`: each code of the target that
/// expires before the cut-off is brought to the source's current state (kept
/// if the source still has it, removed otherwise). Never a blind cleanup.
pub(crate) async fn expired_codes(
    pair: Pair<'_>,
    tenant_id: &str,
    older_than: Timestamp,
) -> Result<()> {
    let (target, source) = (&*pair.target.codes, &*pair.source.codes);
    // Every stored expiry is a storable instant: a cut-off before them all
    // selects nothing, one after them all selects everything (and neither
    // could be written as a `q` value every backend accepts).
    let q = if older_than.is_storable() {
        Some(format!("expires_at:<{}", quoted(&older_than.to_string())))
    } else if older_than.as_millis() < 0 {
        return Ok(());
    } else {
        None
    };
    let mut scan = Scan::<Code>::new(target, tenant_id, q);
    let mut keys = Vec::new();
    while let Some(page) = scan.next().await? {
        keys.extend(
            page.into_iter()
                .filter(|c| c.expires_at < older_than)
                .map(|c| c.code_id),
        );
    }
    for key in keys {
        resync_key::<Code>(pair, (target, source), tenant_id, &key).await?;
    }
    Ok(())
}

/// Copies what a scan of the source yields (and `keep` accepts) to the target, page by page.
async fn copy_scan<R: Entity>(
    mut scan: Scan<'_, R>,
    target: &R::Store,
    tenant_id: &str,
    keep: impl Fn(&R) -> bool,
) -> Result<()> {
    while let Some(page) = scan.next().await? {
        let records: Vec<R> = page.into_iter().filter(&keep).collect();
        if !records.is_empty() {
            target.upsert_many(tenant_id, records).await?;
        }
    }
    Ok(())
}

/// Copies every record of the tenant from source to target.
async fn copy_all<R: Entity>(source: &R::Store, target: &R::Store, tenant_id: &str) -> Result<()> {
    copy_scan(
        Scan::<R>::new(source, tenant_id, None),
        target,
        tenant_id,
        |_| true,
    )
    .await
}

/// Copies the tenant's passwords (of one user, or all), current ones first;
/// returns the ids copied.
async fn copy_passwords(
    pair: Pair<'_>,
    tenant_id: &str,
    user_id: Option<&str>,
) -> Result<Vec<String>> {
    let (target, source) = (&*pair.target.passwords, &*pair.source.passwords);
    let mut copied = Vec::new();
    for current in [true, false] {
        let mut q = format!("is_current:{current}");
        if let Some(user_id) = user_id {
            q = format!("{q} user_id:{}", quoted(user_id));
        }
        let mut scan = Scan::<Password>::new(source, tenant_id, Some(q));
        while let Some(page) = scan.next().await? {
            let records: Vec<Password> = page
                .into_iter()
                .filter(|p| p.is_current == current && user_id.is_none_or(|u| p.user_id == u))
                .collect();
            copied.extend(records.iter().map(|p| p.id.clone()));
            // One at a time: a batch's demotions would depend on its order inside the backend.
            for record in records {
                upsert_with_parents(pair, target, tenant_id, record).await?;
            }
        }
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapter_interfaces::query::parse_q;

    #[test]
    fn quoted_ids_parse_as_one_value() {
        for id in ["auth0|x\"q", "x\\q", "a b", "OR", "-dash", "é 東京"] {
            let q = format!("user_id:{} is_current:true", quoted(id));
            assert!(parse_q::<Password>(&q).is_ok(), "{q}");
        }
        let cut = Timestamp::now().to_string();
        assert!(parse_q::<Code>(&format!("expires_at:<{}", quoted(&cut))).is_ok());
    }
}
