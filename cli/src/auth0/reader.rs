//! Streams the records of an Auth0 user file without loading it whole: a
//! JSON array (the bulk-import format) element by element, or NDJSON (a
//! user export) line by line, each with its position and the line it starts on.
//!
//! The file is parsed by `serde_json` on a blocking thread and the records
//! travel through a bounded channel, so memory stays flat whatever the size.
//! A record that is valid JSON but not a valid user is the importer's
//! business; JSON that does not parse ends the stream with [`Item::Broken`],
//! since nothing after it can be trusted to be where it seems.

use std::cell::Cell;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::Value;
use tokio::sync::mpsc;

/// One thing read from the file. Its `Debug` leaves the record out (it
/// may hold a hash).
pub enum Item {
    /// A record: its 1-based position in the file and its first line.
    Record {
        /// Position (1 = the first record).
        index: u64,
        /// The line its first character is on.
        line: u64,
        /// The record, as parsed JSON.
        value: Value,
    },
    /// The file stops being JSON here: nothing more is read.
    Broken {
        /// The position of the record that does not parse.
        index: u64,
        /// The line serde_json stopped at.
        line: u64,
        /// serde_json's reason, without the text it read.
        reason: String,
    },
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Record { index, line, .. } => write!(f, "Record(#{index}, line {line})"),
            Self::Broken {
                index,
                line,
                reason,
            } => write!(f, "Broken(#{index}, line {line}: {reason})"),
        }
    }
}

/// The two layouts of an Auth0 user file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A JSON array of users (what the bulk import takes).
    Array,
    /// One user object per line (what a user export job writes).
    Ndjson,
}

/// A file that cannot be read as an Auth0 user file at all.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Opening or reading failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The first character is neither `[` nor `{`.
    #[error(
        "{path} is not JSON: an Auth0 user file is a JSON array of users, or one JSON object per line (NDJSON)"
    )]
    NotJson {
        /// The file.
        path: String,
    },
}

/// Counts lines as serde_json reads bytes, and notes the line of the first
/// significant byte of each record once armed.
struct Lines<R> {
    inner: R,
    line: Rc<Cell<u64>>,
    armed: Rc<Cell<bool>>,
    start: Rc<Cell<u64>>,
}

impl<R: Read> Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &byte in &buf[..n] {
            if self.armed.get() && !matches!(byte, b' ' | b'\t' | b'\r' | b'\n' | b',' | b'[') {
                self.armed.set(false);
                self.start.set(self.line.get());
            }
            if byte == b'\n' {
                self.line.set(self.line.get() + 1);
            }
        }
        Ok(n)
    }
}

/// Which layout `path` has, from its first significant byte.
pub fn layout(path: &Path) -> Result<Layout, OpenError> {
    let io = |source| OpenError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut reader = BufReader::new(File::open(path).map_err(io)?);
    loop {
        let buf = reader.fill_buf().map_err(io)?;
        let Some(&first) = buf.iter().find(|b| !b.is_ascii_whitespace()) else {
            if buf.is_empty() {
                return Err(OpenError::NotJson {
                    path: path.display().to_string(),
                });
            }
            let len = buf.len();
            reader.consume(len);
            continue;
        };
        return match first {
            b'[' => Ok(Layout::Array),
            b'{' => Ok(Layout::Ndjson),
            _ => Err(OpenError::NotJson {
                path: path.display().to_string(),
            }),
        };
    }
}

/// serde_json's message without what it quotes of the input (a hash, maybe).
fn reason(error: &serde_json::Error) -> String {
    let message = error.to_string();
    // "… at line L column C" is reported separately.
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m);
    message.split('`').step_by(2).collect::<Vec<_>>().join("…")
}

