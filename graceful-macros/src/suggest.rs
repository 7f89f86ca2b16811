//! "Did you mean ...?" for misspelled names.

/// "unknown argument `timout` for `#[graceful_main]`: did you mean
/// `timeout`? The arguments are `timeout`, ...": the message for a name
/// that is not one of `valid`.
pub(crate) fn unknown(kind: &str, attribute: &str, valid: &[&str], name: &str) -> String {
    let listed = valid
        .iter()
        .map(|key| format!("`{key}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match closest(name, valid) {
        Some(close) => format!(
            "unknown {kind} `{name}` for `{attribute}`: did you mean `{close}`? The {kind}s are {listed}"
        ),
        None => format!("unknown {kind} `{name}` for `{attribute}`: the {kind}s are {listed}"),
    }
}

/// The candidate closest to `input`, if one is close enough to be a typo.
pub(crate) fn closest<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let input = input.to_ascii_lowercase();
    candidates
        .iter()
        .map(|&candidate| (distance(&input, &candidate.to_ascii_lowercase()), candidate))
        .filter(|&(distance, candidate)| distance <= (candidate.len() / 3).max(1))
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_only() {
        let keys = ["timeout", "signals", "flavor", "worker_threads"];
        assert_eq!(closest("timout", &keys), Some("timeout"));
        assert_eq!(closest("signal", &keys), Some("signals"));
        assert_eq!(closest("worker_thread", &keys), Some("worker_threads"));
        assert_eq!(closest("Flavour", &keys), Some("flavor"));
        assert_eq!(closest("port", &keys), None);
    }
}
