//! What the CLI-driven tests share: running `kubesim-sim run` in a fresh process.

/// `kubesim-sim run` with `args`; returns whether it passed and what it printed (also
/// printed here, shown when a test fails).
pub fn cli(args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kubesim-sim"))
        .arg("run")
        .args(args)
        .output()
        .expect("kubesim-sim runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    println!("{stdout}");
    (output.status.success(), stdout)
}
