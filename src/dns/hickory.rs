//! hickory-resolver behind [`Resolve`]: `A` and `AAAA` looked up concurrently, and the
//! system's resolver, built once per process.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use futures_util::future::BoxFuture;
use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::Name;
use hickory_resolver::proto::ProtoError;
use hickory_resolver::TokioResolver;
use tracing::warn;

use super::https::{https_name, HttpsQuery, WithHttps};
use super::search::{is_absolute, SameName, Search, SearchList};
use super::{name, Answer, Answers, GetAddrInfo, Lookups, Query, Resolve};
use crate::{Family, IpFamily};

/// One family's answer, and the name hickory answered for (the lookup's query: a name of
/// the search list, for a name that is not fully qualified); `None` when it failed.
pub(super) type Named = (Answer, Option<Name>);

/// `name`'s `A` and `AAAA` lookups of `families`, concurrently, each finished by `then`
/// (with the family). hickory applies its search list to each lookup of a name that is
/// not fully qualified on its own.
fn per_family_with<T: 'static>(
    resolver: &Arc<TokioResolver>,
    name: Name,
    families: IpFamily,
    then: fn(Family, Result<Lookup, NetError>) -> T,
) -> Lookups<T> {
    // A lookup's future, hickory's inside it, is hundreds of bytes: it is made only for a
    // family looked up, and boxed where it is made, so that it is copied once, into its
    // box, and the name cloned only for a second family.
    let lookup = |family, name| -> BoxFuture<'static, T> {
        let resolver = Arc::clone(resolver);
        Box::pin(async move {
            let lookup = match family {
                Family::V4 => resolver.ipv4_lookup(name).await,
                Family::V6 => resolver.ipv6_lookup(name).await,
            };
            then(family, lookup)
        })
    };
    let v6 = families.allows(Family::V6);
    let v4 = families.allows(Family::V4);
    let (v6, v4) = match (v6, v4) {
        (true, true) => (
            Some(lookup(Family::V6, name.clone())),
            Some(lookup(Family::V4, name)),
        ),
        (true, false) => (Some(lookup(Family::V6, name)), None),
        (false, true) => (None, Some(lookup(Family::V4, name))),
        (false, false) => (None, None),
    };
    Lookups::new(v6, v4)
}

/// `name`'s `A` and `AAAA` lookups of `families`, concurrently, as [`Answer`]s.
pub(super) fn per_family(resolver: &Arc<TokioResolver>, name: Name, families: IpFamily) -> Lookups {
    per_family_with(resolver, name, families, answer)
}

/// `family`'s answer: the addresses of that family in `lookup` (port 0: the race sets
/// the target's).
fn answer(family: Family, lookup: Result<Lookup, NetError>) -> Answer {
    match lookup {
        Ok(lookup) => Answer::new(
            Some(family),
            lookup
                .answers()
                .iter()
                .filter_map(|record| record.data.ip_addr())
                .filter(|ip| ip.is_ipv4() == (family == Family::V4))
                .map(|ip| (ip, 0).into()),
        ),
        Err(e) => Answer::failed(Some(family), e),
    }
}

/// [`answer`], and the name that answered.
fn named(family: Family, lookup: Result<Lookup, NetError>) -> Named {
    let name = lookup.as_ref().ok().map(|l| l.query().name().clone());
    (answer(family, lookup), name)
}

/// A host name as written, and as parsed.
type Parsed = (Box<str>, Name);

/// A hickory resolver, and its search list when connie built it.
pub(super) struct Hickory {
    /// Shared with the lookups, which outlive the borrow they are started from.
    resolver: Arc<TokioResolver>,
    /// `None` for a resolver built elsewhere: hickory does not show its search list.
    search: Option<SearchList>,
    /// The last plain name looked up, as written and parsed: a client mostly connects to
    /// the same few hosts again and again, and a name costs hundreds of instructions to
    /// parse where a copy costs tens. `None` for a resolver made for one lookup.
    last: Option<Mutex<Option<Parsed>>>,
}

impl Hickory {
    /// A resolver built elsewhere, whose search list connie cannot see.
    pub(super) fn built(resolver: TokioResolver) -> Hickory {
        Hickory {
            resolver: Arc::new(resolver),
            search: None,
            last: Some(Mutex::default()),
        }
    }

    /// A resolver built from `config` and `options`, whose search list connie applies.
    pub(super) fn build(
        config: ResolverConfig,
        options: ResolverOpts,
    ) -> Result<Hickory, NetError> {
        let search = SearchList::new(&config, &options);
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()?;
        Ok(Hickory {
            resolver: Arc::new(resolver),
            search: Some(search),
            last: Some(Mutex::default()),
        })
    }

