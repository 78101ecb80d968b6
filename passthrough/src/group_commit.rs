//! Group commit for the journal steps every write takes.
//!
//! Each write through the passthrough costs the primary's database a
//! `begin`, a `finish` (or `finish_copied`) and, once copied, a `settle`: up
//! to three small statements, three commits. Under concurrent writers those
//! statements dominate what the journal costs, yet each of them already
//! accepts many keys. [`GroupCommit`]
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
    Backlog, Begun, Claim, EntryFilter, Failure, Fence, JournalEntry, JournalKey, Mark,
    ReplicationJournal, RowId, StageRecord,
};
use adapter_interfaces::{AdapterError, Result};
use tokio::sync::oneshot;

/// Most keys one coalesced call carries: the SQL journal's chunk, so that a
/// batch stays one statement.
const MAX_BATCH_KEYS: usize = 1000;

/// One kind of call the journal coalesces (`begin`, `finish`, `settle`):
/// what a caller asks, and how a batch of such asks becomes one call of the
/// inner journal.
trait Call: Sized + Send + Sync + 'static {
    type Answer: Send + 'static;
    /// The step's name, for the batch-size metric.
    const STEP: &'static str;
    /// The rows the call touches.
    fn keys(&self) -> &[JournalKey];
    /// Whether the call may share a statement with `first`.
    fn joins(&self, first: &Self) -> bool;
    /// Runs `batch` as one call of `inner`: one answer per call, in order.
    fn run(
        inner: &dyn ReplicationJournal,
        batch: &[Self],
    ) -> impl Future<Output = Result<Vec<Self::Answer>>> + Send;
}

/// A call waiting in its lane, with where its answer goes.
struct Pending<C: Call> {
    call: C,
    reply: oneshot::Sender<Result<C::Answer>>,
}

/// The calls of one step waiting for a statement, and whether one is running.
struct Lane<C: Call> {
    state: Mutex<LaneState<C>>,
}

struct LaneState<C: Call> {
    queue: VecDeque<Pending<C>>,
    running: bool,
}

impl<C: Call> Lane<C> {
    fn new() -> Self {
        Self {
            state: Mutex::new(LaneState {
                queue: VecDeque::new(),
                running: false,
            }),
        }
    }

    /// Queues `pending`; returns whether the caller must start the runner.
    fn push(&self, pending: Pending<C>) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.queue.push_back(pending);
        !std::mem::replace(&mut state.running, true)
    }

    /// The next batch: the oldest call, and every later call that joins it
    /// and shares no row with a call taken or passed over before it. `None`
    /// (and the lane marked idle) when nothing waits.
    fn next_batch(&self) -> Option<Vec<Pending<C>>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(first) = state.queue.pop_front() else {
            state.running = false;
            return None;
        };
        let mut seen: HashSet<RowId> = first.call.keys().iter().map(JournalKey::row_id).collect();
        let mut total = seen.len();
        let mut batch = vec![first];
        let mut left = VecDeque::new();
        while let Some(pending) = state.queue.pop_front() {
            let rows: Vec<RowId> = pending.call.keys().iter().map(JournalKey::row_id).collect();
            let free = rows.iter().all(|row| !seen.contains(row));
            let fits = total + rows.len() <= MAX_BATCH_KEYS;
            let take = free && fits && pending.call.joins(&batch[0].call);
            total += if take { rows.len() } else { 0 };
            seen.extend(rows);
            if take {
                batch.push(pending);
            } else {
                left.push_back(pending);
            }
        }
        state.queue = left;
        Some(batch)
    }
}

/// Runs the batches of `lane` until it is empty, in a task of its own, and
/// answers every call (each caller sharing a failed statement gets its
/// error: errors are not `Clone`, so the first gets the original).
fn run_lane<C: Call>(lane: Arc<Lane<C>>, inner: Arc<dyn ReplicationJournal>) {
    tokio::spawn(async move {
        while let Some(batch) = lane.next_batch() {
            metrics::histogram!("switchyard_journal_batch_calls", "step" => C::STEP)
                .record(batch.len() as f64);
            let (calls, replies): (Vec<C>, Vec<_>) =
                batch.into_iter().map(|p| (p.call, p.reply)).unzip();
            let answers = match C::run(inner.as_ref(), &calls).await {
                Ok(answers) if answers.len() == calls.len() => answers,
                Ok(answers) => {
                    reply_errors(
                        replies,
                        backend(format!(
                            "the journal answered {} of {} calls",
                            answers.len(),
                            calls.len()
                        )),
                    );
                    continue;
                }
                Err(error) => {
                    reply_errors(replies, error);
                    continue;
                }
            };
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(Ok(answer));
            }
        }
    });
}

