// A small seeded PRNG (sfc32) whose whole state is a JSON array of four uint32s, so it can live inside
// searcher state and be saved after every step. Functions mutate the array they are given.

/** sfc32 state: four unsigned 32-bit integers. Plain JSON. */
export type RngState = [number, number, number, number];

/** Seeds a generator from any finite number (the fractional part is ignored). */
export function seedRng(seed: number): RngState {
  // splitmix32 expands the seed into four well-mixed words.
  let s = Math.trunc(seed) >>> 0;
  const next = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  const st: RngState = [next(), next(), next(), next()];
  // Warm up so that nearby seeds diverge.
  for (let i = 0; i < 12; i++) nextUint32(st);
  return st;
}

export function nextUint32(st: RngState): number {
  let [a, b, c, d] = st;
  const t = (((a + b) >>> 0) + d) >>> 0;
  d = (d + 1) >>> 0;
  a = b ^ (b >>> 9);
  b = (c + (c << 3)) >>> 0;
  c = ((c << 21) | (c >>> 11)) >>> 0;
  c = (c + t) >>> 0;
  st[0] = a >>> 0;
  st[1] = b >>> 0;
  st[2] = c;
  st[3] = d;
  return t;
}

/** Uniform in [0, 1) with 53 bits of precision. */
export function nextFloat(st: RngState): number {
  const hi = nextUint32(st) >>> 5;
  const lo = nextUint32(st) >>> 6;
  return (hi * 67108864 + lo) / 9007199254740992;
}

/** Uniform integer in [0, n). */
export function nextInt(st: RngState, n: number): number {
  if (n <= 1) return 0;
  return Math.min(n - 1, Math.floor(nextFloat(st) * n));
}

/** Standard normal (Box-Muller, one value per call). */
export function nextNormal(st: RngState): number {
  let u = nextFloat(st);
  while (u <= 0) u = nextFloat(st);
  const v = nextFloat(st);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** A non-negative 31-bit seed for a trial. */
export function nextSeed(st: RngState): number {
  return nextUint32(st) & 0x7fffffff;
}