    /// Looks `name` up, and its HTTPS records if `https` asks for them (see
    /// [`https_name`]).
    fn lookup(&self, name: Name, families: IpFamily, https: Option<&HttpsQuery>) -> Answers {
        let https = https.and_then(|query| Some((query, https_name(&name)?)));
        let Some((query, https_name)) = https else {
            return self.plain(name, families, None).0;
        };
        let (plain, plain_is_name) = self.plain(name, families, Some(&https_name));
        Answers::timed(WithHttps::new(
            plain,
            plain_is_name,
            &self.resolver,
            https_name,
            query,
            families,
        ))
    }

    /// Looks `name`'s addresses up: the families of `families` at once, and for a name
    /// that is not fully qualified, all from one name of the search list. Also says
    /// whether it looks up one name alone, and that name is `whole` (the name whose HTTPS
    /// records are asked for): then its answers are that very name's.
    fn plain(&self, name: Name, families: IpFamily, whole: Option<&Name>) -> (Answers, bool) {
        let is_whole = |looked_up: &Name| whole.is_some_and(|whole| whole == looked_up);
        if is_absolute(&name) {
            let alone = is_whole(&name);
            return (
                Answers::lookups(per_family(&self.resolver, name, families)),
                alone,
            );
        }
        let Some(search) = &self.search else {
            let lookups = per_family_with(&self.resolver, name, families, named);
            return (Answers::timed(SameName::new(lookups)), false);
        };
        let mut candidates = search.candidates(&name);
        if candidates.len() == 1 {
            let only = candidates.remove(0);
            let alone = is_whole(&only);
            return (
                Answers::lookups(per_family(&self.resolver, only, families)),
                alone,
            );
        }
        let search = Search::new(&self.resolver, candidates, families);
        (Answers::timed(search), false)
    }
}

impl Resolve for Hickory {
    fn resolve(&self, query: &Query<'_>) -> Answers {
        // hickory parses a `&str` strictly (IDNA, no `_`); parse it relaxed, as target
        // validation does, so `my_host.example` is looked up.
        match self.name(query.name(), query.plain()) {
            Ok(name) => self.lookup(name, query.families(), query.https()),
            Err(e) => Answers::ready(Answer::failed(None, e)),
        }
    }
}

impl Hickory {
    /// `host` parsed as [`name::parse`] does (`plain` if [`name::is_plain`] said so
    /// already): a plain name that was the last one parsed is copied instead.
    fn name(&self, host: &str, plain: bool) -> Result<Name, ProtoError> {
        let plain = plain || name::is_plain(host);
        let Some(last) = self.last.as_ref().filter(|_| plain) else {
            return name::parse(host, plain);
        };
        let lock = || last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((parsed, name)) = &*lock() {
            if **parsed == *host {
                return Ok(name.clone());
            }
        }
        // Parsed outside the lock: races to many hosts at once do not wait on each other.
        let name = name::parse(host, true)?;
        *lock() = Some((host.into(), name.clone()));
        Ok(name)
    }
}

/// `A` and `AAAA` looked up concurrently, each answer given as it arrives (hickory's own
/// `lookup_ip` waits for both).
///
/// hickory does not show a built resolver's search list, so for a name that is not fully
/// qualified each family follows the list on its own, and the race takes only the
/// addresses of the first name that answers with any; see
/// [`ConnieConnector::resolver`](crate::ConnieConnector::resolver). Lookups still running
/// when the race ends go on for at most 5 s, so that their answers reach the resolver's
/// cache.
///
/// Given to [`ConnieConnector::resolver`](crate::ConnieConnector::resolver), the resolver
/// is shared by every lookup as it is; resolved through this trait directly, each lookup
/// works on a clone of it.
impl Resolve for TokioResolver {
    fn resolve(&self, query: &Query<'_>) -> Answers {
        let once = Hickory {
            last: None,
            ..Hickory::built(self.clone())
        };
        once.resolve(query)
    }
}

/// A hickory configuration that could not be built into a resolver: every lookup fails
/// with hickory's error, once for both families.
pub(super) struct Unbuilt(pub(super) NetError);

impl Resolve for Unbuilt {
    fn resolve(&self, _: &Query<'_>) -> Answers {
        Answers::ready(Answer::failed(None, self.0.clone()))
    }
}