/// Starts reading `path` on a blocking thread; records arrive on the
/// receiver, `capacity` at most in flight.
pub fn stream(
    path: &Path,
    layout: Layout,
    capacity: usize,
) -> Result<mpsc::Receiver<Item>, OpenError> {
    let file = File::open(path).map_err(|source| OpenError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let (sender, receiver) = mpsc::channel(capacity.max(1));
    tokio::task::spawn_blocking(move || read(file, layout, &sender));
    Ok(receiver)
}

fn read(file: File, layout: Layout, sender: &mpsc::Sender<Item>) {
    let line = Rc::new(Cell::new(1));
    let armed = Rc::new(Cell::new(true));
    let start = Rc::new(Cell::new(1));
    let reader = Lines {
        inner: BufReader::with_capacity(1 << 16, file),
        line: line.clone(),
        armed: armed.clone(),
        start: start.clone(),
    };
    let mut index = 0u64;
    let mut send = |value: Value| -> bool {
        index += 1;
        let item = Item::Record {
            index,
            line: start.get(),
            value,
        };
        armed.set(true);
        sender.blocking_send(item).is_ok()
    };
    let result = match layout {
        Layout::Array => {
            let mut deserializer = serde_json::Deserializer::from_reader(reader);
            deserializer
                .deserialize_seq(Elements { send: &mut send })
                .and_then(|()| deserializer.end())
        }
        Layout::Ndjson => {
            let mut result = Ok(());
            for value in serde_json::Deserializer::from_reader(reader).into_iter::<Value>() {
                match value {
                    Ok(value) => {
                        if !send(value) {
                            return;
                        }
                    }
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            result
        }
    };
    if let Err(error) = result {
        // A stop asked by the receiver is no error of the file.
        if error.is_io() && sender.is_closed() {
            return;
        }
        let _ = sender.blocking_send(Item::Broken {
            index: index + 1,
            line: u64::try_from(error.line()).unwrap_or(u64::MAX),
            reason: reason(&error),
        });
    }
}

/// Hands each element of the top-level array to `send` as it is parsed.
struct Elements<'a, F> {
    send: &'a mut F,
}

impl<'de, F: FnMut(Value) -> bool> Visitor<'de> for Elements<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of Auth0 users")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<Value>()? {
            if !(self.send)(value) {
                return Err(serde::de::Error::custom("stopped by the reader"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn items(text: &str) -> Vec<Item> {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("users.json");
        std::fs::write(&path, text).expect("written");
        let layout = layout(&path).expect("a layout");
        let mut receiver = stream(&path, layout, 2).expect("opens");
        let mut items = Vec::new();
        while let Some(item) = receiver.recv().await {
            items.push(item);
        }
        items
    }

    fn positions(items: &[Item]) -> Vec<(u64, u64)> {
        items
            .iter()
            .map(|item| match item {
                Item::Record { index, line, .. } | Item::Broken { index, line, .. } => {
                    (*index, *line)
                }
            })
            .collect()
    }

    #[tokio::test]
    async fn arrays_and_ndjson_stream_with_their_lines() {
        let array = "[\n  {\"email\": \"a@x.io\"},\n  {\n    \"email\": \"b@x.io\"\n  },\n\n  {\"email\": \"c@x.io\"}\n]\n";
        assert_eq!(positions(&items(array).await), vec![(1, 2), (2, 3), (3, 7)]);
        let ndjson =
            "{\"email\": \"a@x.io\"}\n{\"email\": \"b@x.io\"}\n\n{\"email\": \"c@x.io\"}\n";
        assert_eq!(
            positions(&items(ndjson).await),
            vec![(1, 1), (2, 2), (3, 4)]
        );
    }

    #[tokio::test]
    async fn broken_json_ends_the_stream_naming_the_record() {
        let text = "[\n {\"email\": \"a@x.io\"},\n {\"email\": \"$2b$secret\" \"x\"}\n]";
        let items = items(text).await;
        assert_eq!(positions(&items), vec![(1, 2), (2, 3)]);
        let Item::Broken { reason, .. } = &items[1] else {
            panic!("not broken: {items:?}");
        };
        assert!(!reason.contains("secret"), "{reason}");
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("users.csv");
        std::fs::write(&path, "email,name\n").expect("written");
        assert!(matches!(layout(&path), Err(OpenError::NotJson { .. })));
    }
}