fn backend(message: String) -> AdapterError {
    AdapterError::Backend {
        message,
        source: None,
    }
}

/// `error` to the first caller, a copy of its text to the others.
fn reply_errors<T>(replies: Vec<oneshot::Sender<Result<T>>>, error: AdapterError) {
    let copy = error.to_string();
    let mut first = Some(error);
    for reply in replies {
        let error = first.take().unwrap_or_else(|| backend(copy.clone()));
        let _ = reply.send(Err(error));
    }
}

/// The keys of every call of a batch, in order.
fn all_keys<C: Call>(batch: &[C]) -> Vec<JournalKey> {
    batch
        .iter()
        .flat_map(|c| c.keys().iter().cloned())
        .collect()
}

/// A coalesced answer split into one part per call of the batch, each item
/// to the call whose row it is (rows are disjoint across a batch).
fn split_by_owner<C: Call, T>(
    batch: &[C],
    items: Vec<T>,
    key: impl Fn(&T) -> &JournalKey,
) -> Vec<Vec<T>> {
    let owner: HashMap<RowId, usize> = batch
        .iter()
        .enumerate()
        .flat_map(|(i, c)| c.keys().iter().map(move |k| (k.row_id(), i)))
        .collect();
    let mut parts: Vec<Vec<T>> = batch.iter().map(|_| Vec::new()).collect();
    for item in items {
        if let Some(&i) = owner.get(&key(&item).row_id()) {
            parts[i].push(item);
        }
    }
    parts
}

struct BeginCall {
    fence: Fence,
    keys: Vec<JournalKey>,
    lease: Duration,
}

impl Call for BeginCall {
    type Answer = Begun;
    const STEP: &'static str = "begin";
    fn keys(&self) -> &[JournalKey] {
        &self.keys
    }
    fn joins(&self, first: &Self) -> bool {
        self.fence == first.fence && self.lease == first.lease
    }
    async fn run(inner: &dyn ReplicationJournal, batch: &[Self]) -> Result<Vec<Begun>> {
        // One fence for the whole statement: it holds for every call or for none.
        let first = &batch[0];
        let begun = inner
            .begin(&first.fence, &all_keys(batch), first.lease)
            .await?;
        let Begun::Recorded(marks) = begun else {
            return Ok(vec![begun; batch.len()]);
        };
        Ok(split_by_owner(batch, marks, |mark| &mark.key)
            .into_iter()
            .map(Begun::Recorded)
            .collect())
    }
}

/// A `finish`, or a `finish_copied` when `copied` is not empty (one lane:
/// a batch is one `finish_copied` of the inner journal, which for no copied
/// key is a plain `finish`).
struct FinishCall {
    token: String,
    keys: Vec<JournalKey>,
    copied: Vec<Mark>,
    lease: Duration,
}

impl Call for FinishCall {
    type Answer = Vec<Claim>;
    const STEP: &'static str = "finish";
    fn keys(&self) -> &[JournalKey] {
        &self.keys
    }
    fn joins(&self, first: &Self) -> bool {
        self.lease == first.lease
    }
    async fn run(inner: &dyn ReplicationJournal, batch: &[Self]) -> Result<Vec<Vec<Claim>>> {
        let first = &batch[0];
        let copied: Vec<Mark> = batch.iter().flat_map(|c| c.copied.clone()).collect();
        let claims = inner
            .finish_copied(&first.token, &all_keys(batch), &copied, first.lease)
            .await?;
        Ok(split_by_owner(batch, claims, |claim| &claim.key))
    }
}

struct SettleCall {
    claim: Claim,
}

