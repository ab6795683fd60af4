/** Small seeded PRNG helpers so the generated workload is identical for a given (N, seed). */

/** mulberry32: fast, 32-bit state, good enough for workload shaping (not for crypto). */
export function createRandom(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = (items) => items[Math.floor(next() * items.length)];
  const chance = (p) => next() < p;
  const hex = (chars) => {
    let out = '';
    while (out.length < chars) out += ((next() * 4294967296) >>> 0).toString(16).padStart(8, '0');
    return out.slice(0, chars);
  };
  /** Log-normal around `median` with shape `sigma`: latencies and token counts have long right tails. */
  const logNormal = (median, sigma) => {
    const u = Math.max(next(), 1e-12);
    const v = next();
    const gaussian = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return median * Math.exp(sigma * gaussian);
  };
  const uuid = () => {
    const h = hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  };
  return { next, int, pick, chance, hex, logNormal, uuid };
}
