//! Cross-backend reads: on one database, what each backend writes reads
//! identically through every other backend. For every ordered pair
//! (writer, reader) on each database, the model runs with every write going
//! through the writer and every read (`get`, `list`, keyset scans,
//! `get_current`, the final contents) through the reader.
//!
//! One test per database kind (they run in parallel); every pair runs a
//! few sequences, a rotating pair the full number.

mod backends;

use conformance_tests::TestStore;
use conformance_tests::model::{self, Config, Subject};

/// Runs every ordered (writer, reader) pair of backends on one fresh
/// database of kind `database`: few sequences each, the full number for a
/// rotating pair.
fn run_database(database: &str) {
    let config = Config::from_env();
    let Some((_, open)) = backends::shared_databases()
        .into_iter()
        .find(|(name, _)| name == database)
    else {
        panic!("no database kind {database}");
    };
    let names = backends::backend_names();
    let pairs: Vec<(usize, usize)> = (0..names.len())
        .flat_map(|w| {
            (0..names.len())
                .filter(move |r| *r != w)
                .map(move |r| (w, r))
        })
        .collect();
    let rotating = (config.seed % pairs.len() as u64) as usize;
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
            config.clone().fraction(8)
        };
        model::check(&cases, vec![subject]);
    }
}

#[test]
fn on_sqlite() {
    run_database("sqlite");
}

#[test]
fn on_postgres() {
    run_database("postgres");
}

#[test]
fn on_mysql() {
    run_database("mysql");
}
