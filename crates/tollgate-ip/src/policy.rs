//! The decision itself, with no tower types: which addresses pass.

use std::net::IpAddr;

use ipnet::IpNet;
use tollgate_core::Caller;

use crate::config::Mode;
use crate::ranges::IpRanges;

/// A compiled access list: the general list and the per-app lists.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) mode: Mode,
    pub(crate) general: IpRanges,
    /// Per-app lists, sorted by app id for a binary search.
    pub(crate) apps: Vec<(String, IpRanges)>,
    /// Notes on entries (Tencent `descriptions`), for logs.
    pub(crate) descriptions: Vec<(IpNet, String)>,
}

/// Whether an address passes, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    /// Allow mode: on no list that applies.
    NotListed,
    /// Deny mode: on a list that applies.
    Listed,
}

impl Policy {
    fn app_list(&self, caller: Option<&Caller>) -> Option<&IpRanges> {
        let caller = caller?;
        let find = |id: &str| self.apps.binary_search_by(|(a, _)| a.as_str().cmp(id)).ok().map(|i| &self.apps[i].1);
        find(caller.app_id()).or_else(|| find(caller.key_id()))
    }

    pub(crate) fn check(&self, ip: IpAddr, caller: Option<&Caller>) -> Verdict {
        let app = self.app_list(caller);
        match self.mode {
            Mode::Allow => {
                let listed = self.general.contains(ip) || app.is_some_and(|r| r.contains(ip));
                // An app with its own list must match it (or the general list); anyone else
                // must match the general list, when there is one.
                let must_match = app.is_some() || !self.general.is_empty();
                if listed || !must_match { Verdict::Pass } else { Verdict::NotListed }
            }
            Mode::Deny => {
                let listed = self.general.contains(ip) || app.is_some_and(|r| r.contains(ip));
                if listed { Verdict::Listed } else { Verdict::Pass }
            }
        }
    }

    pub(crate) fn description(&self, ip: IpAddr) -> Option<&str> {
        self.descriptions.iter().find(|(net, _)| net.contains(&ip)).map(|(_, d)| d.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(list: &[&str]) -> IpRanges {
        IpRanges::new(crate::parse_ip_list(&list.join(";")).unwrap())
    }

    fn policy(mode: Mode, general: &[&str], apps: &[(&str, &[&str])]) -> Policy {
        let mut apps: Vec<_> = apps.iter().map(|(a, l)| (a.to_string(), ranges(l))).collect();
        apps.sort_by(|a, b| a.0.cmp(&b.0));
        Policy { mode, general: ranges(general), apps, descriptions: Vec::new() }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn allow_list() {
        let p = policy(Mode::Allow, &["10.0.0.0/8"], &[]);
        assert_eq!(p.check(ip("10.2.3.4"), None), Verdict::Pass);
        assert_eq!(p.check(ip("11.0.0.1"), None), Verdict::NotListed);
    }

    #[test]
    fn deny_list() {
        let p = policy(Mode::Deny, &["10.0.0.0/8", "2001:db8::/32"], &[]);
        assert_eq!(p.check(ip("10.2.3.4"), None), Verdict::Listed);
        assert_eq!(p.check(ip("2001:db8::5"), None), Verdict::Listed);
        assert_eq!(p.check(ip("11.0.0.1"), None), Verdict::Pass);
    }

    #[test]
    fn app_items_in_allow_mode() {
        let p = policy(Mode::Allow, &[], &[("219810", &["61.3.0.0/24"])]);
        let app = Caller::new("key").with_app_id("219810");
        assert_eq!(p.check(ip("61.3.0.9"), Some(&app)), Verdict::Pass);
        assert_eq!(p.check(ip("8.8.8.8"), Some(&app)), Verdict::NotListed);
        // other apps, and requests without a caller, are not restricted by the app's items
        assert_eq!(p.check(ip("8.8.8.8"), Some(&Caller::new("other"))), Verdict::Pass);
        assert_eq!(p.check(ip("8.8.8.8"), None), Verdict::Pass);

        let p = policy(Mode::Allow, &["79.11.2.3"], &[("219810", &["61.3.0.0/24"])]);
        assert_eq!(p.check(ip("79.11.2.3"), Some(&app)), Verdict::Pass);
        assert_eq!(p.check(ip("61.3.0.9"), Some(&Caller::new("other"))), Verdict::NotListed);
        assert_eq!(p.check(ip("61.3.0.9"), None), Verdict::NotListed);
        // the app may be named by its key id too
        assert_eq!(p.check(ip("61.3.0.9"), Some(&Caller::new("219810"))), Verdict::Pass);
    }

    #[test]
    fn app_items_in_deny_mode() {
        let p = policy(Mode::Deny, &["1.1.1.1"], &[("a", &["2.2.2.2"])]);
        assert_eq!(p.check(ip("2.2.2.2"), Some(&Caller::new("a"))), Verdict::Listed);
        assert_eq!(p.check(ip("2.2.2.2"), Some(&Caller::new("b"))), Verdict::Pass);
        assert_eq!(p.check(ip("1.1.1.1"), Some(&Caller::new("b"))), Verdict::Listed);
    }
}
