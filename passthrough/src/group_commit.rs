//! Group commit for the journal steps every write takes.
//!
//! Each write through the passthrough costs the primary's database a
//! `begin`, a `finish` and, once copied, a `settle`: three small statements,
//! three commits. Under concurrent writers those statements dominate what the
//! journal costs, yet each of them already accepts many keys. [`GroupCommit`]
//! wraps a journal and, for each of the three steps, sends the calls that
//! arrive while an earlier statement of that step is in flight as **one**
//! call of the inner journal, then hands every caller its own part of the
//! answer. A call that finds nothing in flight goes at once, so a lone
//! writer waits for nothing; under load, the statements per write fall by
//! the number of writers that arrive together.
//!
//! **The contract is the inner journal's**, with one difference: a
//! coalesced `finish` claims under the token of the first call of its batch,
//! so callers must settle, fail or release with the [`Claim`]s it returns
//! (which carry that token), never with the token they passed. Tokens stay
//! unique per batch, so no two holders ever share a claim.
//!
//! Why a batch is always safe:
//! - the calls of one batch touch pairwise disjoint journal rows: a call
//!   that shares a row with a call already taken (or skipped) waits for a
//!   later batch, so a row's in-flight counter counts every write (one
//!   statement never merges two writes of a key into one) and the calls of
//!   one key keep their order;
//! - `begin` calls are grouped only with the same fence and lease, so the
//!   fence check, all or nothing for a statement, decides for each call
//!   exactly as it would alone;
//! - each batch runs in a task of its own, so a caller whose future is
//!   dropped (a request timeout) never strands the others; its own part
//!   still happens, as it would have had the statement already been sent.
//!
//! Every other method goes straight to the inner journal.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapter_interfaces::journal::{
    Backlog, Begun, Claim, EntryFilter, Failure, Fence, JournalEntry, JournalKey,
    ReplicationJournal, StageRecord,
};
use adapter_interfaces::{AdapterError, Result};
use tokio::sync::oneshot;

/// Most keys one coalesced call carries: the SQL journal's chunk, so that a
/// batch stays one statement.
const MAX_BATCH_KEYS: usize = 1000;

/// A journal row's identity: `(target, tenant, entity column, key column)`.
type RowId = (String, String, &'static str, String);

fn row_of(key: &JournalKey) -> RowId {
    (
        key.target.clone(),
        key.tenant_id.clone(),
        key.subject.entity_column(),
        key.subject.key_column(),
    )
}

/// One caller's part of a batch.
trait Request: Send + 'static {
    type Answer: Send + 'static;
    /// The rows the call touches.
    fn keys(&self) -> Vec<&JournalKey>;
    /// Whether the call may share a statement with `first`.
    fn joins(&self, first: &Self) -> bool;
    /// Where its answer goes.
    fn reply(self, answer: Result<Self::Answer>);
}

/// The calls of one step waiting for a statement, and whether one is running.
struct Lane<R> {
    state: Mutex<LaneState<R>>,
}

struct LaneState<R> {
    queue: VecDeque<R>,
    running: bool,
}

impl<R: Request> Lane<R> {
    fn new() -> Self {
        Self {
            state: Mutex::new(LaneState {
                queue: VecDeque::new(),
                running: false,
            }),
        }
    }

    /// Queues `request`; returns whether the caller must start the runner.
    fn push(&self, request: R) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.queue.push_back(request);
        !std::mem::replace(&mut state.running, true)
    }

    /// The next batch: the oldest call, and every later call that joins it
    /// and shares no row with a call taken or passed over before it. `None`
    /// (and the lane marked idle) when nothing waits.
    fn next_batch(&self) -> Option<Vec<R>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(first) = state.queue.pop_front() else {
            state.running = false;
            return None;
        };
        let mut seen: HashSet<RowId> = first.keys().into_iter().map(row_of).collect();
        let mut total = seen.len();
        let mut batch = vec![first];
        let mut left = VecDeque::new();
        while let Some(request) = state.queue.pop_front() {
            let rows: Vec<RowId> = request.keys().into_iter().map(row_of).collect();
            let free = rows.iter().all(|row| !seen.contains(row));
            let fits = total + rows.len() <= MAX_BATCH_KEYS;
            let take = free && fits && request.joins(&batch[0]);
            total += if take { rows.len() } else { 0 };
            seen.extend(rows);
            if take {
                batch.push(request);
            } else {
                left.push_back(request);
            }
        }
        state.queue = left;
        Some(batch)
    }
}

