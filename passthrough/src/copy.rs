//! What applying one journal row means: bring one subject of the target to
//! the source's current state (the rules are in [`crate::reconcile`]).

use std::sync::Arc;

use adapter_interfaces::journal::Subject;
use adapter_interfaces::{DataAdapters, EntityKind, Result};

use crate::core::KnownCopy;
use crate::entity::Entity;
use crate::reconcile::{self, Pair};

/// Copies `subject` of `tenant_id` from `source` to `target`.
pub(crate) async fn copy_subject(
    source: &DataAdapters,
    target: &DataAdapters,
    tenant_id: &str,
    subject: &Subject,
) -> Result<()> {
    let pair = Pair { target, source };
    match subject {
        Subject::Record { entity, key } => resync(pair, *entity, tenant_id, key).await,
        Subject::Cascade {
            entity: EntityKind::Tenant,
            key,
        } => reconcile::tenant_removal(pair, key).await,
        Subject::Cascade {
            entity: EntityKind::User,
            key,
        } => reconcile::user_removal(pair, tenant_id, key).await,
        Subject::Cascade { entity, key } => resync(pair, *entity, tenant_id, key).await,
        Subject::UserPasswords { user_id } => {
            reconcile::user_passwords(pair, tenant_id, user_id).await
        }
        Subject::ExpiredCodes { before } => {
            reconcile::expired_codes(pair, tenant_id, *before).await
        }
    }
}

/// Brings one record of `entity` to the source's current state.
async fn resync(pair: Pair<'_>, entity: EntityKind, tenant_id: &str, key: &str) -> Result<()> {
    async fn one<R: Entity>(pair: Pair<'_>, tenant_id: &str, key: &str) -> Result<()> {
        let (target, source) = (R::store(pair.target), R::store(pair.source));
        reconcile::resync_key::<R>(pair, (&*target, &*source), tenant_id, key).await
    }
    use adapter_interfaces::{Application, Code, Connection, Log, Password, Session, Tenant, User};
    match entity {
        // Tenants are keyed by id alone (their journal rows have no tenant).
        EntityKind::Tenant => one::<Tenant>(pair, "", key).await,
        EntityKind::User => one::<User>(pair, tenant_id, key).await,
        EntityKind::Application => one::<Application>(pair, tenant_id, key).await,
        EntityKind::Connection => one::<Connection>(pair, tenant_id, key).await,
        EntityKind::Session => one::<Session>(pair, tenant_id, key).await,
        EntityKind::Code => {
            one::<Code>(pair, tenant_id, key).await?;
            // A `codes.cleanup` removes codes without journaling each of
            // them: a copy that read a code before the cleanup removed it
            // and wrote it after the cleanup's own copy scanned the target
            // would leave it there for good. Reading the source again after
            // the write closes that window: either this read sees the
            // removal, or the cleanup's copy (which starts only after the
            // removal) sees the code this copy wrote.
            if pair.source.codes.get(tenant_id, key).await?.is_none() {
                Code::remove_absent(&*pair.target.codes, tenant_id, key).await?;
            }
            Ok(())
        }
        EntityKind::Password => one::<Password>(pair, tenant_id, key).await,
        EntityKind::Log => one::<Log>(pair, tenant_id, key).await,
    }
}

/// The copy of `record` as the source holds it now (a writer's own result,
/// proven current by the journal): upserted without reading the source,
/// with the parents the target lacks copied first as in every copy.
pub(crate) fn known_record<R: Entity>(
    bundles: Arc<Vec<DataAdapters>>,
    source: usize,
    tenant_id: String,
    record: R,
) -> KnownCopy {
    Box::new(move |target| {
        Box::pin(async move {
            let pair = Pair {
                target: &bundles[target],
                source: &bundles[source],
            };
            let store = R::store(pair.target);
            reconcile::upsert_with_parents::<R>(pair, &*store, &tenant_id, record).await
        })
    })
}
