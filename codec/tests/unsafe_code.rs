//! The crate's unsafe code stays in the one module that calls minimp3.

use std::path::Path;

#[test]
fn only_the_decoder_module_may_use_unsafe() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    assert!(lib.contains("#![deny(unsafe_code)]"), "lib.rs must deny unsafe code");
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let allows = text.matches("allow(unsafe_code)").count();
        match name.as_str() {
            // The `mod decode` line.
            "lib.rs" => assert_eq!(allows, 1, "{name}"),
            // The decoder's own unsafe block.
            "decode.rs" => {}
            _ => assert_eq!(allows, 0, "{name} allows unsafe code"),
        }
    }
}
