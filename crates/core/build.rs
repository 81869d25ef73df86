fn main() {
    println!("cargo:rerun-if-changed=src/store/migrations");
}
