//! The `switchyard` command (work in progress).

fn main() {
    println!("switchyard: work in progress");
}
