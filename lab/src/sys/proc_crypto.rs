//! `/proc/crypto`: the algorithms the kernel has registered, each with its
//! driver, priority and type. The kernel resolves a name such as
//! `cbc(aes)` to the registered implementation of the asked type with the
//! highest priority (instantiating a template on first use), so after a
//! `bpf_crypto_ctx_create` the list shows what bpf_crypto really runs.

/// The names bpf_crypto's AES resolves through, each with the type the
/// kernel resolves it as: the `skcipher` type of bpf_crypto allocates an
/// lskcipher, and the mode templates wrap the `aes` block cipher.
pub(crate) const BPF_CRYPTO_AES: &[(&str, &str)] = &[
    ("cbc(aes)", "lskcipher"),
    ("ecb(aes)", "lskcipher"),
    ("aes", "cipher"),
];

/// One registered implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Algorithm {
    /// Algorithm name (`cbc(aes)`).
    pub(crate) name: String,
    /// Implementation (`cbc(ecb(aes-generic))`, `cbc-aes-aesni`).
    pub(crate) driver: String,
    /// Priority: the highest of one type wins.
    pub(crate) priority: i64,
    /// Type (`lskcipher`, `skcipher`, `cipher`, …).
    pub(crate) kind: String,
}

/// Parses `/proc/crypto` text (blocks separated by blank lines).
pub(crate) fn parse(text: &str) -> Vec<Algorithm> {
    text.split("\n\n")
        .filter_map(|block| {
            let field = |k: &str| {
                block.lines().find_map(|l| {
                    let (key, v) = l.split_once(':')?;
                    (key.trim() == k).then(|| v.trim().to_string())
                })
            };
            Some(Algorithm {
                name: field("name")?,
                driver: field("driver")?,
                priority: field("priority").and_then(|p| p.parse().ok()).unwrap_or(0),
                kind: field("type").unwrap_or_else(|| "?".into()),
            })
        })
        .collect()
}

/// The running kernel's list (empty when unreadable).
pub(crate) fn read() -> Vec<Algorithm> {
    parse(&std::fs::read_to_string("/proc/crypto").unwrap_or_default())
}

/// The implementation of `name` the kernel picks among those of type
/// `kind`: the highest priority.
pub(crate) fn resolved<'a>(algs: &'a [Algorithm], name: &str, kind: &str) -> Option<&'a Algorithm> {
    algs.iter()
        .filter(|a| a.name == name && a.kind == kind)
        .max_by_key(|a| a.priority)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name         : cbc(aes)\ndriver       : cbc(ecb(aes-generic))\nmodule       : kernel\npriority     : 100\ntype         : lskcipher\n\n\
        name         : cbc(aes)\ndriver       : cbc-aes-aesni\nmodule       : aesni_intel\npriority     : 400\ntype         : skcipher\n\n\
        name         : aes\ndriver       : aes-generic\nmodule       : kernel\npriority     : 100\ntype         : cipher\n\n\
        name         : aes\ndriver       : aes-aesni\nmodule       : aesni_intel\npriority     : 300\ntype         : cipher\n";

    #[test]
    fn the_highest_priority_of_the_asked_type_wins() {
        let algs = parse(TEXT);
        assert_eq!(algs.len(), 4);
        let cbc = resolved(&algs, "cbc(aes)", "lskcipher").unwrap();
        assert_eq!(
            (cbc.driver.as_str(), cbc.priority),
            ("cbc(ecb(aes-generic))", 100)
        );
        assert_eq!(
            resolved(&algs, "cbc(aes)", "skcipher").unwrap().driver,
            "cbc-aes-aesni"
        );
        assert_eq!(
            resolved(&algs, "aes", "cipher").unwrap().driver,
            "aes-aesni"
        );
        assert!(resolved(&algs, "ecb(aes)", "lskcipher").is_none());
    }

    #[test]
    fn this_kernel_lists_aes() {
        if !std::path::Path::new("/proc/crypto").exists() {
            eprintln!("SKIPPED this_kernel_lists_aes: no /proc/crypto");
            return;
        }
        assert!(
            read().iter().any(|a| a.name == "aes"),
            "no aes in /proc/crypto"
        );
    }
}