/// Runs the batches of one lane until it is empty, in a task of its own.
fn run_lane<R, Run, Fut>(lane: Arc<Lane<R>>, run: Run)
where
    R: Request,
    Run: Fn(Vec<R>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        while let Some(batch) = lane.next_batch() {
            run(batch).await;
        }
    });
}

/// The error of a statement, for each caller that shared it (errors are not
/// `Clone`; a lone caller gets the original).
fn shared_error(error: &AdapterError) -> AdapterError {
    AdapterError::Backend {
        message: error.to_string(),
        source: None,
    }
}

/// Hands each request its answer, the first the original error.
fn reply_all<R: Request>(batch: Vec<R>, answer: Result<R::Answer>)
where
    R::Answer: Clone,
{
    match answer {
        Ok(answer) => batch
            .into_iter()
            .for_each(|request| request.reply(Ok(answer.clone()))),
        Err(error) => {
            let copies: Vec<AdapterError> =
                (1..batch.len()).map(|_| shared_error(&error)).collect();
            let mut errors = std::iter::once(error).chain(copies);
            for request in batch {
                if let Some(error) = errors.next() {
                    request.reply(Err(error));
                }
            }
        }
    }
}

struct BeginRequest {
    fence: Fence,
    keys: Vec<JournalKey>,
    lease: Duration,
    reply: oneshot::Sender<Result<Begun>>,
}

impl Request for BeginRequest {
    type Answer = Begun;
    fn keys(&self) -> Vec<&JournalKey> {
        self.keys.iter().collect()
    }
    fn joins(&self, first: &Self) -> bool {
        self.fence == first.fence && self.lease == first.lease
    }
    fn reply(self, answer: Result<Begun>) {
        let _ = self.reply.send(answer);
    }
}

struct FinishRequest {
    token: String,
    keys: Vec<JournalKey>,
    lease: Duration,
    reply: oneshot::Sender<Result<Vec<Claim>>>,
}

impl Request for FinishRequest {
    type Answer = Vec<Claim>;
    fn keys(&self) -> Vec<&JournalKey> {
        self.keys.iter().collect()
    }
    fn joins(&self, first: &Self) -> bool {
        self.lease == first.lease
    }
    fn reply(self, answer: Result<Vec<Claim>>) {
        let _ = self.reply.send(answer);
    }
}

struct SettleRequest {
    claim: Claim,
    reply: oneshot::Sender<Result<bool>>,
}

impl Request for SettleRequest {
    type Answer = bool;
    fn keys(&self) -> Vec<&JournalKey> {
        vec![&self.claim.key]
    }
    fn joins(&self, _first: &Self) -> bool {
        true
    }
    fn reply(self, answer: Result<bool>) {
        let _ = self.reply.send(answer);
    }
}

/// A journal whose `begin`, `finish` and `settle` calls are coalesced across
/// concurrent callers (see the module docs).
pub(crate) struct GroupCommit {
    inner: Arc<dyn ReplicationJournal>,
    begins: Arc<Lane<BeginRequest>>,
    finishes: Arc<Lane<FinishRequest>>,
    settles: Arc<Lane<SettleRequest>>,
}

impl GroupCommit {
    /// Coalesces the per-write steps of `inner`.
    pub(crate) fn new(inner: Arc<dyn ReplicationJournal>) -> Self {
        Self {
            inner,
            begins: Arc::new(Lane::new()),
            finishes: Arc::new(Lane::new()),
            settles: Arc::new(Lane::new()),
        }
    }

