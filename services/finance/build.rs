// sqlx::migrate! embeds the migrations when the crate compiles: a new one must rebuild it.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations/finance");
}