/// connie's default resolver: hickory, built from the system's configuration
/// (`/etc/resolv.conf` and `/etc/hosts` on Unix, the registry on Windows) at the first
/// lookup, once per process, so that every connector that uses it shares one cache.
///
/// A name that is not fully qualified goes through the configuration's search list, both
/// families from one of the names it stands for, as `getaddrinfo` chooses. If the
/// configuration cannot be loaded, it resolves with the operating system's `getaddrinfo`
/// ([`GetAddrInfo`]) instead and says so once with a `tracing` warning.
///
/// It needs no tokio runtime to be made; its lookups, as hickory's, need tokio's time
/// driver.
#[derive(Clone)]
pub struct SystemResolver {
    backend: Arc<OnceLock<Backend>>,
}

enum Backend {
    Hickory(Box<Hickory>),
    /// The system configuration could not be loaded.
    GetAddrInfo,
}

impl SystemResolver {
    /// The process's system resolver. Every one is the same: one configuration, one cache.
    pub fn new() -> SystemResolver {
        static SYSTEM: OnceLock<Arc<OnceLock<Backend>>> = OnceLock::new();
        SystemResolver {
            backend: Arc::clone(SYSTEM.get_or_init(Arc::default)),
        }
    }

    fn backend(&self) -> &Backend {
        self.backend.get_or_init(|| {
            // Reading the configuration fails with a `NetError` on Linux and a
            // `ProtoError` elsewhere: either is only logged.
            let system = match hickory_resolver::system_conf::read_system_conf() {
                Ok((config, options)) => Hickory::build(config, options).map_err(|e| e.to_string()),
                Err(error) => Err(error.to_string()),
            };
            match system {
                Ok(hickory) => Backend::Hickory(Box::new(hickory)),
                Err(error) => {
                    warn!(%error, "cannot load the system DNS configuration; using the system resolver (getaddrinfo) instead");
                    Backend::GetAddrInfo
                }
            }
        })
    }

    /// Whether this is the same resolver as `other`.
    #[cfg(test)]
    pub(super) fn same(&self, other: &SystemResolver) -> bool {
        Arc::ptr_eq(&self.backend, &other.backend)
    }
}

impl Default for SystemResolver {
    /// [`SystemResolver::new`].
    fn default() -> SystemResolver {
        SystemResolver::new()
    }
}

impl Resolve for SystemResolver {
    fn resolve(&self, query: &Query<'_>) -> Answers {
        match self.backend() {
            Backend::Hickory(hickory) => hickory.resolve(query),
            Backend::GetAddrInfo => GetAddrInfo.resolve(query),
        }
    }
}

impl fmt::Debug for SystemResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match self.backend.get() {
            None => "not loaded yet",
            Some(Backend::Hickory(_)) => "hickory",
            Some(Backend::GetAddrInfo) => "getaddrinfo",
        };
        f.debug_struct("SystemResolver")
            .field("backend", &backend)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The last plain name is kept and copied, with its final dot or without, as
    /// `name::parse` makes it; a name that is not plain is parsed each time, and a
    /// resolver made for one lookup keeps nothing.
    #[test]
    fn the_last_plain_name_is_kept() {
        let resolver = || {
            TokioResolver::builder_with_config(
                ResolverConfig::default(),
                TokioRuntimeProvider::default(),
            )
            .build()
            .unwrap()
        };
        let hickory = Hickory::built(resolver());
        let kept = |hickory: &Hickory| {
            let last = hickory.last.as_ref()?.lock().unwrap();
            last.as_ref().map(|(host, _)| host.to_string())
        };
        for (host, plain) in [
            ("a.example", true),
            ("a.example", false),
            ("a.example.", true),
        ] {
            let name = hickory.name(host, plain).unwrap();
            assert_eq!(name, name::parse(host, plain).unwrap(), "{host}");
            assert_eq!(name.is_fqdn(), host.ends_with('.'), "{host}");
            assert_eq!(kept(&hickory).as_deref(), Some(host));
        }
        let not_plain = "My_Host.example";
        assert_eq!(
            hickory.name(not_plain, false).unwrap(),
            name::parse(not_plain, false).unwrap()
        );
        assert_eq!(
            kept(&hickory).as_deref(),
            Some("a.example."),
            "not plain: not kept"
        );

        let once = Hickory {
            last: None,
            ..Hickory::built(resolver())
        };
        assert_eq!(
            once.name("a.example", true).unwrap(),
            name::parse("a.example", true).unwrap()
        );
        assert_eq!(kept(&once), None);
    }
}
