//! The value patterns: hand-written matchers for personal data inside attribute strings (no regex
//! crate; every pattern is ASCII, so they work on `as_bytes()` and never slice a `str`).
//!
//! Precision matters as much as recall: attribute values are mostly UUIDs, timestamps, durations,
//! versions, addresses and SQL text, and a false match masks an attribute someone searches by. So
//! a number matches only as a whole token: not glued to a letter or a digit, directly or through
//! a joiner (`-`, `:`, `.`) — that is what keeps UUID segments, dates (`2026-12-01 16`), times,
//! versions and `host:port` out. Numbers are read greedily: a phone or card shape that is the
//! start of a longer glued token does not match a shorter part of it.

/// A value pattern the rules file names in `patterns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// `local@domain.tld` anywhere in the value.
    Email,
    /// International (`+` and 8–15 digits) or North American (3-3-4 groups) phone numbers.
    Phone,
    /// 13–19 digit numbers with a card network's prefix and a valid Luhn check digit.
    PaymentCard,
}

impl Pattern {
    /// Every pattern, in the order the error message lists them.
    pub(crate) const ALL: [Pattern; 3] = [Pattern::Email, Pattern::Phone, Pattern::PaymentCard];

    /// The name the rules file uses.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Pattern::Email => "email",
            Pattern::Phone => "phone",
            Pattern::PaymentCard => "payment_card",
        }
    }

    /// The pattern the rules file calls `name`, if there is one.
    pub(crate) fn from_name(name: &str) -> Option<Pattern> {
        Pattern::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether `value` contains this pattern anywhere. One pass over the bytes; no allocation.
    pub(crate) fn is_in(self, value: &str) -> bool {
        let bytes = value.as_bytes();
        match self {
            Pattern::Email => has_email(bytes),
            Pattern::Phone => has_phone(bytes),
            Pattern::PaymentCard => has_payment_card(bytes),
        }
    }
}

/// The byte at `i`, or 0 past the end: 0 is neither a digit, a letter nor a separator, so every
/// matcher reads it as "the value ends here" without a bounds check of its own.
fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// The byte before `i`, or 0 at the start.
fn before(b: &[u8], i: usize) -> u8 {
    i.checked_sub(1).map_or(0, |j| at(b, j))
}

/// How many ASCII digits start at `i`.
fn digits(b: &[u8], i: usize) -> usize {
    b.get(i..).map_or(0, |rest| {
        rest.iter().take_while(|c| c.is_ascii_digit()).count()
    })
}

/// Characters that glue a number to its neighbours into one larger token: a date
/// (`2026-12-01`), a UUID, a time or `host:port`, a version or an IP address.
fn is_joiner(c: u8) -> bool {
    matches!(c, b'-' | b':' | b'.')
}

/// Whether a match may start at `start`: the byte before is no letter or digit, and no joiner
/// with a letter or digit before it.
fn free_before(b: &[u8], start: usize) -> bool {
    let prev = before(b, start);
    !(prev.is_ascii_alphanumeric()
        || is_joiner(prev) && before(b, start.saturating_sub(1)).is_ascii_alphanumeric())
}

/// Whether a match may end at `end` (exclusive): the byte after is no letter or digit, and no
/// joiner with a letter or digit after it (a full stop ending a sentence is fine).
fn free_after(b: &[u8], end: usize) -> bool {
    let next = at(b, end);
    !(next.is_ascii_alphanumeric() || is_joiner(next) && at(b, end + 1).is_ascii_alphanumeric())
}

/// `[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}` anywhere: every `@` is
/// tried with one character of local part before it and the domain after it.
fn has_email(b: &[u8]) -> bool {
    let local = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-');
    b.iter()
        .enumerate()
        .any(|(i, &c)| c == b'@' && local(before(b, i)) && domain_at(b, i + 1))
}

