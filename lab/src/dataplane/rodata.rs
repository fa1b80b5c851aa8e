//! Settings written into an object's own read-only section before load
//! (the test builds' fixed IV, the cipher-only probe's length and mode):
//! the verifier then sees them as constants.

use libbpf_rs::OpenObject;

use super::abi::Plain;

/// Writes `value` at offset 0 of `section`, a `.rodata.*` section that
/// holds that one variable of the struct `value` mirrors.
pub(crate) fn set<T: Plain>(
    open: &mut OpenObject,
    section: &str,
    value: &T,
) -> Result<(), libbpf_rs::Error> {
    let bytes = value.bytes();
    for mut map in open.maps_mut() {
        if map.name().to_string_lossy().ends_with(section)
            && let Some(v) = map.initial_value_mut()
            && v.len() >= bytes.len()
        {
            v[..bytes.len()].copy_from_slice(bytes);
            return Ok(());
        }
    }
    Err(libbpf_rs::Error::from(std::io::Error::other(format!(
        "the object has no {section} section"
    ))))
}
