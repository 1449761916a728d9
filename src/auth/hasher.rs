//! Argon2id password hashing on a fixed set of dedicated threads (one per core by default):
//! a burst of log-ons queues instead of starving every other request, and a thread that
//! finishes a hash takes the next one at once.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use std::sync::{mpsc, Mutex};

use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

use super::legacy::{self, Scheme};

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Wrong password, unknown account, or no password at all.
    No,
    /// Right password; `rehash` holds a new hash when the stored one used older parameters.
    Yes {
        /// A hash at the current parameters, to store in place of the old one.
        rehash: Option<String>,
    },
}

/// Hashes and verifies passwords with fixed Argon2id parameters and an optional pepper.
#[derive(Clone)]
pub struct Hasher {
    jobs: mpsc::Sender<Job>,
    /// Credential verifications started (log-on guesses), for metrics and tests.
    verifications: Arc<AtomicU64>,
    /// Jobs waiting or running, and time spent hashing, for metrics.
    load: Arc<Load>,
    /// The Argon2id memory, iterations and lanes, when no pepper is configured: an imported
    /// hash of exactly these is verified as one made here.
    unpeppered: Option<(u32, u32, u32)>,
}

/// What the hashing threads are doing, for metrics.
#[derive(Debug, Default)]
struct Load {
    jobs: AtomicI64,
    nanos: AtomicU64,
}

/// One job counted in the queue depth until its caller has the answer or gave up.
struct Queued<'a>(&'a AtomicI64);

impl<'a> Queued<'a> {
    fn enter(jobs: &'a AtomicI64) -> Queued<'a> {
        jobs.fetch_add(1, Ordering::Relaxed);
        Queued(jobs)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A snapshot of the hasher's work, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HashStats {
    /// Credential verifications started since start.
    pub verifications: u64,
    /// Hashing jobs (hashes and verifications) waiting for a thread or running.
    pub queued: i64,
    /// Time the threads spent hashing since start, nanoseconds.
    pub busy_nanos: u64,
}

/// Work for a hashing thread.
type Job = Box<dyn FnOnce(&Inner) + Send>;

struct Inner {
    params: Params,
    pepper: Option<Vec<u8>>,
    /// Argon2 memory, reused: one buffer per concurrent hash at most.
    buffers: Mutex<Vec<Vec<Block>>>,
    /// A hash of a random password: verifying against it costs what a real verification costs.
    dummy: String,
}

/// Hashing failed (invalid parameters, a task that panicked): never the user's fault.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

impl Hasher {
    /// A hasher with the given Argon2id cost, pepper and concurrency.
    pub fn new(
        memory_kib: u32,
        iterations: u32,
        lanes: u32,
        pepper: Option<Vec<u8>>,
        concurrency: usize,
    ) -> Result<Hasher, HashError> {
        let params = Params::new(memory_kib, iterations, lanes, None)
            .map_err(|e| HashError(e.to_string()))?;
        let unpeppered = pepper.is_none().then_some((memory_kib, iterations, lanes));
        let mut inner = Inner {
            params,
            pepper,
            buffers: Mutex::default(),
            dummy: String::new(),
        };
        inner.dummy = inner.hash(&super::random_token(24))?;
        let inner = Arc::new(inner);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..concurrency.max(1) {
            let (inner, queue) = (inner.clone(), queue.clone());
            std::thread::Builder::new()
                .name(format!("roster-hash-{n}"))
                .spawn(move || work(&inner, &queue))
                .map_err(|e| HashError(e.to_string()))?;
        }
        Ok(Hasher {
            jobs,
            verifications: Arc::default(),
            load: Arc::default(),
            unpeppered,
        })
    }

    /// Whether an imported PHC string is exactly what this hasher makes (Argon2id, version
    /// 19, the same costs, and no pepper configured): it is then stored as one of its own.
    pub fn is_own_form(&self, phc: &str) -> bool {
        let Some(own) = self.unpeppered else {
            return false;
        };
        PasswordHash::new(phc).is_ok_and(|parsed| {
            parsed.algorithm == argon2::ARGON2ID_IDENT
                && parsed.version == Some(0x13)
                && parsed.salt.is_some()
                && parsed.hash.is_some()
                && Params::try_from(&parsed)
                    .is_ok_and(|p| (p.m_cost(), p.t_cost(), p.p_cost()) == own)
        })
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = password.to_owned();
        self.run(move |inner| inner.hash(&password)).await?
    }

    /// Verifies `password` against `hash`; with no hash, against the dummy so that the time
    /// taken says nothing about whether the account exists.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<Verified, HashError> {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let password = password.to_owned();
        let hash = hash.map(str::to_owned);
        self.run(move |inner| Ok(inner.verify(&password, hash.as_deref())))
            .await?
    }

    /// How many verifications were started since the hasher was made.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Verifications, queue depth and time spent, for metrics.
    pub fn stats(&self) -> HashStats {
        HashStats {
            verifications: self.verifications(),
            queued: self.load.jobs.load(Ordering::Relaxed),
            busy_nanos: self.load.nanos.load(Ordering::Relaxed),
        }
    }

    /// Whether `password` matches any of `hashes` (the history rule); one verification each.
    pub async fn matches_any(
        &self,
        password: &str,
        hashes: Vec<String>,
    ) -> Result<bool, HashError> {
        let password = password.to_owned();
        self.run(move |inner| {
            Ok(hashes
                .iter()
                .any(|h| inner.verify(&password, Some(h)) != Verified::No))
        })
        .await?
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Inner) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (done, result) = oneshot::channel();
        let load = self.load.clone();
        let job: Job = Box::new(move |inner| {
            let start = std::time::Instant::now();
            let _ = done.send(job(inner));
            let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            load.nanos.fetch_add(nanos, Ordering::Relaxed);
        });
        let stopped = || HashError("the hashing threads have stopped".into());
        let _queued = Queued::enter(&self.load.jobs);
        self.jobs.send(job).map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())
    }
}

