//! Cross-backend reads: on one database, what each backend writes reads
//! identically through every other backend. For every ordered pair
//! (writer, reader) on each database, the model runs with every write going
//! through the writer and every read (`get`, `list`, keyset scans,
//! `get_current`, the final contents) through the reader.
//!
//! Every pair runs a few sequences; a rotating pair runs the full number.

#[path = "model_backends.rs"]
mod backends;

use conformance_tests::TestStore;
use conformance_tests::model::{self, Config, Subject};

#[test]
fn every_backend_reads_what_every_other_wrote() {
    let config = Config::from_env();
    for (database, open) in backends::shared_databases() {
        // Learn the backend names of this database once (and skip it when absent).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let names: Vec<String> = match runtime.block_on(open()) {
            Some(shared) => shared.adapters.iter().map(|(n, _)| n.clone()).collect(),
            None => continue,
        };
        drop(runtime);
        let pairs: Vec<(usize, usize)> = (0..names.len())
            .flat_map(|w| {
                (0..names.len())
                    .filter(move |r| *r != w)
                    .map(move |r| (w, r))
            })
            .collect();
        let rotating = (config.seed % pairs.len().max(1) as u64) as usize;
        for (i, (writer, reader)) in pairs.into_iter().enumerate() {
            let name = format!(
                "{} writes, {} reads ({database})",
                names[writer], names[reader]
            );
            let open = open.clone();
            let subject = Subject::new(name, move || async move {
                let shared = open().await?;
                let composed = model::split(&shared.adapters[writer].1, &shared.adapters[reader].1);
                Some(TestStore::new(composed).with_guard(shared.guard))
            });
            let cases = if i == rotating {
                config.clone()
            } else {
                config.clone().fraction(4)
            };
            model::check(&cases, vec![subject]);
        }
    }
}
