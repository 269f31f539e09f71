//! A request's query and form parameters sorted by name, for the schemes whose string to
//! sign lists them in order: raw where that is enough, decoded otherwise.

use std::borrow::Cow;

use crate::form::{AmbiguousParams, decode_component, decode_into, decode_text, each_param};
use crate::name_order::{NameOrder, Sought};
use crate::raw_params::{RawParam, raw_params};

/// Where each of `wanted` first appears among `names`.
pub(crate) fn first_of_each<'n, const N: usize>(
    names: impl Iterator<Item = &'n str>,
    wanted: [&str; N],
) -> [Option<usize>; N] {
    let mut found = [None; N];
    let mut missing = N;
    for (i, name) in names.enumerate() {
        for (slot, wanted) in found.iter_mut().zip(wanted) {
            if slot.is_none() && name.len() == wanted.len() && name == wanted {
                *slot = Some(i);
                missing -= 1;
            }
        }
        if missing == 0 {
            break;
        }
    }
    found
}

/// Sorts `params` by name in `order`, and says whether no two names are equal in it (which
/// makes the unstable sort a stable one).
pub(crate) fn sort_distinct(params: &mut [RawParam<'_>], order: NameOrder) -> bool {
    const SHORT: usize = 32;
    if params.len() <= SHORT {
        // Sixteen-byte keys sort faster than the parameters they stand for: each key's
        // last byte gives way to its parameter's index.
        let mut keys = [0u128; SHORT];
        let keys = &mut keys[..params.len()];
        for (i, (key, p)) in keys.iter_mut().zip(params.iter()).enumerate() {
            *key = p.key & !0xFF | i as u128;
        }
        keys.sort_unstable();
        // names alike in their first fifteen bytes are left to the full comparison
        if keys.windows(2).all(|w| w[0] >> 8 != w[1] >> 8) {
            permute(params, |at| (keys[at] & 0xFF) as usize);
            return true;
        }
    }
    params.sort_unstable_by(|a, b| a.key.cmp(&b.key).then_with(|| order.cmp(a.name, b.name)));
    // names the order holds equal have one key and one length (so far as the schemes'
    // orders go)
    let distinct = |a: &RawParam<'_>, b: &RawParam<'_>| {
        a.key != b.key || a.name.len() != b.name.len() || order.cmp(a.name, b.name).is_ne()
    };
    params.windows(2).all(|w| distinct(&w[0], &w[1]))
}

/// Puts `items[from(at)]` at each `at` (`from` a permutation of at most 32), in place, a
/// cycle at a time.
fn permute<T: Copy>(items: &mut [T], from: impl Fn(usize) -> usize) {
    let mut placed = 0u32;
    for start in 0..items.len() {
        if placed & 1 << start != 0 {
            continue;
        }
        let first = items[start];
        let mut at = start;
        loop {
            placed |= 1 << at;
            let source = from(at);
            if source == start {
                items[at] = first;
                break;
            }
            items[at] = items[source];
            at = source;
        }
    }
}

/// A request's query and form parameters, sorted by name (stably: a name's pairs stay in
/// the order sent), for a scheme whose string to sign lists them in order.
#[derive(Debug, Clone)]
pub(crate) enum Params<'r> {
    /// Values as sent, still percent-encoded: no name needs decoding, and no two are equal
    /// in the order.
    Raw(Vec<RawParam<'r>>),
    /// Decoded (borrowed where they needed no decoding), no two names equal in the order.
    Decoded(Vec<(Cow<'r, str>, Cow<'r, str>)>),
}

impl<'r> Params<'r> {
    /// The parameters of `query` and `body` (a form, else empty), sorted by `order`; raw
    /// where that is enough, decoded otherwise. Refused when they can be read more than
    /// one way: a name or value not UTF-8 once decoded, or two names equal in `order`
    /// (after decoding), in one place or across the two.
    #[inline]
    pub(crate) fn sorted(query: &'r str, body: &'r [u8], order: NameOrder) -> Result<Self, AmbiguousParams> {
        let raw =
            raw_params(query, body, order).and_then(|mut params| sort_distinct(&mut params, order).then_some(params));
        if let Some(params) = raw {
            // Raw names are text (no escapes, from a query or a UTF-8 body); a value is, when
            // it has no escape or only escapes of ASCII bytes.
            let undecodable = |p: &RawParam<'_>| !p.plain && !p.canonical && decode_text(p.value.as_bytes()).is_none();
            if params.iter().any(undecodable) {
                return Err(AmbiguousParams::NotUtf8);
            }
            return Ok(Params::Raw(params));
        }
        let mut params = Vec::with_capacity(16);
        each_param(query.as_bytes(), |k, v| params.push((k, v, false)))?;
        each_param(body, |k, v| params.push((k, v, true)))?;
        params.sort_by(|a, b| order.cmp(&a.0, &b.0));
        if let Some(ambiguity) = AmbiguousParams::among(&params, |a, b| order.cmp(&a.0, &b.0).is_eq(), |p| p.2) {
            return Err(ambiguity);
        }
        Ok(Params::Decoded(params.into_iter().map(|(k, v, _)| (k, v)).collect()))
    }

    /// Where the first pair with each of `names` is.
    pub(crate) fn first_of_each<const N: usize>(&self, names: &[Sought; N]) -> [Option<usize>; N] {
        match self {
            Params::Raw(params) => names.map(|sought| match sought.key {
                Some(key) => params.iter().position(|p| p.key == key && p.name.len() == sought.name.len()),
                None => params.iter().position(|p| p.name == sought.name),
            }),
            Params::Decoded(params) => first_of_each(params.iter().map(|p| p.0.as_ref()), names.map(|s| s.name)),
        }
    }

    /// The decoded value at `at`, for reading once: decoded into `buf` when it fits.
    pub(crate) fn read<'b>(&'b self, at: Option<usize>, buf: &'b mut [u8; 128]) -> Option<Cow<'b, str>> {
        let i = at?;
        Some(match self {
            Params::Raw(params) if params[i].plain => Cow::Borrowed(params[i].value),
            Params::Raw(params) => match decode_into(params[i].value, buf) {
                Some(text) => Cow::Borrowed(text),
                None => decode_component(params[i].value),
            },
            Params::Decoded(params) => Cow::Borrowed(params[i].1.as_ref()),
        })
    }

    /// The decoded value at `at`, to keep (copied only if it needed decoding).
    pub(crate) fn keep(&self, at: Option<usize>) -> Option<Cow<'r, str>> {
        let i = at?;
        Some(match self {
            Params::Raw(params) if params[i].plain => Cow::Borrowed(params[i].value),
            Params::Raw(params) => decode_component(params[i].value),
            Params::Decoded(params) => params[i].1.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::any_order;

    proptest::proptest! {
        /// Parameters come out in the order's order, on the raw path; refused exactly when
        /// two names are equal in it, however many there are and however long they run alike.
        #[test]
        fn params_sort_by_the_order(
            names in proptest::collection::vec("[ab_.]{0,3}|abababababababa[ab_.]{0,3}", 0..40),
            order in any_order(),
        ) {
            let query = names.iter().enumerate().map(|(i, n)| format!("{n}={i}")).collect::<Vec<_>>().join("&");
            let mut expected: Vec<&str> = names.iter().map(String::as_str).collect();
            expected.sort_by(|a, b| order.cmp(a, b));
            let distinct = expected.windows(2).all(|w| order.cmp(w[0], w[1]).is_ne());
            match Params::sorted(&query, b"", order) {
                Ok(Params::Raw(params)) => {
                    proptest::prop_assert!(distinct);
                    let sorted: Vec<&str> = params.iter().map(|p| p.name).collect();
                    proptest::prop_assert_eq!(sorted, expected);
                    for p in &params {
                        // each value still beside its name
                        proptest::prop_assert_eq!(&names[p.value.parse::<usize>().unwrap()], p.name);
                    }
                    let raw = Params::Raw(params.clone());
                    for wanted in names.iter().map(String::as_str).chain(["", "a", "ab", "a_", "a.", "b\0"]) {
                        let expected = params.iter().position(|p| p.name == wanted);
                        let wanted: &'static str = Box::leak(wanted.to_owned().into_boxed_str());
                        proptest::prop_assert_eq!(raw.first_of_each(&[Sought::new(wanted)])[0], expected, "{:?}", wanted);
                    }
                }
                Ok(Params::Decoded(_)) => proptest::prop_assert!(false, "names without escapes are read raw"),
                Err(refused) => {
                    proptest::prop_assert!(!distinct);
                    proptest::prop_assert_eq!(refused, AmbiguousParams::Repeated);
                }
            }
        }
    }
}