/// Whether a domain starts at `i`: non-empty labels of letters, digits and hyphens separated by
/// single dots, up to a dot followed by two letters (the top-level label; more may follow, as in
/// an unanchored regex).
fn domain_at(b: &[u8], mut i: usize) -> bool {
    let mut label = 0usize;
    loop {
        let c = at(b, i);
        if c.is_ascii_alphanumeric() || c == b'-' {
            label += 1;
        } else if c == b'.' && label > 0 {
            if at(b, i + 1).is_ascii_alphabetic() && at(b, i + 2).is_ascii_alphabetic() {
                return true;
            }
            label = 0;
        } else {
            return false;
        }
        i += 1;
    }
}

/// A separator inside a phone number.
fn is_phone_separator(c: u8) -> bool {
    matches!(c, b' ' | b'-' | b'.')
}

/// An international or North American phone number anywhere, as a whole token.
fn has_phone(b: &[u8]) -> bool {
    // `free_before` first: it rejects every position inside a longer token at once.
    (0..b.len()).any(|i| {
        let end = match at(b, i) {
            b'+' if free_before(b, i) => international_end(b, i),
            b'(' | b'0'..=b'9' if free_before(b, i) => north_american_end(b, i),
            _ => None,
        };
        end.is_some_and(|end| free_after(b, end))
    })
}

/// A digit group at `i`, bare (`20`) or in parentheses (`(555)`, `(0)`): its end and its digit
/// count.
fn phone_group(b: &[u8], i: usize) -> Option<(usize, usize)> {
    if at(b, i) == b'(' {
        let n = digits(b, i + 1);
        (n > 0 && at(b, i + 1 + n) == b')').then_some((i + 2 + n, n))
    } else {
        let n = digits(b, i);
        (n > 0).then_some((i + n, n))
    }
}

/// `+`, then digit groups with at most one separator between them (`+44 20 7946 0958`,
/// `+1 (555) 123-4567`, `+44 (0)20 7946 0958`), 8–15 digits in all: where it ends.
fn international_end(b: &[u8], plus: usize) -> Option<usize> {
    if !at(b, plus + 1).is_ascii_digit() {
        return None;
    }
    let (mut end, mut total) = phone_group(b, plus + 1)?;
    loop {
        let next = if is_phone_separator(at(b, end)) {
            end + 1
        } else {
            end
        };
        // Without a separator only a parenthesised group can follow (digit runs are maximal).
        match phone_group(b, next) {
            Some((group_end, n)) => {
                end = group_end;
                total += n;
            }
            None => break,
        }
        if total > 15 {
            return None;
        }
    }
    (8..=15).contains(&total).then_some(end)
}

/// `[1 sep] AAA sep EEE sep LLLL`, the area code possibly in parentheses with an optional
/// separator after it (`555-123-4567`, `(555) 123-4567`, `1-555.123.4567`): where it ends.
/// Separators are required between bare groups, so a 10-digit epoch second never matches.
fn north_american_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    // A lone `1` and a separator is the country code (a 1-digit run cannot be an area code).
    if at(b, i) == b'1' && is_phone_separator(at(b, i + 1)) {
        i += 2;
    }
    if at(b, i) == b'(' {
        if digits(b, i + 1) != 3 || at(b, i + 4) != b')' {
            return None;
        }
        i += 5;
        if is_phone_separator(at(b, i)) {
            i += 1;
        }
    } else {
        if digits(b, i) != 3 || !is_phone_separator(at(b, i + 3)) {
            return None;
        }
        i += 4;
    }
    if digits(b, i) != 3 || !is_phone_separator(at(b, i + 3)) {
        return None;
    }
    i += 4;
    (digits(b, i) == 4).then_some(i + 4)
}

/// A payment card number anywhere, as a whole token.
fn has_payment_card(b: &[u8]) -> bool {
    (0..b.len()).any(|i| at(b, i).is_ascii_digit() && free_before(b, i) && card_at(b, i))
}