/// A hashing thread: takes the next job as soon as it is free; ends with the last `Hasher`.
fn work(inner: &Inner, queue: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(job) = next else { return };
        // A panicking job drops its reply channel (the caller gets an error); the thread
        // stays in service.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(inner)));
    }
}

impl Inner {
    fn argon2(
        &self,
        algorithm: Algorithm,
        version: Version,
        params: Params,
    ) -> Result<Argon2<'_>, HashError> {
        match &self.pepper {
            Some(secret) => Argon2::new_with_secret(secret, algorithm, version, params)
                .map_err(|e| HashError(e.to_string())),
            None => Ok(Argon2::new(algorithm, version, params)),
        }
    }

    /// Runs Argon2 into `out` with a memory buffer taken from the pool and given back after:
    /// at most one buffer per hashing thread (plus the one for the dummy hash at start), as
    /// fresh 19 MiB allocations per hash would pile up in the allocator's arenas.
    fn compute(
        &self,
        argon2: &Argon2<'_>,
        params: &Params,
        password: &str,
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), HashError> {
        let mut buffer = self
            .buffers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        buffer.resize(params.block_count(), Block::default());
        let result =
            argon2.hash_password_into_with_memory(password.as_bytes(), salt, out, &mut buffer);
        self.buffers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(buffer);
        result.map_err(|e| HashError(e.to_string()))
    }

    fn hash(&self, password: &str) -> Result<String, HashError> {
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt
            .decode_b64(&mut salt_bytes)
            .map_err(|e| HashError(e.to_string()))?;
        let mut out = [0u8; 32];
        let argon2 = self.argon2(Algorithm::Argon2id, Version::V0x13, self.params.clone())?;
        self.compute(&argon2, &self.params, password, salt_bytes, &mut out)?;
        let hash = PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(|e| HashError(e.to_string()))?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(&out).map_err(|e| HashError(e.to_string()))?),
        };
        Ok(hash.to_string())
    }

    /// Whether `password` produces the stored hash (constant-time comparison).
    fn matches(&self, password: &str, parsed: &PasswordHash<'_>) -> Option<bool> {
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = Version::try_from(parsed.version.unwrap_or(0x13)).ok()?;
        let params = Params::try_from(parsed).ok()?;
        let expected = parsed.hash?;
        let mut salt = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
        let mut out = vec![0u8; expected.len()];
        let argon2 = self.argon2(algorithm, version, params.clone()).ok()?;
        self.compute(&argon2, &params, password, salt, &mut out)
            .ok()?;
        Some(Output::new(&out).ok()? == expected)
    }

    fn verify(&self, password: &str, hash: Option<&str>) -> Verified {
        match hash.map(legacy::scheme) {
            None | Some(Scheme::Native) => self.verify_native(password, hash),
            Some(scheme) => {
                let stored = hash.unwrap_or_default();
                let ok = match scheme {
                    Scheme::Argon2 => self.matches_foreign_argon2(password, stored),
                    _ => legacy::verify_bcrypt_or_pbkdf2(password, stored),
                };
                if !ok {
                    return Verified::No;
                }
                // Always upgraded: an imported hash has no pepper and another server's cost.
                Verified::Yes {
                    rehash: self.hash(password).ok(),
                }
            }
        }
    }

    /// An imported Argon2 hash, checked without the pepper (the server that made it had
    /// none of ours).
    fn matches_foreign_argon2(&self, password: &str, stored: &str) -> bool {
        let phc = stored
            .strip_prefix(legacy::FOREIGN_ARGON2)
            .unwrap_or(stored);
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        let check = || -> Option<bool> {
            let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
            let version = Version::try_from(parsed.version.unwrap_or(0x13)).ok()?;
            let params = Params::try_from(&parsed).ok()?;
            let expected = parsed.hash?;
            let mut salt = [0u8; 64];
            let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
            let mut out = vec![0u8; expected.len()];
            let argon2 = Argon2::new(algorithm, version, params.clone());
            self.compute(&argon2, &params, password, salt, &mut out)
                .ok()?;
            Some(Output::new(&out).ok()? == expected)
        };
        check().unwrap_or(false)
    }

    fn verify_native(&self, password: &str, hash: Option<&str>) -> Verified {
        let real = hash.is_some();
        let Ok(parsed) = PasswordHash::new(hash.unwrap_or(&self.dummy)) else {
            // Keep the time of a real verification even for a corrupt stored hash.
            let _ = self.verify_native(password, None);
            return Verified::No;
        };
        // Always computed, dummy or not: the time must not tell whether the account exists.
        let ok = self.matches(password, &parsed).unwrap_or(false);
        if !(ok && real) {
            return Verified::No;
        }
        let current = parsed.algorithm == argon2::ARGON2ID_IDENT
            && Params::try_from(&parsed).is_ok_and(|p| {
                (p.m_cost(), p.t_cost(), p.p_cost())
                    == (
                        self.params.m_cost(),
                        self.params.t_cost(),
                        self.params.p_cost(),
                    )
            });
        Verified::Yes {
            rehash: if current {
                None
            } else {
                self.hash(password).ok()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(memory: u32) -> Hasher {
        Hasher::new(memory, 2, 1, None, 2).unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hasher(19456);
        let hash = h.hash("S3cret!pw").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(
            h.verify("S3cret!pw", Some(&hash)).await.unwrap(),
            Verified::Yes { rehash: None }
        );
        assert_eq!(h.verify("wrong", Some(&hash)).await.unwrap(), Verified::No);
    }

    #[tokio::test]
    async fn no_hash_never_verifies() {
        assert_eq!(
            hasher(19456).verify("anything", None).await.unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn a_hash_of_older_parameters_is_upgraded() {
        let old = hasher(19456).hash("S3cret!pw").await.unwrap();
        let Verified::Yes { rehash: Some(new) } =
            hasher(20000).verify("S3cret!pw", Some(&old)).await.unwrap()
        else {
            panic!("expected a rehash");
        };
        assert!(new.contains("m=20000"));
    }

    #[tokio::test]
    async fn an_imported_argon2_hash_is_checked_without_the_pepper_and_upgraded() {
        let elsewhere = hasher(19456);
        let made = elsewhere.hash("S3cret!pw").await.unwrap();
        let peppered = Hasher::new(19456, 2, 1, Some(b"pepper".to_vec()), 1).unwrap();
        assert!(elsewhere.is_own_form(&made));
        assert!(
            !peppered.is_own_form(&made),
            "a peppered server cannot take it as its own"
        );
        assert!(
            !hasher(20000).is_own_form(&made),
            "nor one of other parameters"
        );
        let stored = format!("{}{made}", legacy::FOREIGN_ARGON2);
        assert_eq!(
            peppered.verify("S3cret!px", Some(&stored)).await.unwrap(),
            Verified::No
        );
        let Verified::Yes { rehash: Some(new) } =
            peppered.verify("S3cret!pw", Some(&stored)).await.unwrap()
        else {
            panic!("expected an upgrade");
        };
        assert_eq!(
            peppered.verify("S3cret!pw", Some(&new)).await.unwrap(),
            Verified::Yes { rehash: None }
        );
        assert_eq!(
            elsewhere.verify("S3cret!pw", Some(&new)).await.unwrap(),
            Verified::No,
            "the new hash is peppered"
        );
    }

    #[tokio::test]
    async fn a_pepper_changes_the_hash() {
        let peppered = Hasher::new(19456, 2, 1, Some(b"pepper".to_vec()), 1).unwrap();
        let hash = peppered.hash("S3cret!pw").await.unwrap();
        assert_eq!(
            hasher(19456)
                .verify("S3cret!pw", Some(&hash))
                .await
                .unwrap(),
            Verified::No
        );
        assert!(matches!(
            peppered.verify("S3cret!pw", Some(&hash)).await.unwrap(),
            Verified::Yes { .. }
        ));
    }
}
