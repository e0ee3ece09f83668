//! The search list: the names a name that is not fully qualified is looked up as, and
//! lookups that take both families from one of them.
//!
//! hickory applies its search list to each lookup on its own, so an `A` and an `AAAA`
//! lookup of `svc` can end on two different names (`svc.corp.example.` has only an `A`
//! record, `svc.example.` only an `AAAA`): two hosts in one race. [`Search`] walks the
//! names itself, both families of one name at a time, and the first name with an address
//! in either family is the host, as hickory's own `lookup_ip` and a `getaddrinfo` call for
//! both families choose.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_util::stream::{Stream, StreamExt};
use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use hickory_resolver::proto::rr::domain::usage::ONION;
use hickory_resolver::proto::rr::Name;
use hickory_resolver::TokioResolver;
use tracing::debug;

use super::hickory::{per_family, Named};
use super::{Answer, Lookups};
use crate::IpFamily;

/// What a hickory resolver does with a name that is not fully qualified: its
/// configuration's search list and domain, and its options' `ndots` (resolv.conf's
/// `search`, `domain` and `options ndots:`). A built `TokioResolver` does not show them, so
/// connie keeps them from the configuration it builds one with.
#[derive(Debug)]
pub(super) struct SearchList {
    domain: Option<Name>,
    search: Vec<Name>,
    ndots: usize,
}

impl SearchList {
    pub(super) fn new(config: &ResolverConfig, options: &ResolverOpts) -> SearchList {
        SearchList {
            domain: config.domain().cloned(),
            search: config.search().to_vec(),
            ndots: options.ndots,
        }
    }

    /// The names `name` is looked up as, in the order they are tried: hickory-resolver
    /// 0.26's `Resolver::build_names`, which is private, written out.
    ///
    /// - A fully qualified name, or an onion service's, is tried alone ([`is_absolute`]).
    /// - Otherwise `name` itself is tried first if it has more labels than `ndots` (at
    ///   least `ndots` dots) or is under `localhost`, and last if not; in between, `name`
    ///   under the domain, then under each search domain in turn. A name already in the
    ///   list is not added again (hickory builds the list from its end, so of two equal
    ///   names the later one stays). A name too long to append a domain to skips it.
    pub(super) fn candidates(&self, name: &Name) -> Vec<Name> {
        if is_absolute(name) {
            return vec![name.clone()];
        }
        let mut as_is = name.clone();
        as_is.set_fqdn(true);
        let as_is_first = usize::from(name.num_labels()) > self.ndots || name.is_localhost();

        // Built from the last name tried to the first, as hickory builds it, so that its
        // rule for names that come twice holds here too.
        let mut names = Vec::with_capacity(self.search.len() + 2);
        if !as_is_first {
            names.push(as_is.clone());
        }
        let domain = self.domain.iter();
        for suffix in self.search.iter().rev().chain(domain) {
            match name.clone().append_domain(suffix) {
                Ok(candidate) if !names.contains(&candidate) => names.push(candidate),
                Ok(_) => {}
                Err(error) => debug!(%name, %suffix, %error, "search domain skipped"),
            }
        }
        if as_is_first {
            names.push(as_is);
        }
        names.reverse();
        names
    }
}

/// Whether hickory looks `name` up as it is, without a search list: a fully qualified name
/// (a final dot), or an onion service's v3 address (56 characters under `.onion`).
pub(super) fn is_absolute(name: &Name) -> bool {
    name.is_fqdn()
        || ONION.zone_of(name)
            && name
                .trim_to(2)
                .iter()
                .next()
                .is_some_and(|label| label.len() == 56)
}

/// The lookups of a name with more than one candidate name: the families asked (both,
/// unless the race wants one) of one candidate at a time, concurrently.
///
/// A candidate's answer with addresses goes out the moment it arrives: the candidate has
/// an address, so it is the host. The other family is then looked up for that candidate
/// only, and its answer goes out too, addresses or error. A failed answer (an error, or no
/// address) waits for the other family's: if that fails too, or only one family is asked,
/// neither goes out and the next candidate is looked up. The last candidate's answers go out as they come,
/// errors included, so a name found nowhere fails with the errors of the last name tried,
/// as hickory's own search does.
///
/// Any failure moves on, as in hickory's search: a timeout or a server failure as much
/// as `NXDOMAIN` or no records.
pub(super) struct Search {
    resolver: Arc<TokioResolver>,
    /// The candidates not tried yet, in order.
    rest: std::vec::IntoIter<Name>,
    /// The families looked up for each candidate.
    families: IpFamily,
    /// The lookups of the candidate being tried.
    lookups: Lookups,
    /// The candidate being tried is the host (it has an address, or it is the last): its
    /// answers go out as they arrive.
    settled: bool,
    /// A failed answer of the candidate being tried, waiting for the other family's.
    held: Option<Answer>,
}

impl Search {
    /// Looks `candidates` up in order, for `families`; there must be at least one.
    pub(super) fn new(
        resolver: &Arc<TokioResolver>,
        candidates: Vec<Name>,
        families: IpFamily,
    ) -> Search {
        let mut rest = candidates.into_iter();
        let first = rest.next().expect("a name has at least one candidate");
        Search {
            lookups: per_family(resolver, first, families),
            families,
            resolver: Arc::clone(resolver),
            settled: rest.len() == 0,
            rest,
            held: None,
        }
    }
}

