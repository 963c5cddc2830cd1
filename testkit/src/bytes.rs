//! Deterministic pseudo-random test bytes, incompressible enough that a
//! tunnel or a transfer cannot pass them by luck: the same seed gives the
//! same bytes on every run, so a failure can be replayed.

/// `len` deterministic pseudo-random bytes (xorshift64*), incompressible enough
/// that a tunnel cannot pass them by luck.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Deterministic pseudo-random bytes (xorshift), different per `seed`.
pub fn named(seed: &str, len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for b in seed.bytes() {
        x = (x ^ u64::from(b)).wrapping_mul(0x1000_0000_01B3);
    }
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}