/// Most digit groups a card number is read in: 19 digits in fours are 5 groups; one more shows
/// that the run goes on.
const MAX_CARD_GROUPS: usize = 6;

/// Whether a card number starts at `start`: 13–19 contiguous digits, or groups separated by one
/// repeated space or dash (fours with a shorter last group, or 4-6-5 / 4-6-4 as Amex and Diners
/// print them). A space-separated run may go on after the number (`4111 1111 1111 1111 exp`),
/// so its shorter prefixes are tried too.
fn card_at(b: &[u8], start: usize) -> bool {
    let run = digits(b, start);
    if run != 4 {
        let end = start + run;
        return (13..=19).contains(&run)
            && free_after(b, end)
            && b.get(start..end).is_some_and(is_card_number);
    }
    let separator = at(b, start + 4);
    if separator != b' ' && separator != b'-' {
        return false;
    }
    let mut groups = [0usize; MAX_CARD_GROUPS];
    let mut ends = [0usize; MAX_CARD_GROUPS];
    let mut count = 0;
    let mut i = start;
    while count < MAX_CARD_GROUPS {
        let n = digits(b, i);
        i += n;
        if let (Some(group), Some(end)) = (groups.get_mut(count), ends.get_mut(count)) {
            *group = n;
            *end = i;
        }
        count += 1;
        if at(b, i) != separator || !at(b, i + 1).is_ascii_digit() {
            break;
        }
        i += 1;
    }
    (2..=count).rev().any(|k| {
        let end = ends.get(k - 1).copied().unwrap_or(start);
        groups.get(..k).is_some_and(card_shape)
            && free_after(b, end)
            && b.get(start..end).is_some_and(is_card_number)
    })
}

/// The group lengths cards are printed in, 13–19 digits in all.
fn card_shape(groups: &[usize]) -> bool {
    let total: usize = groups.iter().sum();
    let fours = match groups.split_last() {
        Some((last, init)) => (1..=4).contains(last) && init.iter().all(|&n| n == 4),
        None => false,
    };
    (13..=19).contains(&total) && (fours || groups == [4, 6, 5] || groups == [4, 6, 4])
}