impl Stream for Search {
    type Item = Answer;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Answer>> {
        let this = &mut *self;
        loop {
            if this.settled {
                if let Some(held) = this.held.take() {
                    return Poll::Ready(Some(held));
                }
                return this.lookups.poll_next_unpin(cx);
            }
            let all_failed = match ready!(this.lookups.poll_next_unpin(cx)) {
                Some(answer) if answer.result.as_ref().is_ok_and(|a| !a.is_empty()) => {
                    this.settled = true;
                    return Poll::Ready(Some(answer));
                }
                // A first failure waits for the other family's answer.
                Some(answer) => this.held.replace(answer).is_some(),
                // The candidate's lookups are over: one family was asked, and failed.
                None => true,
            };
            if !all_failed {
                continue;
            }
            // Every family asked failed: the next candidate, its families at once.
            this.held = None;
            let next = this
                .rest
                .next()
                .expect("only the last candidate is settled");
            debug!(name = %next, "trying the next name of the search list");
            this.settled = this.rest.len() == 0;
            this.lookups = per_family(&this.resolver, next, this.families);
        }
    }
}

/// The lookups of a name that is not fully qualified, by a resolver built elsewhere: hickory
/// does not show its search list, so hickory searches for each family on its own.
///
/// The first answer with addresses names the host (a hickory `Lookup` says which name
/// answered). The other family's addresses join only if they are of that same name;
/// otherwise its answer goes out empty. So a race never mixes two hosts, but the host is
/// the name whose addresses came first, which is the first name with an address in either
/// family unless a lookup of an earlier name was the slower one.
pub(super) struct SameName {
    lookups: Lookups<Named>,
    host: Option<Name>,
}

impl SameName {
    pub(super) fn new(lookups: Lookups<Named>) -> SameName {
        SameName {
            lookups,
            host: None,
        }
    }
}

impl Stream for SameName {
    type Item = Answer;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Answer>> {
        let Some((mut answer, name)) = ready!(self.lookups.poll_next_unpin(cx)) else {
            return Poll::Ready(None);
        };
        if let (Ok(addrs), Some(name)) = (&mut answer.result, name) {
            if !addrs.is_empty() {
                match &self.host {
                    None => self.host = Some(name),
                    Some(host) if *host == name => {}
                    Some(host) => {
                        debug!(%host, other = %name, family = ?answer.family, "addresses of another name left out");
                        addrs.clear();
                    }
                }
            }
        }
        Poll::Ready(Some(answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::from_str_relaxed(s).unwrap()
    }

    fn list(domain: Option<&str>, search: &[&str], ndots: usize) -> SearchList {
        SearchList {
            domain: domain.map(name),
            search: search.iter().copied().map(name).collect(),
            ndots,
        }
    }

    fn candidates(list: &SearchList, host: &str) -> Vec<String> {
        list.candidates(&name(host))
            .iter()
            .map(|n| {
                assert!(n.is_fqdn() || is_absolute(n), "{n}");
                n.to_string()
            })
            .collect()
    }

    /// hickory's order: with fewer than `ndots` dots, the domain, the search domains,
    /// then the name as it is; with `ndots` dots or more, the name as it is first.
    #[test]
    fn the_names_a_relative_name_stands_for_in_hickorys_order() {
        let search = ["corp.test.", "test."];
        let one = list(None, &search, 1);
        assert_eq!(
            candidates(&one, "svc"),
            ["svc.corp.test.", "svc.test.", "svc."]
        );
        assert_eq!(
            candidates(&one, "svc.lab"),
            ["svc.lab.", "svc.lab.corp.test.", "svc.lab.test."]
        );
        let two = list(None, &search, 2);
        assert_eq!(
            candidates(&two, "svc.lab"),
            ["svc.lab.corp.test.", "svc.lab.test.", "svc.lab."]
        );
        assert_eq!(
            candidates(&two, "a.svc.lab"),
            ["a.svc.lab.", "a.svc.lab.corp.test.", "a.svc.lab.test."]
        );
        // The domain before the search domains; `ndots:0` tries every name as it is first.
        let domain = list(Some("home.test."), &search, 0);
        assert_eq!(
            candidates(&domain, "svc"),
            ["svc.", "svc.home.test.", "svc.corp.test.", "svc.test."]
        );
        // No search list, no domain: the name as it is.
        assert_eq!(candidates(&list(None, &[], 1), "svc"), ["svc."]);
    }

    /// A fully qualified name, and an onion service's v3 address, are looked up as they
    /// are; `localhost` is tried as it is first, whatever `ndots` says.
    #[test]
    fn absolute_names_and_localhost() {
        let five = list(Some("home.test."), &["corp.test."], 5);
        assert_eq!(candidates(&five, "svc.test."), ["svc.test."]);
        let onion = format!("{}.onion", "a".repeat(56));
        assert!(is_absolute(&name(&onion)));
        assert_eq!(candidates(&five, &onion), [onion]);
        // Not a v3 address: searched as any other name.
        assert!(!is_absolute(&name("short.onion")));
        assert_eq!(
            candidates(&five, "localhost"),
            ["localhost.", "localhost.home.test.", "localhost.corp.test."]
        );
    }

    /// A name that comes twice is tried once, where hickory tries it (of the two, the
    /// later); a search domain the name is too long for is skipped.
    #[test]
    fn duplicates_and_names_too_long() {
        let twice = list(Some("test."), &["test.", "corp.test.", "test."], 1);
        assert_eq!(
            candidates(&twice, "svc"),
            ["svc.corp.test.", "svc.test.", "svc."]
        );
        // The root as a search domain is the name as it is, tried last.
        let root = list(None, &[".", "test."], 1);
        assert_eq!(candidates(&root, "svc"), ["svc.test.", "svc."]);

        let label = "a".repeat(63);
        let long = [&label[..], &label, &label].join(".");
        let search = list(None, &["corp.test.", &format!("{label}.test.")], 5);
        assert_eq!(
            candidates(&search, &long),
            [format!("{long}.corp.test."), format!("{long}.")]
        );
    }
}