impl Call for SettleCall {
    type Answer = bool;
    const STEP: &'static str = "settle";
    fn keys(&self) -> &[JournalKey] {
        std::slice::from_ref(&self.claim.key)
    }
    fn joins(&self, _first: &Self) -> bool {
        true
    }
    async fn run(inner: &dyn ReplicationJournal, batch: &[Self]) -> Result<Vec<bool>> {
        // `settle_many` shares a statement among consecutive claims of one token.
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by(|&a, &b| batch[a].claim.token.cmp(&batch[b].claim.token));
        let claims: Vec<Claim> = order.iter().map(|&i| batch[i].claim.clone()).collect();
        let settled = inner.settle_many(&claims).await?;
        if settled.len() != batch.len() {
            // The runner turns a short answer into every caller's error.
            return Ok(settled);
        }
        let mut answers = vec![false; batch.len()];
        for (&i, settled) in order.iter().zip(settled) {
            answers[i] = settled;
        }
        Ok(answers)
    }
}

/// A journal whose `begin`, `finish` and `settle` calls are coalesced across
/// concurrent callers (see the module docs).
pub(crate) struct GroupCommit {
    inner: Arc<dyn ReplicationJournal>,
    begins: Arc<Lane<BeginCall>>,
    finishes: Arc<Lane<FinishCall>>,
    settles: Arc<Lane<SettleCall>>,
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

    /// Queues `call` in `lane` (starting its runner if idle) and waits for its answer.
    async fn coalesced<C: Call>(&self, lane: &Arc<Lane<C>>, call: C) -> Result<C::Answer> {
        let (reply, receiver) = oneshot::channel();
        if lane.push(Pending { call, reply }) {
            run_lane(lane.clone(), self.inner.clone());
        }
        receiver.await.unwrap_or_else(|_| {
            Err(backend(
                "the journal's batch ended without an answer".to_owned(),
            ))
        })
    }
}

#[async_trait::async_trait]
impl ReplicationJournal for GroupCommit {
    async fn begin(&self, fence: &Fence, keys: &[JournalKey], lease: Duration) -> Result<Begun> {
        if keys.len() >= MAX_BATCH_KEYS {
            return self.inner.begin(fence, keys, lease).await;
        }
        let call = BeginCall {
            fence: fence.clone(),
            keys: keys.to_vec(),
            lease,
        };
        self.coalesced(&self.begins, call).await
    }

    async fn finish(
        &self,
        token: &str,
        keys: &[JournalKey],
        lease: Duration,
    ) -> Result<Vec<Claim>> {
        self.finish_copied(token, keys, &[], lease).await
    }

    async fn finish_copied(
        &self,
        token: &str,
        keys: &[JournalKey],
        copied: &[Mark],
        lease: Duration,
    ) -> Result<Vec<Claim>> {
        if keys.len() >= MAX_BATCH_KEYS {
            return self.inner.finish_copied(token, keys, copied, lease).await;
        }
        let call = FinishCall {
            token: token.to_owned(),
            keys: keys.to_vec(),
            copied: copied.to_vec(),
            lease,
        };
        self.coalesced(&self.finishes, call).await
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
        let call = SettleCall {
            claim: claim.clone(),
        };
        self.coalesced(&self.settles, call).await
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
            let Begun::Recorded(marks) = begun else {
                panic!("the fence holds: {begun:?}");
            };
            let marked: Vec<_> = marks.iter().map(|m| m.key.clone()).collect();
            assert_eq!(
                marked, keys,
                "each writer's begin marks exactly its own key"
            );
            let claimed: Vec<_> = claims.iter().map(|c| c.key.clone()).collect();
            assert_eq!(claimed, keys, "each writer claims exactly its own key");
            assert_eq!(
                claims[0].seq,
                marks[0].seq + 1,
                "nothing else wrote the key between the two steps"
            );
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
        assert!(matches!(
            blocker.await.expect("joined").expect("begin"),
            Begun::Recorded(_)
        ));
        let mut seqs = Vec::new();
        for begin in twice {
            let begun = begin.await.expect("joined").expect("begin");
            let Begun::Recorded(marks) = begun else {
                panic!("the fence holds: {begun:?}");
            };
            seqs.extend(marks.iter().map(|m| m.seq));
        }
        seqs.sort_unstable();
        assert_eq!(seqs, [1, 2], "two begins of one key, counted one by one");
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
