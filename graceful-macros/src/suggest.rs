//! "Did you mean ...?" for misspelled names.

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
