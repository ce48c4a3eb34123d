/// AMQP topic matching: words are separated by `.`, `*` matches exactly one
/// word and `#` zero or more.
pub fn topic_matches(pattern: &str, key: &str) -> bool {
    fn go(p: &[&str], k: &[&str]) -> bool {
        match (p.first(), k.first()) {
            (None, None) => true,
            (Some(&"#"), _) => go(&p[1..], k) || (!k.is_empty() && go(p, &k[1..])),
            (Some(&"*"), Some(_)) => go(&p[1..], &k[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &k[1..]),
            _ => false,
        }
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let k: Vec<&str> = key.split('.').collect();
    go(&p, &k)
}

#[cfg(test)]
mod tests {
    use super::topic_matches;

    #[test]
    fn matches_like_an_amqp_topic_exchange() {
        assert!(topic_matches("purchase.completed", "purchase.completed"));
        assert!(!topic_matches("purchase.completed", "sale.completed"));
        assert!(topic_matches("*.completed", "sale.completed"));
        assert!(!topic_matches("*", "sale.completed"));
        assert!(topic_matches("#", "sale.completed"));
        assert!(topic_matches("sale.#", "sale"));
        assert!(topic_matches("#.completed", "a.b.completed"));
        assert!(!topic_matches("#.completed", "a.b.started"));
    }
}