    fn start_begins(&self) {
        let inner = self.inner.clone();
        run_lane(self.begins.clone(), move |batch: Vec<BeginRequest>| {
            let inner = inner.clone();
            async move {
                let keys: Vec<JournalKey> =
                    batch.iter().flat_map(|r| r.keys.iter().cloned()).collect();
                let (fence, lease) = (batch[0].fence.clone(), batch[0].lease);
                metrics::histogram!("switchyard_journal_batch_calls", "step" => "begin")
                    .record(batch.len() as f64);
                let answer = inner.begin(&fence, &keys, lease).await;
                reply_all(batch, answer);
            }
        });
    }

    fn start_finishes(&self) {
        let inner = self.inner.clone();
        run_lane(self.finishes.clone(), move |batch: Vec<FinishRequest>| {
            let inner = inner.clone();
            async move {
                let keys: Vec<JournalKey> =
                    batch.iter().flat_map(|r| r.keys.iter().cloned()).collect();
                let (token, lease) = (batch[0].token.clone(), batch[0].lease);
                metrics::histogram!("switchyard_journal_batch_calls", "step" => "finish")
                    .record(batch.len() as f64);
                match inner.finish(&token, &keys, lease).await {
                    Ok(claims) => {
                        // Rows are disjoint across the batch: each claim has one owner.
                        let owner: HashMap<RowId, usize> = batch
                            .iter()
                            .enumerate()
                            .flat_map(|(i, r)| r.keys.iter().map(move |k| (row_of(k), i)))
                            .collect();
                        let mut parts: Vec<Vec<Claim>> = vec![Vec::new(); batch.len()];
                        for claim in claims {
                            if let Some(&i) = owner.get(&row_of(&claim.key)) {
                                parts[i].push(claim);
                            }
                        }
                        for (request, part) in batch.into_iter().zip(parts) {
                            request.reply(Ok(part));
                        }
                    }
                    Err(error) => reply_all(batch, Err(error)),
                }
            }
        });
    }

    fn start_settles(&self) {
        let inner = self.inner.clone();
        run_lane(
            self.settles.clone(),
            move |mut batch: Vec<SettleRequest>| {
                let inner = inner.clone();
                async move {
                    // `settle_many` shares a statement among consecutive claims of one token.
                    batch.sort_by(|a, b| a.claim.token.cmp(&b.claim.token));
                    let claims: Vec<Claim> = batch.iter().map(|r| r.claim.clone()).collect();
                    metrics::histogram!("switchyard_journal_batch_calls", "step" => "settle")
                        .record(batch.len() as f64);
                    match inner.settle_many(&claims).await {
                        Ok(settled) if settled.len() == batch.len() => {
                            for (request, settled) in batch.into_iter().zip(settled) {
                                request.reply(Ok(settled));
                            }
                        }
                        Ok(settled) => reply_all(
                            batch,
                            Err(AdapterError::Backend {
                                message: format!(
                                    "the journal settled {} of {} claims",
                                    settled.len(),
                                    claims.len()
                                ),
                                source: None,
                            }),
                        ),
                        Err(error) => reply_all(batch, Err(error)),
                    }
                }
            },
        );
    }
}

/// The answer of a batch, or an error if its task ended without one.
async fn answer<T>(receiver: oneshot::Receiver<Result<T>>) -> Result<T> {
    receiver.await.unwrap_or_else(|_| {
        Err(AdapterError::Backend {
            message: "the journal's batch ended without an answer".to_owned(),
            source: None,
        })
    })
}

#[async_trait::async_trait]
impl ReplicationJournal for GroupCommit {
    async fn begin(&self, fence: &Fence, keys: &[JournalKey], lease: Duration) -> Result<Begun> {
        if keys.len() >= MAX_BATCH_KEYS {
            return self.inner.begin(fence, keys, lease).await;
        }
        let (reply, receiver) = oneshot::channel();
        let request = BeginRequest {
            fence: fence.clone(),
            keys: keys.to_vec(),
            lease,
            reply,
        };
        if self.begins.push(request) {
            self.start_begins();
        }
        answer(receiver).await
    }