/// Whether the digits of `number` (separators skipped) start with a card network's prefix and
/// pass the Luhn check. The prefixes keep nanosecond and millisecond epoch timestamps (`17…`,
/// `18…`) and most random ids out; Luhn removes nine in ten of the rest.
fn is_card_number(number: &[u8]) -> bool {
    let values = number
        .iter()
        .filter(|c| c.is_ascii_digit())
        .map(|c| u32::from(c - b'0'));
    let first4 = values.clone().take(4).fold(0, |acc, d| acc * 10 + d);
    let (first1, first2, first3) = (first4 / 1000, first4 / 100, first4 / 10);
    let network = first1 == 4 // Visa
        || (51..=55).contains(&first2) || (2221..=2720).contains(&first4) // Mastercard
        || matches!(first2, 34 | 37) // American Express
        || matches!(first2, 36 | 38) // Diners Club
        || first2 == 35 // JCB
        || first4 == 6011 || first2 == 65 || (644..=649).contains(&first3) // Discover
        || first2 == 62; // UnionPay
    let luhn: u32 = values
        .rev()
        .enumerate()
        .map(|(k, d)| match (k % 2 == 1, d * 2) {
            (false, _) => d,
            (true, doubled) if doubled > 9 => doubled - 9,
            (true, doubled) => doubled,
        })
        .sum();
    network && luhn.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values every pattern must leave alone: the shapes attribute values really have.
    const ORDINARY: &[&str] = &[
        "f47ac10b-58cc-4372-a567-0e02b2c3d479",
        "0193a1c2-7b4e-7cc1-9e1f-3a2b4c5d6e7f",
        "12345678-1234-4123-8123-123456789012",
        "01937f2a-5555-7123-4567-555512345678",
        "2026-12-01T16:35:18.123Z",
        "2026-12-01T16:35:18.123456789+01:00",
        "2026-12-01 16:35:18",
        "1764606918123456789",
        "1764606918123",
        "1764606918",
        "order.created",
        "SELECT * FROM orders WHERE id = $1",
        "SELECT id FROM orders WHERE created_at > now() - interval '15 minutes' LIMIT 100",
        "1.2.3",
        "v0.33.1",
        "1.88.0-nightly.2026.12.01",
        "12345",
        "127.0.0.1:5432",
        "192.168.100.200",
        "http://127.0.0.1:8081/api/orders/0193a1c2-7b4e-7cc1-9e1f-3a2b4c5d6e7f",
        "http://localhost:8082/orders?page=2&per_page=50",
        "PT1.5S",
        "1500ms",
        "12.345s",
        "customer.email",
        "user@localhost",
        "@printflow/web",
        "a@b.c",
        "pkg@1.2.3",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "design 7 version 3, quantity 12",
        "",
    ];

    #[test]
    fn ordinary_values_match_no_pattern() {
        for value in ORDINARY {
            for pattern in Pattern::ALL {
                assert!(
                    !pattern.is_in(value),
                    "{} matched {value:?}",
                    pattern.name()
                );
            }
        }
    }

    #[test]
    fn e_mail_addresses_match_anywhere_in_the_value() {
        for value in [
            "ada.lovelace@example.com",
            "j.doe+orders@mail.example.co.uk",
            "x_y-z%1@sub-domain.example.org",
            "Contact bob@example.io, thanks",
            "customer.email: 'ALICE@EXAMPLE.DE' is already registered",
            "mailto:someone@example.net",
            "SELECT * FROM customers WHERE email = 'carol@example.com'",
        ] {
            assert!(Pattern::Email.is_in(value), "{value:?}");
        }
    }

    #[test]
    fn phone_numbers_match_as_whole_tokens() {
        for value in [
            "+44 20 7946 0958",
            "+1 (555) 123-4567",
            "+44 (0)20 7946 0958",
            "+4915112345678",
            "+1-555-123-4567",
            "555-123-4567",
            "(555) 123-4567",
            "(555)123-4567",
            "555.123.4567",
            "555 123 4567",
            "1-555-123-4567",
            "1 (555) 123-4567",
            "call 555-123-4567.",
            "phone=+44 20 7946 0958 (mobile)",
        ] {
            assert!(Pattern::Phone.is_in(value), "{value:?}");
        }
        for value in [
            "5551234567",
            "+1234567",
            "+1234567890123456",
            "x555-123-4567",
            "555-123-45678",
            "2026-555-123-4567",
            "555-123-4567-89",
            "a+44 20 7946 0958",
        ] {
            assert!(!Pattern::Phone.is_in(value), "{value:?}");
        }
    }

    #[test]
    fn payment_cards_need_a_network_prefix_and_luhn() {
        for value in [
            "4111 1111 1111 1111",
            "4111111111111111",
            "4111-1111-1111-1111",
            "378282246310005",
            "3782 822463 10005",
            "5555-5555-5555-4444",
            "2223000048400011",
            "6011111111111117",
            "3530111333300000",
            "card 4111 1111 1111 1111 exp 12/29",
            "/payments/4111111111111111",
        ] {
            assert!(Pattern::PaymentCard.is_in(value), "{value:?}");
        }
        for value in [
            "4111111111111112",
            "4111 1111 1111 1112",
            "4111-1111 1111-1111",
            "4111111111111111x",
            "1111111111111117",
            "94111111111111111",
            "411111111111111111111",
            "ref-4111111111111111",
            "4111111111111111.5",
        ] {
            assert!(!Pattern::PaymentCard.is_in(value), "{value:?}");
        }
    }

    #[test]
    fn names_round_trip() {
        for pattern in Pattern::ALL {
            assert_eq!(Pattern::from_name(pattern.name()), Some(pattern));
        }
        assert_eq!(Pattern::from_name("ssn"), None);
    }
}