    async fn finish(
        &self,
        token: &str,
        keys: &[JournalKey],
        lease: Duration,
    ) -> Result<Vec<Claim>> {
        if keys.len() >= MAX_BATCH_KEYS {
            return self.inner.finish(token, keys, lease).await;
        }
        let (reply, receiver) = oneshot::channel();
        let request = FinishRequest {
            token: token.to_owned(),
            keys: keys.to_vec(),
            lease,
            reply,
        };
        if self.finishes.push(request) {
            self.start_finishes();
        }
        answer(receiver).await
    }

    async fn claim(
        &self,
        token: &str,
        target: &str,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Claim>> {
        self.inner.claim(token, target, limit, lease).await
    }

    async fn claim_keys(
        &self,
        token: &str,
        keys: &[JournalKey],
        lease: Duration,
    ) -> Result<Vec<Claim>> {
        self.inner.claim_keys(token, keys, lease).await
    }

    async fn settle_many(&self, claims: &[Claim]) -> Result<Vec<bool>> {
        self.inner.settle_many(claims).await
    }

    async fn settle(&self, claim: &Claim) -> Result<bool> {
        let (reply, receiver) = oneshot::channel();
        let request = SettleRequest {
            claim: claim.clone(),
            reply,
        };
        if self.settles.push(request) {
            self.start_settles();
        }
        answer(receiver).await
    }

    async fn fail(&self, claim: &Claim, failure: &Failure) -> Result<()> {
        self.inner.fail(claim, failure).await
    }

    async fn release(&self, claim: &Claim) -> Result<()> {
        self.inner.release(claim).await
    }

    async fn entries(&self, filter: &EntryFilter, limit: usize) -> Result<Vec<JournalEntry>> {
        self.inner.entries(filter, limit).await
    }

    async fn revive(&self, filter: &EntryFilter) -> Result<u64> {
        self.inner.revive(filter).await
    }

    async fn discard(&self, filter: &EntryFilter) -> Result<u64> {
        self.inner.discard(filter).await
    }

    async fn backlog(&self) -> Result<Vec<Backlog>> {
        self.inner.backlog().await
    }

    async fn stage(&self, scope: &str) -> Result<Option<StageRecord>> {
        self.inner.stage(scope).await
    }

    async fn set_stage(
        &self,
        scope: &str,
        expected: i64,
        stage: &str,
        generation: i64,
    ) -> Result<bool> {
        self.inner
            .set_stage(scope, expected, stage, generation)
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use adapter_interfaces::EntityKind;
    use adapter_interfaces::journal::{MemoryJournal, Subject};

    use super::*;

    /// A memory journal whose `begin` and `finish` take a while and are counted.
    struct Slow {
        inner: MemoryJournal,
        begins: AtomicUsize,
        finishes: AtomicUsize,
    }

    fn key(user: &str) -> JournalKey {
        JournalKey::new(
            "new",
            "t1",
            Subject::Record {
                entity: EntityKind::User,
                key: user.to_owned(),
            },
        )
    }

    fn fence() -> Fence {
        Fence {
            scope: "default".into(),
            generation: 0,
            stage: "dual_write".into(),
        }
    }

    #[async_trait::async_trait]
    impl ReplicationJournal for Slow {
        async fn begin(&self, f: &Fence, k: &[JournalKey], l: Duration) -> Result<Begun> {
            self.begins.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.inner.begin(f, k, l).await
        }
        async fn finish(&self, t: &str, k: &[JournalKey], l: Duration) -> Result<Vec<Claim>> {
            self.finishes.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.inner.finish(t, k, l).await
        }
        async fn claim(&self, t: &str, g: &str, n: usize, l: Duration) -> Result<Vec<Claim>> {
            self.inner.claim(t, g, n, l).await
        }
        async fn claim_keys(&self, t: &str, k: &[JournalKey], l: Duration) -> Result<Vec<Claim>> {
            self.inner.claim_keys(t, k, l).await
        }
        async fn settle(&self, c: &Claim) -> Result<bool> {
            self.inner.settle(c).await
        }
        async fn fail(&self, c: &Claim, f: &Failure) -> Result<()> {
            self.inner.fail(c, f).await
        }
        async fn release(&self, c: &Claim) -> Result<()> {
            self.inner.release(c).await
        }
        async fn entries(&self, f: &EntryFilter, n: usize) -> Result<Vec<JournalEntry>> {
            self.inner.entries(f, n).await
        }
        async fn revive(&self, f: &EntryFilter) -> Result<u64> {
            self.inner.revive(f).await
        }
        async fn discard(&self, f: &EntryFilter) -> Result<u64> {
            self.inner.discard(f).await
        }
        async fn backlog(&self) -> Result<Vec<Backlog>> {
            self.inner.backlog().await
        }
        async fn stage(&self, s: &str) -> Result<Option<StageRecord>> {
            self.inner.stage(s).await
        }
        async fn set_stage(&self, s: &str, e: i64, v: &str, g: i64) -> Result<bool> {
            self.inner.set_stage(s, e, v, g).await
        }
    }

    fn slow() -> Arc<Slow> {
        Arc::new(Slow {
            inner: MemoryJournal::new(),
            begins: AtomicUsize::new(0),
            finishes: AtomicUsize::new(0),
        })
    }

    #[tokio::test]
    async fn concurrent_calls_share_statements_and_each_gets_its_own_claims() {
        let inner = slow();
        let journal = Arc::new(GroupCommit::new(inner.clone()));
        let lease = Duration::from_secs(30);
        let writers: Vec<_> = (0..16)
            .map(|i| {
                let journal = journal.clone();
                tokio::spawn(async move {
                    let keys = [key(&format!("u{i}"))];
                    let begun = journal.begin(&fence(), &keys, lease).await?;
                    let claims = journal.finish(&format!("w{i}"), &keys, lease).await?;
                    Ok::<_, AdapterError>((begun, claims, keys))
                })
            })
            .collect();
        for writer in writers {
            let (begun, claims, keys) = writer.await.expect("joined").expect("journal");
            assert_eq!(begun, Begun::Recorded);
            let claimed: Vec<_> = claims.iter().map(|c| c.key.clone()).collect();
            assert_eq!(claimed, keys, "each writer claims exactly its own key");
            for claim in &claims {
                assert!(journal.settle(claim).await.expect("settle"));
            }
        }
        // 16 writers arrived together: far fewer statements than writers.
        let (begins, finishes) = (
            inner.begins.load(Ordering::SeqCst),
            inner.finishes.load(Ordering::SeqCst),
        );
        assert!(
            begins <= 4 && finishes <= 4,
            "begins {begins}, finishes {finishes}"
        );
        assert!(
            journal
                .backlog()
                .await
                .expect("backlog")
                .iter()
                .all(|b| b.pending == 0)
        );
    }

    #[tokio::test]
    async fn two_writes_of_one_key_are_never_merged_into_one() {
        let inner = slow();
        let journal = Arc::new(GroupCommit::new(inner.clone()));
        let lease = Duration::from_secs(30);
        // A write of another key holds the lane, so both writes of `u1` queue
        // behind it; each must still count as a write in flight.
        let blocker = {
            let journal = journal.clone();
            tokio::spawn(async move { journal.begin(&fence(), &[key("u0")], lease).await })
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        let twice: Vec<_> = (0..2)
            .map(|_| {
                let journal = journal.clone();
                tokio::spawn(async move { journal.begin(&fence(), &[key("u1")], lease).await })
            })
            .collect();
        assert_eq!(
            blocker.await.expect("joined").expect("begin"),
            Begun::Recorded
        );
        for begin in twice {
            assert_eq!(
                begin.await.expect("joined").expect("begin"),
                Begun::Recorded
            );
        }
        // One write finishes: the other is still in flight, so no relay may take the key.
        journal
            .finish("w1", &[key("u1")], lease)
            .await
            .expect("finish");
        let filter = EntryFilter {
            record_key: Some("u1".into()),
            ..EntryFilter::default()
        };
        let entries = journal.entries(&filter, 10).await.expect("entries");
        assert_eq!(entries.len(), 1);
        assert!(
            entries[0].in_flight,
            "the second write of u1 was lost from the count"
        );
        assert_eq!(
            inner.begins.load(Ordering::SeqCst),
            3,
            "one statement per write of u1"
        );
    }
}
